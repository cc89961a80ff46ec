"""Residents who follow a report they did not file: the "+1 / it's the same, follow it" answer."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, LargeBinary, UniqueConstraint
from sqlmodel import Field, SQLModel

from backend.db import UTCDateTime, utcnow


class Subscription(SQLModel, table=True):
    """One follower of one report: a +1 counted for staff, and optionally an e-mail to notify.

    The e-mail is encrypted like a reporter's ``Contact`` (same keys, same helpers in
    ``backend.services.contacts``); ``email_hmac`` lets the same person follow a report once.
    A follower without an e-mail is a +1 only. ``token`` is the random secret of the follower's
    unsubscribe link; unsubscribing sets ``unsubscribed_at`` and keeps the +1.
    """

    __tablename__ = "subscription"
    __table_args__ = (UniqueConstraint("report_id", "email_hmac", name="uq_subscription_email"),)

    id: int | None = Field(default=None, primary_key=True)
    report_id: int = Field(foreign_key="report.id", index=True, ondelete="CASCADE")
    ciphertext: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    email_hmac: str | None = Field(default=None, max_length=64)
    language: str = Field(default="fr", max_length=8)
    consent_notifications: bool = Field(default=False)
    token: str = Field(max_length=64, unique=True, index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    unsubscribed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
