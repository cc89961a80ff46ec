"""Staff accounts, their API tokens, and the audit log of what staff did."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, Index
from sqlmodel import Field, SQLModel

from backend.db import UTCDateTime, utcnow


class Role(StrEnum):
    """What a staff account may do (DESIGN.md, "Staff accounts and roles")."""

    AGENT = "agent"  # their service's queue
    SUPERVISOR = "supervisor"  # their department's queues
    ANALYST = "analyst"  # signals, events, dashboards; never contact data
    ADMIN = "admin"  # accounts, catalogue, API keys


ROLES: tuple[str, ...] = tuple(role.value for role in Role)


class StaffUser(SQLModel, table=True):
    """A member of the city's staff; disabled, never deleted (the audit log names them)."""

    __tablename__ = "staff_user"

    id: int | None = Field(default=None, primary_key=True)
    # Stored lower-cased so that uniqueness ignores case.
    email: str = Field(max_length=254, unique=True, index=True)
    role: str = Field(max_length=32)
    department: str | None = Field(default=None, max_length=100)
    team_code: str | None = Field(default=None, foreign_key="team.code", max_length=64)
    service_codes: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    # argon2id encoded hash (parameters and salt included); None: API tokens only, no web login.
    password_hash: str | None = Field(default=None, max_length=255)
    active: bool = Field(default=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    last_login_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class StaffToken(SQLModel, table=True):
    """A bearer token for the staff API; only its hash is kept, the token is shown once.

    A plain SHA-256 is enough here, unlike for passwords: the token is 256 random bits from
    ``secrets``, so there is no dictionary to try and nothing a slow hash would protect, while a
    fast, deterministic hash lets each request find its token with one indexed lookup.
    """

    __tablename__ = "staff_token"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True, index=True)
    name: str = Field(default="api", max_length=100)
    staff_id: int = Field(foreign_key="staff_user.id", index=True, ondelete="CASCADE")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    last_used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class AuditLog(SQLModel, table=True):
    """One staff action: who (``actor``), did what (``action``), to what (``target``), when."""

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_target_at", "target", "at"),
        Index("ix_audit_log_actor_at", "actor", "at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    # The staff e-mail, or "cli" / "system"; kept as text so the row outlives any account change.
    actor: str = Field(max_length=254)
    actor_id: int | None = Field(default=None)
    action: str = Field(max_length=64, index=True)
    # "kind:id", e.g. "staff:12", "report:345", "contact:345".
    target: str = Field(default="", max_length=200)
    details: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
