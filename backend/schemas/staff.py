"""Schemas of the staff resources."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields


class StaffMeSchema(ma.Schema):
    """The staff member a token belongs to, and what they may see."""

    email = fields.String(required=True)
    role = fields.String(
        required=True, metadata={"description": "agent, supervisor, analyst or admin"}
    )
    department = fields.String(allow_none=True)
    service_codes = fields.List(
        fields.String(), metadata={"description": "Services listed on the account."}
    )
    visible_services = fields.List(
        fields.String(),
        allow_none=True,
        metadata={"description": "Services whose reports this account may see; null: all."},
    )
    can_read_contacts = fields.Boolean(
        metadata={"description": "Whether the role may read reporters' contact details."}
    )
