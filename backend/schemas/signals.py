"""Schemas of the weak-signal resources (analysts)."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from backend.models.signal import SignalKind, SignalStatus

STATUSES = [s.value for s in SignalStatus]
KINDS = [k.value for k in SignalKind]


class SignalSchema(ma.Schema):
    """A weak signal: what was found, where, when, how sure, in plain words."""

    id = fields.Integer(dump_only=True)
    kind = fields.String(metadata={"enum": KINDS})
    method = fields.String(metadata={"description": "The detector's method."})
    service_code = fields.String(allow_none=True)
    incident_kind = fields.String(allow_none=True)
    area_codes = fields.List(fields.String())
    start = fields.Date()
    end = fields.Date()
    observed = fields.Float()
    expected = fields.Float()
    statistic = fields.Float(
        metadata={"description": "Log-likelihood ratio (scan), EARS statistic, or rate ratio."}
    )
    p_value = fields.Float(allow_none=True)
    recurrence_interval_days = fields.Float(
        allow_none=True,
        metadata={"description": "How often, in days, this would arise by chance."},
    )
    explanation_fr = fields.String()
    explanation_en = fields.String()
    details = fields.Dict()
    status = fields.String(metadata={"enum": STATUSES})
    status_note = fields.String(allow_none=True)
    status_changed_by = fields.String(allow_none=True)
    status_changed_at = fields.DateTime(allow_none=True)
    as_of = fields.Date(metadata={"description": "Last day of data of the detection."})
    detected_at = fields.DateTime()


class SignalQueryArgsSchema(ma.Schema):
    """Filters of the signal list."""

    status = fields.String(validate=validate.OneOf(STATUSES))
    kind = fields.String(validate=validate.OneOf(KINDS))
    service_code = fields.String(validate=validate.Length(max=64))
    area_code = fields.String(
        validate=validate.Length(max=64),
        metadata={"description": "Signals whose areas include this one."},
    )
    as_of = fields.Date(metadata={"description": "Signals of this detection day."})
    since = fields.Date(metadata={"description": "Detection days from this one."})
    until = fields.Date(metadata={"description": "Detection days up to this one."})
    min_recurrence_days = fields.Float(validate=validate.Range(min=0))


class SignalStatusSchema(ma.Schema):
    """An analyst's verdict."""

    status = fields.String(required=True, validate=validate.OneOf(STATUSES))
    note = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=2000))
