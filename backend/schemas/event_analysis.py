"""Schemas of an event's analysis: hourly risk profile, staffing, observed (read only)."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields

FloatList = fields.List(fields.Float())


class SeriesSchema(ma.Schema):
    """One family of incidents or reports in one zone, hour by hour."""

    source = fields.String(metadata={"enum": ["incidents", "reports"]})
    family = fields.String(metadata={"description": "public_order, noise, waste, accidents..."})
    zone = fields.String(
        metadata={"enum": ["inside", "ring"], "description": "The place, or the ring around it."}
    )
    model = fields.Dict(
        metadata={
            "description": "The fit: distribution (negative_binomial, poisson or "
            "baseline_only), rate ratios per phase, attendance slope, alpha, dispersion, "
            "p-value of the test of alpha = 0."
        }
    )
    expected = fields.List(fields.Float(), metadata={"description": "Expected count per hour."})
    median = fields.List(fields.Float())
    low = fields.List(fields.Float(), metadata={"description": "Lower end of the interval."})
    high = fields.List(fields.Float(), metadata={"description": "Upper end of the interval."})
    baseline = fields.List(
        fields.Float(), metadata={"description": "Same place, same weekday and hour, no event."}
    )
    excess = fields.List(fields.Float(), metadata={"description": "expected - baseline."})


class ProfileSchema(ma.Schema):
    """The hourly risk profile of an event (90 % prediction intervals, not of the mean)."""

    event_id = fields.Integer()
    status = fields.String(
        metadata={
            "enum": ["ok", "insufficient_history"],
            "description": "insufficient_history: fewer past events of the kind than "
            "min_events; no figure is given.",
        }
    )
    stale = fields.Boolean(metadata={"description": "The event changed after the fit."})
    model_version = fields.String()
    fitted_at = fields.DateTime()
    training_event_ids = fields.List(fields.Integer())
    n_training = fields.Integer()
    min_events = fields.Integer(allow_none=True)
    settings = fields.Dict()
    hours = fields.List(fields.String(), metadata={"description": "UTC hours (ISO 8601)."})
    offsets = fields.List(fields.Integer(), metadata={"description": "Hours from the start."})
    phases = fields.List(
        fields.String(),
        metadata={"description": "before, start, during, end, after1 (first hour after), after"},
    )
    reference_attendance = fields.Float(allow_none=True)
    series = fields.List(fields.Nested(SeriesSchema))


class StaffingHourSchema(ma.Schema):
    """Agents and barriers suggested for one hour, with the reasons."""

    hour = fields.DateTime()
    local_hour = fields.String()
    offset = fields.Integer(metadata={"description": "Hours from the start hour."})
    phase = fields.String()
    agents = fields.Integer()
    agents_from_incidents = fields.Integer()
    agents_minimum = fields.Integer()
    planned_excess = fields.Float()
    barriers = fields.Integer()
    reasons_fr = fields.List(fields.String())
    reasons_en = fields.List(fields.String())
    past_events = fields.Integer(metadata={"description": "Past similar events with records."})
    past_agents = fields.Float(allow_none=True, metadata={"description": "Their median."})
    past_barriers = fields.Float(allow_none=True)


class StaffingSchema(ma.Schema):
    """The staffing suggestion of an event, from its profile and the city's ratios."""

    event_id = fields.Integer()
    status = fields.String()
    model_version = fields.String()
    fitted_at = fields.DateTime()
    n_training = fields.Integer()
    rules = fields.Dict()
    attendance = fields.Integer(allow_none=True)
    perimeter_m = fields.Float(allow_none=True)
    peak_agents = fields.Integer()
    peak_barriers = fields.Integer()
    hours = fields.List(fields.Nested(StaffingHourSchema))


class ObservedSeriesSchema(ma.Schema):
    """Observed counts of one series, hour by hour, against its profile."""

    source = fields.String()
    family = fields.String()
    zone = fields.String()
    observed = fields.List(fields.Float())
    total_observed = fields.Float()
    total_expected = fields.Float()
    total_baseline = fields.Float()
    hours_outside_interval = fields.Integer()


class ObservedSchema(ma.Schema):
    """After the event: observed vs expected, and whether the excess was a weak signal."""

    event_id = fields.Integer()
    observed_at = fields.DateTime()
    hours = fields.List(fields.String())
    series = fields.List(fields.Nested(ObservedSeriesSchema))
    scan = fields.Dict(
        metadata={
            "description": "The space-time permutation scan on the place and the week before: "
            "signal (bool), cluster (start, end, observed, expected, p_value...)."
        }
    )
