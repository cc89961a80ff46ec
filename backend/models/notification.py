"""What was sent to whom: e-mails, webhook deliveries, questionnaire invitations.

One row per (history step, recipient, channel), written *before* anything leaves and marked
after the other side accepted: the unique key is what makes "never twice" hold when a job
runs again (docs/notifications.md, decision 0010).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from backend.db import UTCDateTime, utcnow


class NotificationChannel(StrEnum):
    """How a resident (or a city's system) hears of a history step."""

    EMAIL = "email"  # a status change or a public note, by e-mail
    WEBHOOK = "webhook"  # the same, POSTed to a subscriber system
    INVITE = "invite"  # the questionnaire invitation, some days after "fixed"


class NotificationStatus(StrEnum):
    """Where one delivery stands."""

    SENDING = "sending"  # written before the attempt; left so if the worker died during it
    # The whole message is with the SMTP server but its final "." is not: written (committed)
    # just before that dot. Left so if the worker died after it: the server may have the
    # message, so it is never sent again (it becomes UNCERTAIN).
    COMMITTING = "committing"
    RETRY = "retry"  # the other side refused for a passing reason: to be tried again
    SENT = "sent"  # the SMTP server or the webhook receiver accepted it
    FAILED = "failed"  # refused for good, or too many attempts: never tried again
    # A worker died (or the answer was lost) after the final "." went: the server may or may
    # not have accepted it; never sent again (at most once past the dot), a warning logged.
    UNCERTAIN = "uncertain"


class Notification(SQLModel, table=True):
    """One delivery of one history step to one recipient on one channel."""

    __tablename__ = "notification"
    __table_args__ = (
        UniqueConstraint("update_id", "recipient", "channel", name="uq_notification_delivery"),
    )

    id: int | None = Field(default=None, primary_key=True)
    update_id: int = Field(foreign_key="report_update.id", index=True, ondelete="CASCADE")
    # The keyed hash of the e-mail (the contact's or follower's ``email_hmac``; never the
    # address itself), or ``endpoint:<id>`` for a webhook.
    recipient: str = Field(max_length=80)
    channel: str = Field(max_length=16)
    status: str = Field(default=NotificationStatus.SENDING, max_length=16)
    attempts: int = Field(default=0)
    # The Message-ID (e-mail) or X-Lanterne-Delivery (webhook): the same on every attempt, so
    # that a copy sent twice after a crash is recognisable as the same message.
    message_id: str = Field(max_length=200)
    last_error: str | None = Field(default=None, max_length=500)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class WebhookEndpoint(SQLModel, table=True):
    """A subscriber system (a city's SMS or push provider) that receives signed POSTs."""

    __tablename__ = "webhook_endpoint"

    id: int | None = Field(default=None, primary_key=True)
    url: str = Field(max_length=2000)
    # The HMAC key shared with the receiver; it must be readable to sign, so it is stored as
    # is (shown once at creation); it never leaves but in the signature.
    secret: str = Field(max_length=128)
    description: str = Field(default="", max_length=500)
    active: bool = Field(default=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    disabled_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
