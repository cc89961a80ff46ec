"""Idempotency keys: a retried request gives back the first answer and creates nothing."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from backend.db import UTCDateTime, utcnow


class IdempotencyRecord(SQLModel, table=True):
    """The first request seen with a key, and what it created."""

    __tablename__ = "idempotency_record"

    # Scope (method and route) + the client's key: the same key on two routes is two keys.
    scope: str = Field(primary_key=True, max_length=100)
    key: str = Field(primary_key=True, max_length=255)
    request_hash: str = Field(max_length=64)
    report_id: int | None = Field(default=None, foreign_key="report.id", ondelete="CASCADE")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
