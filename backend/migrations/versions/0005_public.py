"""public site: aggregates, published snapshot, residents' questionnaire

Revision ID: 0005
Revises: 0002
Create Date: 2026-11-29 14:52:31.087376
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import backend.db

revision: str = "0005"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("published_cell", "feedback", "aggregate_cell", "aggregate_report_key", "aggregate_state")


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "aggregate_cell",
        sa.Column("month", sqlmodel.sql.sqltypes.AutoString(length=7), nullable=False),
        sa.Column("area_code", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("service_code", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("reports", sa.Integer(), nullable=False),
        sa.Column("fixed", sa.Integer(), nullable=False),
        sa.Column("open_count", sa.Integer(), nullable=False),
        sa.Column("fix_days", sa.JSON(), nullable=False),
        sa.Column("feedback_n", sa.Integer(), nullable=False),
        sa.Column("feedback_fixed_yes", sa.Integer(), nullable=False),
        sa.Column("satisfaction_n", sa.Integer(), nullable=False),
        sa.Column("satisfaction_sum", sa.Integer(), nullable=False),
        sa.Column("updated_at", backend.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("month", "area_code", "service_code"),
    )
    op.create_table(
        "aggregate_report_key",
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("month", sqlmodel.sql.sqltypes.AutoString(length=7), nullable=False),
        sa.Column("area_code", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("service_code", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.PrimaryKeyConstraint("report_id"),
    )
    op.create_table(
        "aggregate_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("raw_version", sa.Integer(), nullable=False),
        sa.Column("published_version", sa.Integer(), nullable=False),
        sa.Column("published_at", backend.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("watermark", backend.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "published_cell",
        sa.Column("period", sqlmodel.sql.sqltypes.AutoString(length=7), nullable=False),
        sa.Column("area_code", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("service_code", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("area_level", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("reports", sa.Integer(), nullable=True),
        sa.Column("suppressed", sa.Boolean(), nullable=False),
        sa.Column("fixed_pct", sa.Integer(), nullable=True),
        sa.Column("median_days", sa.Float(), nullable=True),
        sa.Column("satisfaction", sa.Float(), nullable=True),
        sa.Column("confirmed_pct", sa.Integer(), nullable=True),
        sa.Column("rate_per_1000", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("period", "area_code", "service_code"),
    )
    with op.batch_alter_table("published_cell", schema=None) as batch_op:
        batch_op.create_index(
            "ix_published_cell_period_service", ["period", "service_code"], unique=False
        )
    op.create_table(
        "feedback",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("fixed", sa.Boolean(), nullable=False),
        sa.Column("satisfaction", sa.Integer(), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("created_at", backend.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["report_id"], ["report.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("feedback", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_feedback_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_feedback_report_id"), ["report_id"], unique=True)


def downgrade() -> None:
    """Revert this revision."""
    for name in reversed(TABLES):
        op.drop_table(name)
