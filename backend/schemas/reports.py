"""Schemas of the report resources."""

from __future__ import annotations

import math
from typing import Any

import marshmallow as ma
from flask_smorest.fields import Upload
from marshmallow import fields, validate

from backend.services.contacts import normalise_phone

DESCRIPTION_MAX = 4000


# A pattern rather than a function, so that the OpenAPI document states the rule too.
NOT_BLANK = validate.Regexp(r"^\s*\S", error="The description cannot be empty or only spaces.")


def _finite(value: float) -> None:
    if not math.isfinite(value):
        raise ma.ValidationError("Must be a finite number.")


class ContactSchema(ma.Schema):
    """How to reach the resident (optional, stored apart and encrypted)."""

    email = fields.Email(load_default=None, allow_none=True, validate=validate.Length(max=254))
    phone = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=40))
    consent_notifications = fields.Boolean(
        load_default=False,
        metadata={"description": "The resident agrees to receive status updates."},
    )

    @ma.validates("phone")
    def _check_phone(self, value: str | None, **_kwargs: Any) -> None:
        if value:
            try:
                normalise_phone(value)
            except ValueError as exc:
                raise ma.ValidationError(str(exc)) from exc

    @ma.post_load
    def _normalise(self, data: dict[str, Any], **_kwargs: Any) -> dict[str, Any]:
        if data.get("phone"):
            data["phone"] = normalise_phone(data["phone"])
        if data.get("email"):
            data["email"] = data["email"].strip()
        return data


class ReportCreateSchema(ma.Schema):
    """A new report, as JSON or as multipart form fields (with a ``photo`` file part).

    In a multipart form, the contact is given as ``contact_email``, ``contact_phone`` and
    ``contact_consent_notifications``.
    """

    class Meta:
        ordered = True

    description = fields.String(
        required=True,
        validate=[validate.Length(min=1, max=DESCRIPTION_MAX), NOT_BLANK],
        metadata={"description": "What is wrong, in the resident's words (1 to 4,000 characters)."},
    )
    lat = fields.Float(
        load_default=None,
        allow_none=True,
        allow_nan=False,
        validate=[validate.Range(min=-90, max=90), _finite],
    )
    lon = fields.Float(
        load_default=None,
        allow_none=True,
        allow_nan=False,
        validate=[validate.Range(min=-180, max=180), _finite],
    )
    address = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=500))
    service_code = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Length(max=64),
        metadata={"description": "The resident's own category hint, from the catalogue."},
    )
    language = fields.String(
        load_default=None,
        allow_none=True,
        # At most 8 characters: the column's size (fr, en, fr-FR, zh-Hant...).
        validate=[validate.Regexp(r"^[a-zA-Z]{2,3}(-[a-zA-Z0-9]{2,8})?$"), validate.Length(max=8)],
        metadata={"description": "BCP 47 language tag of the description, e.g. fr or en."},
    )
    contact = fields.Nested(ContactSchema, load_default=None, allow_none=True)

    @ma.pre_load
    def _from_form(self, data: Any, **_kwargs: Any) -> Any:
        if hasattr(data, "getlist"):  # a form (MultiDict): one value a field
            # An empty field means "not given", as null does in JSON (an empty description
            # stays empty, to be refused as such).
            data = {k: data.get(k) for k in data}
            data = {k: (None if v == "" and k != "description" else v) for k, v in data.items()}
        elif not isinstance(data, dict):
            return data  # marshmallow answers "Invalid input type"
        else:
            data = dict(data)
        flat = {k: data.pop(k) for k in list(data) if str(k).startswith("contact_")}
        if flat:
            contact = {k.removeprefix("contact_"): v for k, v in flat.items()}
            data["contact"] = {k: v for k, v in contact.items() if v is not None}
        for key in ("lat", "lon", "address", "service_code", "language"):
            if data.get(key) == "":
                data[key] = None
        return data

    @ma.validates_schema
    def _position(self, data: dict[str, Any], **_kwargs: Any) -> None:
        has_lat, has_lon = data.get("lat") is not None, data.get("lon") is not None
        if has_lat != has_lon:
            raise ma.ValidationError("Give both lat and lon, or neither.", field_name="lat")
        if not has_lat and not (data.get("address") or "").strip():
            raise ma.ValidationError(
                "Give a position (lat and lon) or an address.", field_name="_schema"
            )

    @ma.post_load
    def _lower(self, data: dict[str, Any], **_kwargs: Any) -> dict[str, Any]:
        if data.get("language"):
            data["language"] = data["language"].lower()
        return data


def _form_fields() -> dict[str, fields.Field]:
    own = {k: v for k, v in ReportCreateSchema._declared_fields.items() if k != "contact"}
    contact = {f"contact_{k}": v for k, v in ContactSchema._declared_fields.items()}
    return {**own, **contact}


# The report as form fields (urlencoded; multipart with a photo part), for the OpenAPI
# document: ReportCreateSchema's fields with the contact flat. Loading is ReportCreateSchema's
# (its ``_from_form``), so the rules stay in one place.
ReportFormSchema = ma.Schema.from_dict(_form_fields(), name="ReportForm")
ReportMultipartSchema = ma.Schema.from_dict(
    {
        **_form_fields(),
        "photo": Upload(metadata={"description": "JPEG, PNG or WebP, judged from its bytes."}),
    },
    name="ReportMultipart",
)


class IdempotencyHeaderSchema(ma.Schema):
    """The optional ``Idempotency-Key`` header: a retry with the same key creates nothing."""

    class Meta:
        unknown = ma.EXCLUDE

    idempotency_key = fields.String(
        data_key="Idempotency-Key",
        load_default=None,
        validate=validate.Length(min=1, max=255),
        metadata={"description": "A unique key per report, reused on retries (24 h)."},
    )


class ReportCreatedSchema(ma.Schema):
    """The answer to a new report."""

    tracking_id = fields.String(required=True)
    token = fields.String(
        required=True,
        metadata={
            "description": "The resident's token, given only here: the tracking_url carries "
            "it; it shows the resident their own text, photo and history. Keep it private."
        },
    )
    tracking_url = fields.String(required=True)
    api_url = fields.String(required=True)
    status = fields.String(required=True)
    created_at = fields.DateTime(required=True)


class ReportUpdateSchema(ma.Schema):
    """One step of the public history."""

    status = fields.String()
    public_note = fields.String(allow_none=True)
    created_at = fields.DateTime()


class ReportPublicSchema(ma.Schema):
    """What anyone holding the tracking id may see: no personal data."""

    tracking_id = fields.String()
    status = fields.String()
    service_code = fields.String(allow_none=True)
    service_name = fields.String(allow_none=True)
    area_code = fields.String(allow_none=True)
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    closed_at = fields.DateTime(allow_none=True)
    # Only with the resident's token (``?t=``); absent otherwise.
    description_public = fields.String(allow_none=True)
    photo_url = fields.String(allow_none=True)
    history = fields.List(fields.Nested(ReportUpdateSchema))


class TrackingQuerySchema(ma.Schema):
    """The tracking resource's query: the resident's token, optional."""

    class Meta:
        unknown = ma.EXCLUDE

    t = fields.String(
        load_default=None,
        validate=validate.Length(max=128),
        metadata={"description": "The resident's token (from the intake's answer)."},
    )


class ServiceSchema(ma.Schema):
    """A service of the catalogue."""

    code = fields.String()
    name_fr = fields.String()
    name_en = fields.String()
    department = fields.String()
    target_days = fields.Integer()
    about_people = fields.Boolean()
