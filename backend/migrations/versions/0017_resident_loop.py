"""report.token_hash, report_addition, feedback.reopened: the resident's side of the loop

The resident's token (only its hash is stored), what they add to an open report from the
tracking page, and whether a "not fixed" answer reopened the report.

Revision ID: 0017
Revises: 0016
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import backend.db

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("report") as batch:
        batch.add_column(sa.Column("token_hash", sa.String(length=64), nullable=True))
    with op.batch_alter_table("feedback") as batch:
        batch.add_column(
            sa.Column("reopened", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    op.create_table(
        "report_addition",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("text_public", sa.Text(), nullable=True),
        sa.Column("text_removed", sa.JSON(), nullable=True),
        sa.Column("photo_name", sa.String(length=128), nullable=True),
        sa.Column("created_at", backend.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["report_id"], ["report.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_report_addition_report_id", "report_addition", ["report_id"])
    op.create_index("ix_report_addition_created_at", "report_addition", ["created_at"])


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index("ix_report_addition_created_at", table_name="report_addition")
    op.drop_index("ix_report_addition_report_id", table_name="report_addition")
    op.drop_table("report_addition")
    with op.batch_alter_table("feedback") as batch:
        batch.drop_column("reopened")
    with op.batch_alter_table("report") as batch:
        batch.drop_column("token_hash")
