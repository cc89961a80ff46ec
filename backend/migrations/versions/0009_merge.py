"""merge the pieces built in parallel

Revision ID: 0009
Revises: 0003, 0004, 0005, 0007, 0008
Create Date: 2026-11-29 15:44:06.495038
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0009"
down_revision: str | Sequence[str] | None = ("0003", "0004", "0005", "0007", "0008")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    pass


def downgrade() -> None:
    """Revert this revision."""
    pass
