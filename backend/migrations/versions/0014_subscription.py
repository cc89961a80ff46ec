"""subscription, street, event, event_resource: followers, the street gazetteer, events

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import backend.db

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "subscription",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=True),
        sa.Column("email_hmac", sa.String(length=64), nullable=True),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("consent_notifications", sa.Boolean(), nullable=False),
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("created_at", backend.db.UTCDateTime(), nullable=False),
        sa.Column("unsubscribed_at", backend.db.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["report_id"], ["report.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("report_id", "email_hmac", name="uq_subscription_email"),
    )
    op.create_index("ix_subscription_report_id", "subscription", ["report_id"])
    op.create_index("ix_subscription_token", "subscription", ["token"], unique=True)

    op.create_table(
        "street",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("folded", sa.String(length=300), nullable=False),
        sa.Column("district", sa.String(length=200), nullable=True),
        sa.Column("area_code", sa.String(length=64), nullable=True),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_street_folded", "street", ["folded"])
    op.create_index("ix_street_area_code", "street", ["area_code"])
    op.create_table(
        "event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("starts_at", backend.db.UTCDateTime(), nullable=False),
        sa.Column("ends_at", backend.db.UTCDateTime(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("radius_m", sa.Float(), nullable=True),
        sa.Column("geometry", sa.JSON(), nullable=True),
        sa.Column("area_codes", sa.JSON(), nullable=False),
        sa.Column("expected_attendance", sa.Integer(), nullable=True),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("external_id", sa.String(length=128), nullable=True),
        sa.Column("notes", sa.String(length=2000), nullable=True),
        sa.Column("created_at", backend.db.UTCDateTime(), nullable=False),
        sa.Column("updated_at", backend.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("source", "external_id", name="uq_event_source_external"),
    )
    op.create_index("ix_event_kind", "event", ["kind"])
    op.create_index("ix_event_starts_at", "event", ["starts_at"])
    op.create_index("ix_event_kind_starts", "event", ["kind", "starts_at"])
    op.create_table(
        "event_resource",
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("hour", backend.db.UTCDateTime(), nullable=False),
        sa.Column("agents", sa.Integer(), nullable=True),
        sa.Column("barriers", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["event_id"], ["event.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("event_id", "hour"),
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table("event_resource")
    op.drop_index("ix_event_kind_starts", table_name="event")
    op.drop_index("ix_event_starts_at", table_name="event")
    op.drop_index("ix_event_kind", table_name="event")
    op.drop_table("event")
    op.drop_index("ix_street_area_code", table_name="street")
    op.drop_index("ix_street_folded", table_name="street")
    op.drop_table("street")
    op.drop_index("ix_subscription_token", table_name="subscription")
    op.drop_index("ix_subscription_report_id", table_name="subscription")
    op.drop_table("subscription")
