"""Open311 GeoReport v2: the inputs (query strings and form bodies) and the W3C timestamps."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import marshmallow as ma
from marshmallow import fields, validate

MAX_PAGE_SIZE = 1000
DESCRIPTION_MAX = 4000


def w3c(value: datetime | None) -> str | None:
    """A timestamp in the spec's W3C/ISO 8601 form, with its time zone (UTC)."""
    if value is None:
        return None
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    return value.isoformat(timespec="seconds")


def parse_w3c(raw: str) -> datetime:
    """A timestamp from ISO 8601; a value without a time zone is taken as UTC."""
    value = datetime.fromisoformat(raw.strip())
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class W3CDateTime(fields.Field):
    """An ISO 8601 timestamp (``2010-01-01T00:00:00Z``), read as an aware UTC datetime."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> datetime:
        try:
            return parse_w3c(str(value))
        except ValueError as exc:
            raise ma.ValidationError(
                f"{value!r} is not an ISO 8601 date-time, e.g. 2026-01-31T00:00:00Z"
            ) from exc


class CommaList(fields.Field):
    """A comma separated list (``a,b,c``), empty items dropped."""

    def __init__(self, *, choices: Sequence[str] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.choices = choices

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> list[str]:
        items = [item.strip() for item in str(value).split(",") if item.strip()]
        if len(items) > MAX_PAGE_SIZE:
            raise ma.ValidationError(f"at most {MAX_PAGE_SIZE} values")
        if self.choices is not None:
            wrong = [item for item in items if item not in self.choices]
            if wrong:
                raise ma.ValidationError(
                    f"{', '.join(wrong)} not allowed; use {' or '.join(self.choices)}"
                )
        return items


def _finite(value: float) -> None:
    if not math.isfinite(value):
        raise ma.ValidationError("must be a finite number")


class _Open311Schema(ma.Schema):
    class Meta:
        # jurisdiction_id, api_key, lang and the attribute[...] fields are read elsewhere.
        unknown = ma.EXCLUDE

    @ma.pre_load
    def _drop_empty(self, data: Any, **_kwargs: Any) -> dict[str, Any]:
        # "A null parameter should be treated as equivalent to a non-declared parameter."
        items = data.items() if isinstance(data, Mapping) else []
        return {key: value for key, value in items if value not in (None, "")}


class RequestsQuerySchema(_Open311Schema):
    """GET requests: filters and the common ``page`` / ``page_size`` extension."""

    service_request_id = CommaList(load_default=None)
    service_code = CommaList(load_default=None)
    start_date = W3CDateTime(load_default=None)
    end_date = W3CDateTime(load_default=None)
    status = CommaList(choices=("open", "closed"), load_default=None)
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100_000))
    page_size = fields.Integer(
        load_default=MAX_PAGE_SIZE, validate=validate.Range(min=1, max=MAX_PAGE_SIZE)
    )


class UpdatesQuerySchema(_Open311Schema):
    """GET servicerequestupdates (mySociety extension): a window of update times."""

    start_date = W3CDateTime(load_default=None)
    end_date = W3CDateTime(load_default=None)
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100_000))
    page_size = fields.Integer(
        load_default=MAX_PAGE_SIZE, validate=validate.Range(min=1, max=MAX_PAGE_SIZE)
    )


class RequestCreateSchema(_Open311Schema):
    """POST requests, form-encoded. Attribute values (``attribute[code]``) are read apart."""

    service_code = fields.String(required=True, validate=validate.Length(max=64))
    lat = fields.Float(
        load_default=None, allow_nan=False, validate=[validate.Range(-90, 90), _finite]
    )
    long = fields.Float(
        load_default=None, allow_nan=False, validate=[validate.Range(-180, 180), _finite]
    )
    address_string = fields.String(load_default=None, validate=validate.Length(max=500))
    address_id = fields.String(load_default=None, validate=validate.Length(max=200))
    email = fields.String(load_default=None, validate=validate.Length(max=254))
    phone = fields.String(load_default=None, validate=validate.Length(max=40))
    device_id = fields.String(load_default=None, validate=validate.Length(max=200))
    account_id = fields.String(load_default=None, validate=validate.Length(max=200))
    first_name = fields.String(load_default=None, validate=validate.Length(max=100))
    last_name = fields.String(load_default=None, validate=validate.Length(max=100))
    description = fields.String(load_default=None, validate=validate.Length(max=DESCRIPTION_MAX))
    media_url = fields.Url(
        load_default=None, schemes={"http", "https"}, validate=validate.Length(max=2000)
    )

    @ma.validates_schema
    def _location(self, data: dict[str, Any], **_kwargs: Any) -> None:
        has_lat, has_long = data.get("lat") is not None, data.get("long") is not None
        if has_lat != has_long:
            raise ma.ValidationError("lat and long must be sent together", field_name="lat")
        if not has_lat and not data.get("address_string") and not data.get("address_id"):
            raise ma.ValidationError(
                "a location is required: lat and long, or address_string, or address_id",
                field_name="location",
            )


class UpdateCreateSchema(_Open311Schema):
    """POST servicerequestupdates (mySociety extension): a back-office status update."""

    service_request_id = fields.String(required=True, validate=validate.Length(max=32))
    update_id = fields.String(required=True, validate=validate.Length(min=1, max=128))
    status = fields.String(required=True, validate=validate.Length(max=64))
    updated_datetime = W3CDateTime(required=True)
    description = fields.String(load_default="", validate=validate.Length(max=DESCRIPTION_MAX))
    media_url = fields.Url(
        load_default=None, schemes={"http", "https"}, validate=validate.Length(max=2000)
    )


def validation_messages(error: ma.ValidationError) -> list[str]:
    """Flatten marshmallow's messages into one human sentence per problem."""
    messages = error.messages if isinstance(error.messages, dict) else {"_": error.messages}
    out: list[str] = []
    for name, problems in messages.items():
        items = problems if isinstance(problems, list) else [problems]
        for problem in items:
            text = problem if isinstance(problem, str) else json.dumps(problem)
            out.append(text if name in ("_", "_schema", "location") else f"{name}: {text}")
    return out
