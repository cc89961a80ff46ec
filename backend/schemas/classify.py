"""Schemas of the category suggestion."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate


class ClassifyRequestSchema(ma.Schema):
    """A text being typed by a resident."""

    text = fields.String(required=True, validate=validate.Length(min=1, max=4000))


class CategoryScoreSchema(ma.Schema):
    """One candidate category."""

    service_code = fields.String()
    confidence = fields.Float()


class ClassifyResponseSchema(ma.Schema):
    """The top 3 categories, best first, with calibrated confidence."""

    service_code = fields.String()
    confidence = fields.Float()
    language = fields.String()
    needs_triage = fields.Boolean()
    top = fields.List(fields.Nested(CategoryScoreSchema))
    model_version = fields.String()
