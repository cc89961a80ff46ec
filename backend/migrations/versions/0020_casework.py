"""report_note, response_template, staff_snapshot, report.duplicate_of_id: case work

Revision ID: 0020
Revises: 0019

Internal notes (never public), the admins' response templates per service and status, and
the link of a merged duplicate to the report it was merged into, and the staff pages' figures
as the scheduled job stores them (the dashboard, the map's grid). The new status ``waiting``
needs no schema change (``report.status`` is a string checked by the workflow).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import backend.db

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "report_note",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("author", sa.String(length=200), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("created_at", backend.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["report_id"], ["report.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_report_note_report_created", "report_note", ["report_id", "created_at"])
    op.create_table(
        "response_template",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("service_code", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("body_fr", sa.Text(), nullable=False),
        sa.Column("body_en", sa.Text(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("updated_by", sa.String(length=200), nullable=True),
        sa.Column("updated_at", backend.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["service_code"], ["service.code"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("service_code", "status", "title", name="uq_response_template"),
    )
    op.create_index("ix_response_template_service_code", "response_template", ["service_code"])
    op.create_table(
        "staff_snapshot",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("computed_at", backend.db.UTCDateTime(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    # A plain indexed column, no foreign key: SQLite cannot add one to a table without copying
    # it, and dropping the old copy would cascade to every report's history. The merge
    # service (backend.services.merge) is the only writer, and only names existing reports.
    op.add_column("report", sa.Column("duplicate_of_id", sa.Integer(), nullable=True))
    op.create_index("ix_report_duplicate_of_id", "report", ["duplicate_of_id"])
    op.create_index(
        "ix_report_map",
        "report",
        ["status", "lat", "lon", "needs_triage", "service_code", "id"],
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index("ix_report_map", table_name="report")
    op.drop_index("ix_report_duplicate_of_id", table_name="report")
    op.drop_column("report", "duplicate_of_id")
    op.drop_table("staff_snapshot")
    op.drop_index("ix_response_template_service_code", table_name="response_template")
    op.drop_table("response_template")
    op.drop_index("ix_report_note_report_created", table_name="report_note")
    op.drop_table("report_note")
