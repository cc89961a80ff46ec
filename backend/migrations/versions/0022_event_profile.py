"""event_profile: the stored hourly risk profile of an event and what was observed after it

Revision ID: 0022
Revises: 0020
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import backend.db

revision: str = "0022"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "event_profile",
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("model_version", sa.String(length=64), nullable=False),
        sa.Column("fitted_at", backend.db.UTCDateTime(), nullable=False),
        sa.Column("event_updated_at", backend.db.UTCDateTime(), nullable=False),
        sa.Column("training_event_ids", sa.JSON(), nullable=False),
        sa.Column("profile", sa.JSON(), nullable=False),
        sa.Column("observed", sa.JSON(), nullable=True),
        sa.Column("observed_at", backend.db.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["event_id"], ["event.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("event_id"),
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table("event_profile")
