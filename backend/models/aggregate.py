"""Precomputed aggregates behind the public site: raw cells (internal) and the published snapshot.

``AggregateCell`` holds exact counts per finest area x service x month; it is internal and never
served. ``PublishedCell`` is what the public site, the open data and ``/api/v1/indicators`` read:
it is rebuilt from the raw cells with small counts suppressed (and their complements).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index
from sqlmodel import Field, SQLModel

from backend.db import UTCDateTime, utcnow


class AggregateCell(SQLModel, table=True):
    """Exact figures of one finest area x service x month (local time): internal, never served."""

    __tablename__ = "aggregate_cell"

    month: str = Field(primary_key=True, max_length=7)
    area_code: str = Field(primary_key=True, max_length=64)
    service_code: str = Field(primary_key=True, max_length=64)
    reports: int = Field(default=0)
    fixed: int = Field(default=0)
    open_count: int = Field(default=0)
    # Whole days from report to fix -> how many reports: medians merge exactly across cells.
    fix_days: dict[str, int] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    feedback_n: int = Field(default=0)
    feedback_fixed_yes: int = Field(default=0)
    satisfaction_n: int = Field(default=0)
    satisfaction_sum: int = Field(default=0)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class AggregateReportKey(SQLModel, table=True):
    """The cell a report was last counted in, so a recategorised report leaves its old cell."""

    __tablename__ = "aggregate_report_key"

    report_id: int = Field(primary_key=True)
    month: str = Field(max_length=7)
    area_code: str = Field(max_length=64)
    service_code: str = Field(max_length=64)


class AggregateState(SQLModel, table=True):
    """One row: whether the raw cells changed since the last publication, and watermarks."""

    __tablename__ = "aggregate_state"

    id: int = Field(default=1, primary_key=True)
    raw_version: int = Field(default=0)
    published_version: int = Field(default=0)
    published_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Status changes and questionnaires seen up to here were folded into the raw cells.
    watermark: datetime | None = Field(default=None, sa_type=UTCDateTime)
    details: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class PublishedCell(SQLModel, table=True):
    """A published figure: an area (any level, or ``city``) x a service (or ``*``) x a period.

    ``period`` is ``YYYY-MM``, ``YYYY-Qn``, ``YYYY``, or ``now`` for the open backlog. A None count
    is suppressed; the ratios are None unless their own base is large enough.
    """

    __tablename__ = "published_cell"
    __table_args__ = (Index("ix_published_cell_period_service", "period", "service_code"),)

    period: str = Field(primary_key=True, max_length=7)
    area_code: str = Field(primary_key=True, max_length=64)
    service_code: str = Field(primary_key=True, max_length=64)
    area_level: str = Field(max_length=32)
    reports: int | None = Field(default=None)
    suppressed: bool = Field(default=False)
    fixed_pct: int | None = Field(default=None)
    median_days: float | None = Field(default=None)
    satisfaction: float | None = Field(default=None)
    confirmed_pct: int | None = Field(default=None)
    rate_per_1000: float | None = Field(default=None)
