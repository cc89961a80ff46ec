"""Schemas of staff case work: internal notes, templates, duplicates and merges."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

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
