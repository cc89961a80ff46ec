"""Weak signals: what the daily detection found, explained, and what analysts made of it."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from backend.db import UTCDateTime, utcnow


class SignalKind(StrEnum):
    """The detector that raised a signal."""

    SCAN = "scan"
    TEMPORAL = "temporal"
    COOCCURRENCE = "cooccurrence"


class SignalStatus(StrEnum):
    """An analyst's verdict on a signal."""

    NEW = "new"
    ACKNOWLEDGED = "acknowledged"
    DISMISSED = "dismissed"
    CONFIRMED = "confirmed"


class Signal(SQLModel, table=True):
    """One weak signal found on the data up to ``as_of``.

    ``key`` identifies the signal within one detection day (detector, service, centre area or
    series, start of the span), so re-running the detection for the same day updates the row
    instead of adding a copy; the analyst's status survives the re-run.
    """

    __tablename__ = "signal"
    __table_args__ = (
        UniqueConstraint("as_of", "key", name="uq_signal_as_of_key"),
        Index("ix_signal_status_as_of", "status", "as_of"),
        Index("ix_signal_kind_as_of", "kind", "as_of"),
    )

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=300)
    kind: str = Field(max_length=32)
    # The detector's method: space_time_permutation, ears_c1, farrington_noufaily, ...
    method: str = Field(max_length=100)
    service_code: str | None = Field(default=None, max_length=64, index=True)
    incident_kind: str | None = Field(default=None, max_length=128)
    area_codes: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    start: date
    end: date
    observed: float
    expected: float
    statistic: float
    p_value: float | None = Field(default=None)
    recurrence_interval_days: float | None = Field(default=None)
    explanation_fr: str = Field(sa_column=Column(Text, nullable=False))
    explanation_en: str = Field(sa_column=Column(Text, nullable=False))
    details: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    status: str = Field(default=SignalStatus.NEW, max_length=32)
    status_note: str | None = Field(default=None, sa_column=Column(Text))
    status_changed_by: str | None = Field(default=None, max_length=254)
    status_changed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    as_of: date = Field(index=True)
    detected_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
