"""The resident's answer to "is it really fixed?", asked once the city says it is."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Text
from sqlmodel import Field, SQLModel

from backend.db import UTCDateTime, utcnow


class Feedback(SQLModel, table=True):
    """One questionnaire per report: fixed or not, satisfaction 1-5, a staff-only comment."""

    __tablename__ = "feedback"

    id: int | None = Field(default=None, primary_key=True)
    report_id: int = Field(foreign_key="report.id", unique=True, index=True, ondelete="CASCADE")
    fixed: bool
    satisfaction: int | None = Field(default=None, ge=1, le=5)
    # Free text may name people: staff-only, never published, never aggregated.
    comment: str | None = Field(default=None, sa_column=Column(Text))
    # Whether this "not fixed" answer reopened the report (within the window after fixed).
    reopened: bool = Field(default=False)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
