"""Reports from residents and their public status history."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, Index, Text
from sqlmodel import Field, SQLModel

from backend.db import UTCDateTime, utcnow


class ReportStatus(StrEnum):
    """The statuses of a report; their rules live in ``backend.services.workflow``."""

    RECEIVED = "received"
    OPEN = "open"
    IN_PROGRESS = "in_progress"
    # Staff asked the resident for more information and wait for the answer.
    WAITING = "waiting"
    FIXED = "fixed"
    CLOSED = "closed"
    REJECTED = "rejected"
    DUPLICATE = "duplicate"


class Report(SQLModel, table=True):
    """One report from a resident. Contact details live apart, in ``Contact``."""

    __tablename__ = "report"
    __table_args__ = (
        Index("ix_report_service_created", "service_code", "created_at"),
        Index("ix_report_area_created", "area_code", "created_at"),
        Index("ix_report_source_external", "source", "external_id", unique=True),
        # The staff map of the queue (backend.services.queue_map): an index-only scan of the
        # open reports of a box (migration 0020; docs/BENCHMARKS.md).
        Index("ix_report_map", "status", "lat", "lon", "needs_triage", "service_code", "id"),
        # The queues: a team's or a person's open work (the service in the index too, so that
        # a scope's services filter there, not through another index), and the overdue one.
        Index("ix_report_team_status", "team_code", "status", "service_code"),
        Index("ix_report_assignee_status", "assignee_id", "status", "service_code"),
        Index("ix_report_status_due", "status", "due_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    tracking_id: str = Field(max_length=64, unique=True, index=True)
    # The resident's own words, staff-only; the public version is scrubbed of personal data.
    description: str = Field(sa_column=Column(Text, nullable=False))
    description_public: str | None = Field(default=None, sa_column=Column(Text))
    lat: float | None = Field(default=None)
    lon: float | None = Field(default=None)
    # Same pair as the description: the resident's words (staff-only), and their scrubbed
    # version, the only one anything public shows (NULL until the worker has scrubbed it).
    address: str | None = Field(default=None, max_length=500)
    address_public: str | None = Field(default=None, sa_column=Column(Text))
    area_code: str | None = Field(default=None, max_length=64)
    service_code: str | None = Field(default=None, foreign_key="service.code", max_length=64)
    service_hint: str | None = Field(default=None, max_length=64)
    status: str = Field(default=ReportStatus.RECEIVED, max_length=32, index=True)
    language: str | None = Field(default=None, max_length=8)
    photo_name: str | None = Field(default=None, max_length=128)
    # SHA-256 of the resident's token (``backend.services.tracking``): the token itself is
    # given once, at intake, and never stored; its holder sees the report's private view.
    token_hash: str | None = Field(default=None, max_length=64)
    source: str = Field(default="api", max_length=32)
    external_id: str | None = Field(default=None, max_length=128)
    # Classification, filled by the worker.
    predicted_code: str | None = Field(default=None, max_length=64)
    confidence: float | None = Field(default=None)
    top_predictions: list[dict[str, Any]] | None = Field(default=None, sa_column=Column(JSON))
    model_version: str | None = Field(default=None, max_length=64)
    needs_triage: bool = Field(default=False)
    # Who works it (routing rules, then staff): a team, a person of it, and by when.
    team_code: str | None = Field(default=None, foreign_key="team.code", max_length=64)
    assignee_id: int | None = Field(default=None, foreign_key="staff_user.id")
    due_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # A duplicate merged into another report (backend.services.merge): the one to follow.
    # No foreign key (migration 0020 says why); only the merge service writes it.
    duplicate_of_id: int | None = Field(default=None, index=True)


class ReportUpdate(SQLModel, table=True):
    """One step of a report's status history, with the note shown to the public.

    ``public_note`` is what the agent (or a back-office system) wrote, staff-only; the public
    sees ``public_note_published`` only, scrubbed of personal data by a worker (NULL until it
    has been: the note is then not shown at all). ``public_note_removed`` lists the kinds of
    personal data the scrubbing took out, for the agent to see.
    """

    __tablename__ = "report_update"

    id: int | None = Field(default=None, primary_key=True)
    report_id: int = Field(foreign_key="report.id", index=True, ondelete="CASCADE")
    status: str = Field(max_length=32)
    public_note: str | None = Field(default=None, sa_column=Column(Text))
    public_note_published: str | None = Field(default=None, sa_column=Column(Text))
    public_note_removed: list[str] | None = Field(default=None, sa_column=Column(JSON))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    # Staff author, when there is one (kept for the audit; never published).
    author: str | None = Field(default=None, max_length=200)


class ReportAddition(SQLModel, table=True):
    """What the resident added to an open report from their tracking page: text, a photo.

    ``text`` is the resident's words (staff-only); ``text_public`` their scrubbed version
    (the worker's ``scrub_addition``), the only one the tracking page shows back, NULL until
    scrubbed; ``text_removed`` the kinds of personal data the scrubbing took out.
    """

    __tablename__ = "report_addition"

    id: int | None = Field(default=None, primary_key=True)
    report_id: int = Field(foreign_key="report.id", index=True, ondelete="CASCADE")
    text: str | None = Field(default=None, sa_column=Column(Text))
    text_public: str | None = Field(default=None, sa_column=Column(Text))
    text_removed: list[str] | None = Field(default=None, sa_column=Column(JSON))
    photo_name: str | None = Field(default=None, max_length=128)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
