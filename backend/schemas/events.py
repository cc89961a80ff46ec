"""Schemas of the event resources (analysts, supervisors, admins).

The rules of an event (kinds, times, exactly one kind of place, radius bounds, a valid
polygon) are ``backend.services.events``' own: the schemas call them, so the API, the staff
forms and the calendar import refuse the same things with the same words.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import marshmallow as ma
from flask import current_app
from marshmallow import ValidationError, fields, post_load, validate, validates_schema

from backend.services.events import (
    EVENT_KINDS,
    MAX_ATTENDANCE,
    MAX_RADIUS_M,
    MIN_RADIUS_M,
    EventError,
    check_event,
    check_geometry,
    local_to_utc,
)

TIME_HELP = "ISO 8601; a time without an offset is read in the city's time zone (Europe/Paris)."


def _tz() -> str:
    return str(current_app.config["PUBLIC_TIMEZONE"])


def _utc(value: datetime, field: str) -> datetime:
    try:
        return local_to_utc(value, _tz(), field)
    except EventError as exc:
        raise ValidationError(exc.message, field) from exc


class ResourceSchema(ma.Schema):
    """What was deployed in one hour."""

    hour = fields.DateTime(
        required=True, metadata={"description": "The hour's start. " + TIME_HELP}
    )
    agents = fields.Integer(allow_none=True, load_default=None, validate=validate.Range(min=0))
    barriers = fields.Integer(allow_none=True, load_default=None, validate=validate.Range(min=0))

    @post_load
    def _utc(self, data: dict[str, Any], **_kw: Any) -> dict[str, Any]:
        data["hour"] = _utc(data["hour"], "hour")
        if data["hour"].minute or data["hour"].second or data["hour"].microsecond:
            raise ValidationError("an hour starts on the hour (e.g. 21:00)", "hour")
        if data["agents"] is None and data["barriers"] is None:
            raise ValidationError("give agents or barriers", "agents")
        return data


class EventSummarySchema(ma.Schema):
    """An event and its place: a point with a radius, a polygon, or areas."""

    id = fields.Integer(dump_only=True)
    name = fields.String(required=True, validate=validate.Length(min=1, max=300))
    kind = fields.String(required=True, validate=validate.OneOf(EVENT_KINDS))
    starts_at = fields.DateTime(required=True, metadata={"description": TIME_HELP})
    ends_at = fields.DateTime(
        required=True, metadata={"description": "After starts_at. " + TIME_HELP}
    )
    lat = fields.Float(allow_none=True, load_default=None, validate=validate.Range(min=-90, max=90))
    lon = fields.Float(
        allow_none=True, load_default=None, validate=validate.Range(min=-180, max=180)
    )
    radius_m = fields.Float(
        allow_none=True,
        load_default=None,
        validate=validate.Range(min=MIN_RADIUS_M, max=MAX_RADIUS_M),
        metadata={"description": "Metres around the point (with lat and lon only)."},
    )
    geometry = fields.Dict(
        allow_none=True,
        load_default=None,
        metadata={"description": "A GeoJSON Polygon or MultiPolygon in WGS84 degrees."},
    )
    area_codes = fields.List(
        fields.String(validate=validate.Length(min=1, max=64)),
        load_default=list,
        validate=validate.Length(max=200),
    )
    expected_attendance = fields.Integer(
        allow_none=True, load_default=None, validate=validate.Range(min=0, max=MAX_ATTENDANCE)
    )
    notes = fields.String(allow_none=True, load_default=None, validate=validate.Length(max=2000))
    source = fields.String(dump_only=True)
    external_id = fields.String(dump_only=True, allow_none=True)
    created_at = fields.DateTime(dump_only=True)
    updated_at = fields.DateTime(dump_only=True)

    @validates_schema
    def _place_and_times(self, data: dict[str, Any], partial: Any = None, **_kw: Any) -> None:
        if data.get("geometry") is not None:
            try:
                check_geometry(data["geometry"])
            except EventError as exc:
                raise ValidationError(exc.message, "geometry") from exc
        if partial:
            return  # a PATCH is checked whole, with the stored event, by the service
        values = dict(data)
        for key in ("starts_at", "ends_at"):
            if isinstance(values.get(key), datetime):
                values[key] = _utc(values[key], key)
        try:
            check_event(values)
        except EventError as exc:
            raise ValidationError(exc.message, exc.field) from exc

    @post_load
    def _utc(self, data: dict[str, Any], **_kw: Any) -> dict[str, Any]:
        for key in ("starts_at", "ends_at"):
            if isinstance(data.get(key), datetime):
                data[key] = _utc(data[key], key)
        return data


class EventSchema(EventSummarySchema):
    """An event with what was deployed for it."""

    resources = fields.List(
        fields.Nested(ResourceSchema),
        load_default=None,
        validate=validate.Length(max=24 * 62),
        metadata={
            "description": "What was deployed, hour by hour; given, it replaces the stored list."
        },
    )


class EventPatchSchema(EventSchema):
    """A partial change of an event; the service checks the event whole."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("partial", True)
        super().__init__(*args, **kwargs)


class EventQueryArgsSchema(ma.Schema):
    """Filters of the event list."""

    kind = fields.String(validate=validate.OneOf(EVENT_KINDS))
    start = fields.DateTime(
        data_key="from", metadata={"description": "Events ending at or after. " + TIME_HELP}
    )
    end = fields.DateTime(
        data_key="to", metadata={"description": "Events starting before. " + TIME_HELP}
    )
    area_code = fields.String(
        data_key="area",
        validate=validate.Length(min=1, max=64),
        metadata={"description": "Events whose areas include this code."},
    )
    upcoming_first = fields.Boolean(
        load_default=False,
        metadata={"description": "Coming events soonest first, then past ones latest first."},
    )

    @post_load
    def _utc(self, data: dict[str, Any], **_kw: Any) -> dict[str, Any]:
        for key, name in (("start", "from"), ("end", "to")):
            if key in data:
                data[key] = _utc(data[key], name)
        return data
