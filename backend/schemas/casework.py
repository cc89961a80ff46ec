"""Schemas of staff case work: internal notes, templates, duplicates and merges."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from backend.models.report import ReportStatus
from backend.services.dashboard import DEFAULT_WEEKS, WEEK_CHOICES
from backend.services.notes import NOTE_MAX
from backend.services.response_templates import TEMPLATE_STATUSES


class NoteInSchema(ma.Schema):
    """A new internal note (never public)."""

    body = fields.String(required=True, validate=validate.Length(min=1, max=NOTE_MAX))


class NoteSchema(ma.Schema):
    """An internal note of staff on a report."""

    id = fields.Integer()
    body = fields.String()
    author = fields.String()
    created_at = fields.DateTime()


class ReportBriefSchema(ma.Schema):
    """A report in a list of the case-work view."""

    id = fields.Integer()
    tracking_id = fields.String()
    status = fields.String()
    service_code = fields.String(allow_none=True)
    service_name = fields.String(allow_none=True)
    description = fields.String()
    created_at = fields.DateTime()
    photo_url = fields.String(allow_none=True)


class DuplicateSchema(ReportBriefSchema):
    """A likely duplicate and why (docs/staff.md, "Merging duplicates")."""

    distance_m = fields.Integer()
    days_apart = fields.Float()
    similarity = fields.Float(metadata={"description": "Jaccard index of the word sets."})
    score = fields.Float(
        metadata={"description": "0.4 x nearness + 0.3 x closeness in time + 0.3 x similarity."}
    )


class NearbySchema(ReportBriefSchema):
    """A report near this one."""

    distance_m = fields.Integer()


class RenderedTemplateSchema(ma.Schema):
    """A template usable on this report, filled in, in the report's language."""

    id = fields.Integer()
    title = fields.String()
    status = fields.String()
    language = fields.String()
    text = fields.String()


class PhotoSchema(ma.Schema):
    """A photo of this report or of a report merged into it."""

    url = fields.String()
    report_id = fields.Integer()


class CaseworkSchema(ma.Schema):
    """What the report page shows beyond triage."""

    notes = fields.List(fields.Nested(NoteSchema))
    templates = fields.List(fields.Nested(RenderedTemplateSchema))
    duplicates = fields.List(fields.Nested(DuplicateSchema))
    merged = fields.List(fields.Nested(ReportBriefSchema))
    merged_into = fields.Nested(ReportBriefSchema, allow_none=True)
    photos = fields.List(fields.Nested(PhotoSchema))
    nearby = fields.List(fields.Nested(NearbySchema))


class MergeInSchema(ma.Schema):
    """The report to merge into this one."""

    duplicate_id = fields.Integer(required=True, validate=validate.Range(min=1))


class TemplateInSchema(ma.Schema):
    """A response template, as an admin writes it."""

    service_code = fields.String(
        load_default=None, allow_none=True, validate=validate.Length(min=1, max=64)
    )
    status = fields.String(required=True, validate=validate.OneOf(TEMPLATE_STATUSES))
    title = fields.String(required=True, validate=validate.Length(min=1, max=200))
    body_fr = fields.String(required=True, validate=validate.Length(min=1, max=2000))
    body_en = fields.String(required=True, validate=validate.Length(min=1, max=2000))
    active = fields.Boolean(load_default=True)


class TemplateSchema(TemplateInSchema):
    """A stored response template."""

    id = fields.Integer()
    updated_by = fields.String(allow_none=True)
    updated_at = fields.DateTime()


class DashboardArgsSchema(ma.Schema):
    """The dashboard's period and service."""

    weeks = fields.Integer(
        load_default=DEFAULT_WEEKS,
        validate=validate.OneOf(WEEK_CHOICES),
        metadata={"description": "The period: 4, 12 (default), 26 or 52 weeks."},
    )
    service_code = fields.String(validate=validate.Length(min=1, max=64))
    lang = fields.String(validate=validate.OneOf(["fr", "en"]))


class DashboardRowSchema(ma.Schema):
    """The figures of one service (and team), or of all of them."""

    service_code = fields.String(allow_none=True)
    service_name = fields.String(allow_none=True)
    department = fields.String(allow_none=True)
    team_code = fields.String(allow_none=True)
    backlog = fields.Integer(metadata={"description": "Reports in an open status now."})
    overdue = fields.Integer(metadata={"description": "Backlog reports past their due date."})
    fixed = fields.Integer(metadata={"description": "Reports fixed and closed in the period."})
    median_days_to_fix = fields.Float(allow_none=True)
    p90_days_to_fix = fields.Float(allow_none=True)
    fixed_steps = fields.Integer(
        metadata={"description": "Reports with a fixed step in the period."}
    )
    reopened = fields.Integer(metadata={"description": "Of those, reopened afterwards."})
    reopen_rate = fields.Float(allow_none=True)
    answers = fields.Integer(metadata={"description": "Questionnaire answers in the period."})
    fixed_share = fields.Float(allow_none=True, metadata={"description": "Share saying fixed."})
    mean_satisfaction = fields.Float(allow_none=True, metadata={"description": "Mean mark 1-5."})


class DashboardWeekSchema(ma.Schema):
    """Inflow and outflow of one ISO week (the last one is partial)."""

    year = fields.Integer()
    week = fields.Integer()
    start = fields.Date()
    inflow = fields.Integer()
    outflow = fields.Integer()


class DashboardSchema(ma.Schema):
    """The services' dashboard (docs/staff.md, "Dashboard")."""

    computed_at = fields.DateTime()
    period_start = fields.Date()
    weeks = fields.List(fields.Nested(DashboardWeekSchema))
    services = fields.List(fields.Nested(DashboardRowSchema))
    total = fields.Nested(DashboardRowSchema)


class MapArgsSchema(ma.Schema):
    """The visible box and zoom, and the triage queue's filters."""

    south = fields.Float(required=True, validate=validate.Range(min=-90, max=90))
    west = fields.Float(required=True, validate=validate.Range(min=-180, max=180))
    north = fields.Float(required=True, validate=validate.Range(min=-90, max=90))
    east = fields.Float(required=True, validate=validate.Range(min=-180, max=180))
    zoom = fields.Integer(load_default=12, validate=validate.Range(min=0, max=22))
    needs_triage = fields.Boolean(load_default=True)
    service_code = fields.String(validate=validate.Length(min=1, max=64))
    area_code = fields.String(validate=validate.Length(min=1, max=64))
    status = fields.String(validate=validate.OneOf([s.value for s in ReportStatus]))


class MapSchema(ma.Schema):
    """A GeoJSON FeatureCollection of Points: one report (``id``, ``status``) or a group of
    ``count`` near reports, at most 2,000 (``truncated``: zoom in)."""

    type = fields.String()
    features = fields.List(fields.Dict())
    cell_degrees = fields.Float()
    truncated = fields.Boolean()
    computed_at = fields.String(
        allow_none=True,
        metadata={"description": "Zoomed out over open reports: when the grid was stored."},
    )
