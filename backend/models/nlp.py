"""The classifier's versions and the gold labels that triage gives it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Text
from sqlmodel import Field, SQLModel

from backend.db import UTCDateTime, utcnow


class ModelVersion(SQLModel, table=True):
    """A trained classifier, its metrics on the frozen test split, and whether it is in use."""

    __tablename__ = "model_version"

    id: int | None = Field(default=None, primary_key=True)
    version: str = Field(max_length=64, unique=True)
    # A model directory (retrained models) or an installed package name (the built one).
    location: str = Field(max_length=500)
    macro_f1: float
    metrics: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    corrections_used: int = Field(default=0)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    promoted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    active: bool = Field(default=False, index=True)


class CategoryCorrection(SQLModel, table=True):
    """A category set by staff on a report: a gold label for the next training."""

    __tablename__ = "category_correction"

    id: int | None = Field(default=None, primary_key=True)
    report_id: int = Field(foreign_key="report.id", index=True, ondelete="CASCADE")
    # The text the label applies to (the scrubbed public text when there is one).
    text: str = Field(sa_column=Column(Text, nullable=False))
    predicted_code: str | None = Field(default=None, max_length=64)
    service_code: str = Field(max_length=64)
    author: str | None = Field(default=None, max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
