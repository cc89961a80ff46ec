"""Teams that work reports, the routing rules that give a report its team, saved filters."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index, Text
from sqlmodel import Field, SQLModel

from backend.db import UTCDateTime, utcnow


class Team(SQLModel, table=True):
    """A team of a department (``voirie-nord`` of the roads department) that fixes reports."""

    __tablename__ = "team"

    code: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=200)
    department: str = Field(max_length=100)
    active: bool = Field(default=True)


class RoutingRule(SQLModel, table=True):
    """Which team gets a service's reports, in an area (a prefix of its code) or anywhere.

    The most specific rule wins: the longest matching ``area_prefix`` (none matches every
    area), then the highest ``priority``, then the oldest rule (``backend.services.assignment``).
    """

    __tablename__ = "routing_rule"
    __table_args__ = (Index("ix_routing_rule_service", "service_code"),)

    id: int | None = Field(default=None, primary_key=True)
    service_code: str = Field(foreign_key="service.code", max_length=64)
    area_prefix: str | None = Field(default=None, max_length=64)
    team_code: str = Field(foreign_key="team.code", max_length=64)
    priority: int = Field(default=0)


class SavedFilter(SQLModel, table=True):
    """A named view of the queue a staff member saved (its query string)."""

    __tablename__ = "saved_filter"
    __table_args__ = (Index("ix_saved_filter_staff_name", "staff_id", "name", unique=True),)

    id: int | None = Field(default=None, primary_key=True)
    staff_id: int = Field(foreign_key="staff_user.id", ondelete="CASCADE")
    name: str = Field(max_length=100)
    query: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
