"""Events in the city (matches, concerts, markets, demonstrations...) and what was deployed."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from backend.db import UTCDateTime, utcnow


class Event(SQLModel, table=True):
    """One event with its place: a point and radius, a GeoJSON polygon, or a list of areas.

    ``source`` and ``external_id`` key an imported calendar's rows so that importing the same
    file twice changes nothing; events made in the API or the staff page have source "staff".
    """

    __tablename__ = "event"
    __table_args__ = (
        UniqueConstraint("source", "external_id", name="uq_event_source_external"),
        Index("ix_event_kind_starts", "kind", "starts_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=300)
    kind: str = Field(max_length=64, index=True)
    starts_at: datetime = Field(sa_type=UTCDateTime, index=True)
    ends_at: datetime = Field(sa_type=UTCDateTime)
    lat: float | None = Field(default=None)
    lon: float | None = Field(default=None)
    radius_m: float | None = Field(default=None)
    # A GeoJSON geometry (Polygon or MultiPolygon, WGS84), when the place is drawn.
    geometry: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    area_codes: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    expected_attendance: int | None = Field(default=None, ge=0)
    source: str = Field(default="staff", max_length=64)
    external_id: str | None = Field(default=None, max_length=128)
    notes: str | None = Field(default=None, max_length=2000)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class EventResource(SQLModel, table=True):
    """What was actually deployed for an event in one hour (agents, barriers), when known."""

    __tablename__ = "event_resource"

    event_id: int = Field(foreign_key="event.id", primary_key=True, ondelete="CASCADE")
    hour: datetime = Field(sa_type=UTCDateTime, primary_key=True)
    agents: int | None = Field(default=None, ge=0)
    barriers: int | None = Field(default=None, ge=0)
