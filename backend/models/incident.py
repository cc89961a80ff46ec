"""Official incidents (police logbook, transport, hospital, road accidents, lighting outages)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from backend.db import UTCDateTime, utcnow


class Incident(SQLModel, table=True):
    """One record of an official source, keyed on (source, external id) so imports are idempotent.

    ``kind`` is the source's own category (e.g. ``accident``, ``main_courante:tapage``);
    ``attributes`` keeps every other column of the source (BAAC lighting, severity...).
    """

    __tablename__ = "incident"
    __table_args__ = (
        UniqueConstraint("source", "external_id", name="uq_incident_source_external"),
        Index("ix_incident_kind_occurred", "kind", "occurred_at"),
        Index("ix_incident_area_occurred", "area_code", "occurred_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(max_length=64)
    external_id: str = Field(max_length=128)
    kind: str = Field(max_length=128)
    occurred_at: datetime = Field(sa_type=UTCDateTime)
    lat: float | None = Field(default=None)
    lon: float | None = Field(default=None)
    address: str | None = Field(default=None, max_length=500)
    area_code: str | None = Field(default=None, max_length=64)
    # Counts for aggregated sources (hospital admissions by area and day); 1 for single events.
    count: int = Field(default=1)
    attributes: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    imported_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ReportIncidentLink(SQLModel, table=True):
    """A report and an official incident close in space and time (a pair of kinds configured)."""

    __tablename__ = "report_incident_link"

    report_id: int = Field(foreign_key="report.id", primary_key=True, ondelete="CASCADE")
    incident_id: int = Field(foreign_key="incident.id", primary_key=True, ondelete="CASCADE")
    distance_m: float
    # Incident time minus report time, in hours (negative: the incident came first).
    lag_hours: float
    rule: str = Field(max_length=128)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
