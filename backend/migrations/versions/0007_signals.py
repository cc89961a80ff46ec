"""signals

Revision ID: 0007
Revises: 0002
Create Date: 2026-11-29 15:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import backend.db

revision: str = "0007"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "signal",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("method", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("service_code", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("incident_kind", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True),
        sa.Column("area_codes", sa.JSON(), nullable=False),
        sa.Column("start", sa.Date(), nullable=False),
        sa.Column("end", sa.Date(), nullable=False),
        sa.Column("observed", sa.Float(), nullable=False),
        sa.Column("expected", sa.Float(), nullable=False),
        sa.Column("statistic", sa.Float(), nullable=False),
        sa.Column("p_value", sa.Float(), nullable=True),
        sa.Column("recurrence_interval_days", sa.Float(), nullable=True),
        sa.Column("explanation_fr", sa.Text(), nullable=False),
        sa.Column("explanation_en", sa.Text(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("status_note", sa.Text(), nullable=True),
        sa.Column("status_changed_by", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=True),
        sa.Column("status_changed_at", backend.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("detected_at", backend.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("as_of", "key", name="uq_signal_as_of_key"),
    )
    with op.batch_alter_table("signal", schema=None) as batch_op:
        batch_op.create_index("ix_signal_as_of", ["as_of"], unique=False)
        batch_op.create_index("ix_signal_service_code", ["service_code"], unique=False)
        batch_op.create_index("ix_signal_kind_as_of", ["kind", "as_of"], unique=False)
        batch_op.create_index("ix_signal_status_as_of", ["status", "as_of"], unique=False)


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("signal", schema=None) as batch_op:
        batch_op.drop_index("ix_signal_status_as_of")
        batch_op.drop_index("ix_signal_kind_as_of")
        batch_op.drop_index("ix_signal_service_code")
        batch_op.drop_index("ix_signal_as_of")
    op.drop_table("signal")
