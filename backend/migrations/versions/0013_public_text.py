"""report.address_public, report_update.public_note_published/_removed: scrubbed public text

Revision ID: 0013
Revises: 0012

Until now the address and the staff notes were published as written. After this revision
nothing public shows them until a worker has scrubbed them: the upgrade queues one job
(``workers.jobs.scrub_backlog``, through the outbox) that scrubs the rows already there.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import backend.db

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BACKLOG_JOB = "workers.jobs.scrub_backlog"
BACKLOG_JOB_ID = "scrub-backlog-0013"


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("report", schema=None) as batch_op:
        batch_op.add_column(sa.Column("address_public", sa.Text(), nullable=True))
    with op.batch_alter_table("report_update", schema=None) as batch_op:
        batch_op.add_column(sa.Column("public_note_published", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("public_note_removed", sa.JSON(), nullable=True))
    bind = op.get_bind()
    has_work = bind.execute(
        sa.text(
            "SELECT 1 FROM report WHERE address IS NOT NULL UNION ALL "
            "SELECT 1 FROM report_update WHERE public_note IS NOT NULL LIMIT 1"
        )
    ).first()
    if has_work is not None:
        outbox = sa.table(
            "outbox_message",
            sa.column("job_path", sa.String),
            sa.column("args", sa.JSON),
            sa.column("job_id", sa.String),
            sa.column("queue", sa.String),
            sa.column("created_at", backend.db.UTCDateTime()),
            sa.column("attempts", sa.Integer),
        )
        op.bulk_insert(
            outbox,
            [
                {
                    "job_path": BACKLOG_JOB,
                    "args": [],
                    "job_id": BACKLOG_JOB_ID,
                    "queue": "default",
                    "created_at": datetime.now(UTC),
                    "attempts": 0,
                }
            ],
        )


def downgrade() -> None:
    """Revert this revision."""
    op.execute(
        sa.text("DELETE FROM outbox_message WHERE job_id = :job_id").bindparams(
            job_id=BACKLOG_JOB_ID
        )
    )
    with op.batch_alter_table("report_update", schema=None) as batch_op:
        batch_op.drop_column("public_note_removed")
        batch_op.drop_column("public_note_published")
    with op.batch_alter_table("report", schema=None) as batch_op:
        batch_op.drop_column("address_public")
