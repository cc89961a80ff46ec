"""API keys of Open311 clients, and what Open311 adds to a report.

Tables: ``api_key``; ``open311_service_attribute`` (the service definitions' attributes, a city
edits them as rows); ``open311_request`` (what an Open311 POST carried beyond the report:
attribute values, ``media_url``, ``address_id``); ``open311_contact`` (the extra personal
fields, encrypted, hanging off the report's contact row); ``open311_external_update`` (the
``update_id`` of each update posted by a back-office system, for idempotency).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, LargeBinary, UniqueConstraint
from sqlmodel import Field, SQLModel

from backend.db import UTCDateTime, utcnow


class ApiKey(SQLModel, table=True):
    """An Open311 client's key; only its SHA-256 is kept, the key is shown once at creation.

    A plain SHA-256 rather than a keyed or slow hash: the key is 256 random bits from
    ``secrets``, so there is nothing to brute-force and a slow hash would protect nothing,
    while a deterministic hash finds the key with one indexed lookup per request. A keyed
    hash (HMAC with the app's secret) would add no strength and would silently invalidate
    every key the day the secret is rotated.
    """

    __tablename__ = "api_key"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, unique=True, index=True)
    key_hash: str = Field(max_length=64, unique=True, index=True)
    # The first characters of the key, to recognise it in a list (not enough to use it).
    prefix: str = Field(max_length=16)
    # A Flask-Limiter rate limit string, e.g. "100/minute" or "1000 per hour;20 per second".
    rate_limit: str = Field(default="100/minute", max_length=100)
    # Back-office systems may post status updates; residents' apps may only report.
    can_post_updates: bool = Field(default=False)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)

    @property
    def active(self) -> bool:
        """Whether the key may still be used."""
        return self.revoked_at is None


class ServiceAttribute(SQLModel, table=True):
    """One attribute of a service definition (Open311 ``GET services/{code}``).

    No foreign key to ``service``: the defaults are seeded by the migration, before the
    catalogue itself is seeded; an attribute of a code absent from the catalogue is ignored.
    """

    __tablename__ = "open311_service_attribute"
    __table_args__ = (UniqueConstraint("service_code", "code", name="uq_open311_attribute_code"),)

    id: int | None = Field(default=None, primary_key=True)
    service_code: str = Field(max_length=64, index=True)
    code: str = Field(max_length=64)
    # False: an information shown to the resident, not a question.
    variable: bool = Field(default=True)
    datatype: str = Field(max_length=32)
    required: bool = Field(default=False)
    datatype_description_fr: str = Field(default="", max_length=500)
    datatype_description_en: str = Field(default="", max_length=500)
    sort_order: int = Field(default=1)
    description_fr: str = Field(max_length=1000)
    description_en: str = Field(max_length=1000)
    # For the two list datatypes: [{"key": ..., "name_fr": ..., "name_en": ...}, ...].
    values: list[dict[str, str]] | None = Field(default=None, sa_column=Column(JSON))


class Open311Request(SQLModel, table=True):
    """What an Open311 POST carried beyond the report itself."""

    __tablename__ = "open311_request"

    report_id: int = Field(primary_key=True, foreign_key="report.id", ondelete="CASCADE")
    api_key_id: int | None = Field(
        default=None, foreign_key="api_key.id", index=True, ondelete="SET NULL"
    )
    attributes: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    # Stored for staff, never fetched (no network) nor republished unvetted.
    media_url: str | None = Field(default=None, max_length=2000)
    address_id: str | None = Field(default=None, max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Open311Contact(SQLModel, table=True):
    """The Open311 personal fields beyond e-mail and phone, encrypted with the contact keys.

    Hangs off the report's contact row and goes with it (ON DELETE CASCADE), so the retention
    purge of contact details removes these too.
    """

    __tablename__ = "open311_contact"

    contact_id: int = Field(primary_key=True, foreign_key="contact.id", ondelete="CASCADE")
    # Fernet token of {"first_name", "last_name", "device_id", "account_id"}.
    ciphertext: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class ExternalUpdate(SQLModel, table=True):
    """An update posted by a back-office system, remembered by its own ``update_id``."""

    __tablename__ = "open311_external_update"
    __table_args__ = (
        UniqueConstraint("api_key_id", "update_id", name="uq_open311_external_update"),
    )

    id: int | None = Field(default=None, primary_key=True)
    api_key_id: int = Field(foreign_key="api_key.id", ondelete="CASCADE")
    update_id: str = Field(max_length=128)
    report_update_id: int = Field(foreign_key="report_update.id", index=True, ondelete="CASCADE")
    request_hash: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
