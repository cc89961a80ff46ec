"""What the workers computed for an event: its hourly risk profile and, after it, what was seen."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel

from backend.db import UTCDateTime


class EventProfile(SQLModel, table=True):
    """The stored analysis of one event (``workers.events.jobs``); the web only reads it.

    ``profile`` is the JSON the API serves at ``/profile`` (expected counts per hour and
    series, 90 % prediction intervals, baselines, the fits); ``status`` is ``ok`` or
    ``insufficient_history`` (too few past events of the kind: no figure is made up).
    ``observed`` is filled once the event is over (observed counts per hour and the scan).
    """

    __tablename__ = "event_profile"

    event_id: int = Field(foreign_key="event.id", primary_key=True, ondelete="CASCADE")
    status: str = Field(max_length=32)
    model_version: str = Field(max_length=64)
    fitted_at: datetime = Field(sa_type=UTCDateTime)
    # The event as it was when fitted (its updated_at): a later edit makes the profile stale.
    event_updated_at: datetime = Field(sa_type=UTCDateTime)
    training_event_ids: list[int] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    profile: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    observed: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    observed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
