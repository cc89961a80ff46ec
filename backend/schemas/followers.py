"""Schemas of the duplicates shown before filing, and of following a report."""

from __future__ import annotations

import math

import marshmallow as ma
from marshmallow import fields, validate

NEARBY_DEFAULT_RADIUS_M = 150
NEARBY_MAX_RADIUS_M = 500


def _finite(value: float) -> None:
    if not math.isfinite(value):
        raise ma.ValidationError("Must be a finite number.")


class NearbyQuerySchema(ma.Schema):
    """Where, and which category."""

    class Meta:
        unknown = ma.RAISE

    lat = fields.Float(required=True, allow_nan=False, validate=[validate.Range(-90, 90), _finite])
    lon = fields.Float(
        required=True, allow_nan=False, validate=[validate.Range(-180, 180), _finite]
    )
    service_code = fields.String(required=True, validate=validate.Length(min=1, max=64))
    radius_m = fields.Integer(
        load_default=NEARBY_DEFAULT_RADIUS_M,
        validate=validate.Range(min=10, max=NEARBY_MAX_RADIUS_M),
        metadata={"description": "Search radius in metres (10 to 500, 150 by default)."},
    )
    lang = fields.String(load_default="fr", validate=validate.OneOf(["fr", "en"]))


class NearbyReportSchema(ma.Schema):
    """An open report nearby, privacy-safe: no position, no personal data, scrubbed text only."""

    tracking_id = fields.String()
    service_code = fields.String()
    service_name = fields.String()
    status = fields.String()
    created_at = fields.DateTime(metadata={"description": "When it was reported (UTC)."})
    distance_m = fields.Integer(metadata={"description": "Distance, rounded to 10 m."})
    followers = fields.Integer(metadata={"description": "Residents following it (+1s)."})
    description_excerpt = fields.String(
        allow_none=True,
        metadata={"description": "The start of its scrubbed description; null until scrubbed."},
    )


class FollowSchema(ma.Schema):
    """Follow a report: an e-mail to be told of its progress (optional), or a +1 only."""

    class Meta:
        unknown = ma.RAISE

    email = fields.Email(load_default=None, allow_none=True, validate=validate.Length(max=254))
    consent = fields.Boolean(
        load_default=False,
        metadata={
            "description": "Agree to be e-mailed when its status changes; without it the "
            "e-mail is not kept and the follow is a +1 only."
        },
    )
    language = fields.String(load_default="fr", validate=validate.OneOf(["fr", "en"]))

    @ma.post_load
    def _email_only_with_consent(self, data: dict[str, object], **_kwargs: object) -> dict:
        # An e-mail nobody agreed to be written to is not kept: the follow is a +1 only.
        if not data.get("consent"):
            data["email"] = None
        return data


class FollowedSchema(ma.Schema):
    """The report's followers count after this follow, and whether this one is e-mailed."""

    followers = fields.Integer()
    notifications = fields.Boolean(
        metadata={"description": "True when an e-mail was given with the consent: kept, notified."}
    )


class StreetQuerySchema(ma.Schema):
    """What the resident typed."""

    class Meta:
        unknown = ma.RAISE

    q = fields.String(required=True, validate=validate.Length(min=2, max=200))
    limit = fields.Integer(load_default=10, validate=validate.Range(min=1, max=50))


class StreetSchema(ma.Schema):
    """A street of the gazetteer and its representative point."""

    name = fields.String()
    district = fields.String(allow_none=True)
    area_code = fields.String(allow_none=True)
    lat = fields.Float()
    lon = fields.Float()
