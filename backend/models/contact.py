"""Contact details of a reporter, stored apart from the report and encrypted."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, LargeBinary
from sqlmodel import Field, SQLModel

from backend.db import UTCDateTime, utcnow


class Contact(SQLModel, table=True):
    """Encrypted e-mail/phone of one report's author; deletable without touching the report."""

    __tablename__ = "contact"

    id: int | None = Field(default=None, primary_key=True)
    report_id: int = Field(foreign_key="report.id", unique=True, index=True, ondelete="CASCADE")
    # Fernet token of a JSON object {"email":..., "phone":..., ...}; the key is never in the DB.
    ciphertext: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    # Keyed hashes (HMAC-SHA256) for abuse control: same person, same hash; not reversible.
    email_hmac: str | None = Field(default=None, max_length=64, index=True)
    phone_hmac: str | None = Field(default=None, max_length=64, index=True)
    consent_notifications: bool = Field(default=False)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
