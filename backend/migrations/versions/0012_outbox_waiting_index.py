"""outbox: partial index on the rows the relay has not pushed yet

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WAITING = sa.text("dispatched_at IS NULL")


def upgrade() -> None:
    """Apply this revision."""
    op.create_index(
        "ix_outbox_message_waiting",
        "outbox_message",
        ["id"],
        postgresql_where=WAITING,
        sqlite_where=WAITING,
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index("ix_outbox_message_waiting", table_name="outbox_message")
