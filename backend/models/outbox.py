"""The transactional outbox: jobs committed with the data they concern."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, text
from sqlmodel import Field, SQLModel

from backend.db import UTCDateTime, utcnow
from backend.jobs import REPORTS


class OutboxMessage(SQLModel, table=True):
    """A job to push to RQ, written in the same transaction as the row it concerns."""

    __tablename__ = "outbox_message"
    # The relay's queue: the rows it has not pushed yet, oldest first (migration 0012).
    __table_args__ = (
        Index(
            "ix_outbox_message_waiting",
            "id",
            postgresql_where=text("dispatched_at IS NULL"),
            sqlite_where=text("dispatched_at IS NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    job_path: str = Field(max_length=200)
    args: list[Any] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    job_id: str = Field(max_length=200, index=True)  # jobs mark their row done by it
    queue: str = Field(default=REPORTS, max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    # Last push to RQ; NULL while the row waits for the relay (``outbox.relay_waiting``).
    dispatched_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Set by the job when it has run: rows not done are pushed again by the catch-up.
    done_at: datetime | None = Field(default=None, sa_type=UTCDateTime, index=True)
    attempts: int = Field(default=0)
    last_error: str | None = Field(default=None, max_length=500)
