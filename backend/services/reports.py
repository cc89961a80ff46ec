"""Reports: intake (idempotent, transactional with its job), tracking, status history."""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import redis
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from backend.db import insert_row, utcnow
from backend.models import Contact, IdempotencyRecord, Report, ReportStatus, ReportUpdate, Service
from backend.services import outbox
from backend.services.areas import OutsideCityError, area_for_position
from backend.services.catalogue import get_active_service
from backend.services.contacts import ContactCipher, ContactDetails, delete_contact, make_contact
from backend.services.photos import PhotoLimits, clean_photo, delete_photo, store_photo

PROCESS_JOB = "workers.jobs.process_report"
INTAKE_SCOPE = "POST /api/v1/reports"


class UnknownServiceError(ValueError):
    """A service code that is not in the catalogue."""


class IdempotencyConflictError(ValueError):
    """An idempotency key reused with another request body."""


__all__ = [
    "IdempotencyConflictError",
    "IntakeSettings",
    "OutsideCityError",
    "SubmitResult",
    "UnknownServiceError",
    "forget_contact",
    "get_by_tracking_id",
    "public_history",
    "public_view",
    "request_fingerprint",
    "submit_report",
]


@dataclass(frozen=True)
class IntakeSettings:
    """What intake needs from the configuration."""

    media_path: Path
    photo_limits: PhotoLimits
    bbox: tuple[float, float, float, float] | None
    h3_resolution: int
    idempotency_ttl: timedelta
    contact_retention: timedelta


@dataclass(frozen=True)
class SubmitResult:
    """The report, and whether it was created now or replayed from an idempotency key."""

    report: Report
    replayed: bool


def new_tracking_id() -> str:
    """An unguessable tracking id: 144 random bits, URL-safe."""
    return secrets.token_urlsafe(18)


def request_fingerprint(data: dict[str, Any], photo: bytes | None) -> str:
    """A hash of what the request asks, independent of JSON key order or multipart boundary."""
    digest = hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode())
    if photo is not None:
        digest.update(b"\x00photo:" + hashlib.sha256(photo).digest())
    return digest.hexdigest()


def _replay(session: Session, key: str, fingerprint: str, ttl: timedelta) -> SubmitResult | None:
    record = session.get(IdempotencyRecord, (INTAKE_SCOPE, key))
    if record is None:
        return None
    if record.created_at < utcnow() - ttl:
        # An expired key is free again.
        session.delete(record)
        session.commit()
        return None
    if record.request_hash != fingerprint:
        raise IdempotencyConflictError(
            "this Idempotency-Key was already used with a different request body; "
            "use a new key for a new report"
        )
    report = session.get(Report, record.report_id) if record.report_id else None
    if report is None:
        return None
    return SubmitResult(report=report, replayed=True)


