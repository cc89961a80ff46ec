"""Case work of staff: internal notes, response templates, the dashboard's stored figures."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from backend.db import UTCDateTime, utcnow


class ReportNote(SQLModel, table=True):
    """An internal note of staff on a report: never public, never in Open311 nor exports."""

    __tablename__ = "report_note"
    __table_args__ = (Index("ix_report_note_report_created", "report_id", "created_at"),)

    id: int | None = Field(default=None, primary_key=True)
    report_id: int = Field(foreign_key="report.id", ondelete="CASCADE")
    body: str = Field(sa_column=Column(Text, nullable=False))
    author: str = Field(max_length=200)
    author_id: int | None = Field(default=None)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ResponseTemplate(SQLModel, table=True):
    """A public answer written once by an admin, for a service (or every one) and a status.

    ``body_fr``/``body_en`` may hold placeholders (``{tracking_id}``, ``{service}``, ``{area}``,
    ``{due_date}``), checked when saved and filled in when used
    (``backend.services.templates``).
    """

    __tablename__ = "response_template"
    __table_args__ = (
        UniqueConstraint("service_code", "status", "title", name="uq_response_template"),
    )

    id: int | None = Field(default=None, primary_key=True)
    # None: for every service.
    service_code: str | None = Field(
        default=None, foreign_key="service.code", max_length=64, index=True
    )
    status: str = Field(max_length=32)
    title: str = Field(max_length=200)
    body_fr: str = Field(sa_column=Column(Text, nullable=False))
    body_en: str = Field(sa_column=Column(Text, nullable=False))
    active: bool = Field(default=True)
    updated_by: str | None = Field(default=None, max_length=200)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class StaffSnapshot(SQLModel, table=True):
    """Figures of the staff pages as the scheduled job computed them, by name: the dashboard
    of each period (``dashboard-12``...) and the map's grid of open reports (``map-open``).

    At a million reports they take seconds to compute (docs/BENCHMARKS.md): the pages and the
    API read these rows, which ``workers.jobs.refresh_dashboard`` rewrites every few minutes
    (``backend.services.dashboard``, ``backend.services.queue_map``).
    """

    __tablename__ = "staff_snapshot"

    name: str = Field(primary_key=True, max_length=32)
    computed_at: datetime = Field(sa_type=UTCDateTime)
    data: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
