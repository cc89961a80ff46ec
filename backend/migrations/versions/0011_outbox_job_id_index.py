"""outbox: index on job_id (each job marks its own row done by job id)

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_index("ix_outbox_message_job_id", "outbox_message", ["job_id"])


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index("ix_outbox_message_job_id", table_name="outbox_message")