def submit_report(
    *,
    session: Session,
    data: dict[str, Any],
    photo: bytes | None,
    idempotency_key: str | None,
    settings: IntakeSettings,
    cipher: ContactCipher,
    connection: redis.Redis | None,
    source: str = "api",
    add_rows: Callable[[Session, Report, Contact | None], None] | None = None,
) -> SubmitResult:
    """Store a new report with its history, contact, idempotency record and outbox row.

    Everything is committed in one transaction; the job reaches RQ after the commit, and
    stays in the outbox if Redis is down. ``source`` names the channel (``api``,
    ``open311``...); ``add_rows`` lets a channel add its own rows to that same transaction
    (the report has its id; the contact, when there is one, is flushed and has its id).
    """
    fingerprint = request_fingerprint(data, photo)
    if idempotency_key:
        replayed = _replay(session, idempotency_key, fingerprint, settings.idempotency_ttl)
        if replayed is not None:
            return replayed

    service_hint = data.get("service_code")
    if service_hint and get_active_service(session=session, code=service_hint) is None:
        raise UnknownServiceError(
            f"unknown service_code '{service_hint}'; see GET /api/v1/services for the catalogue"
        )
    lat, lon = data.get("lat"), data.get("lon")
    area_code = None
    if lat is not None and lon is not None:
        area_code = area_for_position(
            session=session,
            lat=lat,
            lon=lon,
            bbox=settings.bbox,
            h3_resolution=settings.h3_resolution,
        )
    photo_name = None
    if photo is not None:
        cleaned = clean_photo(photo, limits=settings.photo_limits)
        photo_name = store_photo(cleaned, media_path=settings.media_path)

    now = utcnow()
    report = Report(
        tracking_id=new_tracking_id(),
        source=source,
        description=data["description"],
        lat=lat,
        lon=lon,
        address=data.get("address"),
        area_code=area_code,
        service_hint=service_hint,
        language=data.get("language"),
        photo_name=photo_name,
        status=ReportStatus.RECEIVED,
        created_at=now,
        updated_at=now,
    )
    try:
        insert_row(session, report)
        assert report.id is not None
        insert_row(
            session,
            ReportUpdate(report_id=report.id, status=ReportStatus.RECEIVED, created_at=now),
        )
        contact: Contact | None = None
        given = data.get("contact")
        if given and (given.get("email") or given.get("phone")):
            details = ContactDetails(
                email=given.get("email"),
                phone=given.get("phone"),
                consent_notifications=bool(given.get("consent_notifications")),
            )
            contact = make_contact(cipher=cipher, report_id=report.id, details=details)
            session.add(contact)
        if idempotency_key:
            session.add(
                IdempotencyRecord(
                    scope=INTAKE_SCOPE,
                    key=idempotency_key,
                    request_hash=fingerprint,
                    report_id=report.id,
                    created_at=now,
                )
            )
        message = outbox.add_job(
            session=session,
            job_path=PROCESS_JOB,
            args=[report.id],
            job_id=f"process-report-{report.id}",
        )
        if add_rows is not None:
            if contact is not None:
                session.flush()
            add_rows(session, report, contact)
        session.commit()
    except IntegrityError:
        # Two retries of one request raced: the other one won; answer as it did.
        session.rollback()
        if photo_name:
            delete_photo(photo_name, media_path=settings.media_path)
        if idempotency_key:
            replayed = _replay(session, idempotency_key, fingerprint, settings.idempotency_ttl)
            if replayed is not None:
                return replayed
        raise
    except BaseException:
        session.rollback()
        if photo_name:
            delete_photo(photo_name, media_path=settings.media_path)
        raise

    if connection is not None:
        outbox.push(message, connection=connection)
    return SubmitResult(report=report, replayed=False)


def get_by_tracking_id(*, session: Session, tracking_id: str) -> Report | None:
    """The report with this tracking id, or None."""
    return session.exec(select(Report).where(Report.tracking_id == tracking_id)).first()


def public_history(*, session: Session, report: Report) -> list[ReportUpdate]:
    """A report's status history, oldest first."""
    stmt = (
        select(ReportUpdate)
        .where(ReportUpdate.report_id == report.id)
        .order_by(col(ReportUpdate.created_at), col(ReportUpdate.id))
    )
    return list(session.exec(stmt))


def set_status(
    *,
    session: Session,
    report: Report,
    status: ReportStatus,
    public_note: str | None = None,
    author: str | None = None,
) -> ReportUpdate:
    """Move a report to a status, with a public note, recording it in the history."""
    now = utcnow()
    report.status = status
    report.updated_at = now
    if report.is_closed and report.closed_at is None:
        report.closed_at = now
    elif not report.is_closed:
        report.closed_at = None
    assert report.id is not None, "set_status needs a stored report"
    update = ReportUpdate(
        report_id=report.id, status=status, public_note=public_note, author=author, created_at=now
    )
    session.add(report)
    session.add(update)
    return update


def public_view(*, session: Session, report: Report, lang: str = "fr") -> dict[str, Any]:
    """What the holder of a tracking id may see: status, category, area, public history."""
    service = session.get(Service, report.service_code) if report.service_code else None
    return {
        "tracking_id": report.tracking_id,
        "status": report.status,
        "service_code": report.service_code,
        "service_name": service.name(lang) if service else None,
        "area_code": report.area_code,
        "created_at": report.created_at,
        "updated_at": report.updated_at,
        "closed_at": report.closed_at,
        "photo_url": f"/media/{report.photo_name}" if report.photo_name else None,
        "history": [
            {"status": u.status, "public_note": u.public_note, "created_at": u.created_at}
            for u in public_history(session=session, report=report)
        ],
    }


def forget_contact(*, session: Session, tracking_id: str) -> bool:
    """Delete the contact details of a report, if the report exists (True even if none were)."""
    report = get_by_tracking_id(session=session, tracking_id=tracking_id)
    if report is None or report.id is None:
        return False
    delete_contact(session=session, report_id=report.id)
    return True
