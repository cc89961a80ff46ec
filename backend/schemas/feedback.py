"""Schemas of the "is it really fixed?" questionnaire."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

COMMENT_MAX = 2000


class FeedbackCreateSchema(ma.Schema):
    """The resident's answer, once the city says the report is fixed."""

    class Meta:
        unknown = ma.RAISE

    fixed = fields.Boolean(
        required=True, metadata={"description": "Is it really fixed, on the spot?"}
    )
    satisfaction = fields.Integer(
        load_default=None,
        allow_none=True,
        validate=validate.Range(min=1, max=5),
        metadata={"description": "1 (very unhappy) to 5 (very happy) with how it was handled."},
    )
    comment = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Length(max=COMMENT_MAX),
        metadata={"description": "Read by the city's staff only; never published."},
    )


class FeedbackCreatedSchema(ma.Schema):
    """What the questionnaire's answer gives back (the comment is never echoed)."""

    tracking_id = fields.String()
    fixed = fields.Boolean()
    satisfaction = fields.Integer(allow_none=True)
    reopened = fields.Boolean(
        metadata={"description": "Whether this 'not fixed' answer reopened the report."}
    )
    status = fields.String(metadata={"description": "The report's status after the answer."})
    created_at = fields.DateTime()
