"""Reports: intake (idempotent, transactional with its job), tracking, status history."""

from __future__ import annotations

import functools
import hashlib
import json
import math
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Executable, String, bindparam, cast, func, insert, literal
from sqlalchemy import select as sa_select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from backend.db import utcnow
from backend.jobs import PROCESS_REPORT
from backend.models import (
    Contact,
    IdempotencyRecord,
    OutboxMessage,
    Report,
    ReportStatus,
    ReportUpdate,
    Service,
)
from backend.services import notifications
from backend.services.areas import OutsideCityError, area_for_position
from backend.services.catalogue import UnknownServiceError, get_active_service
from backend.services.contacts import ContactCipher, ContactDetails, delete_contact, make_contact
from backend.services.photos import PhotoLimits, clean_photo, delete_photo, store_photo
from backend.services.tracking import hash_token, resident_token
from backend.services.workflow import is_closed

# Its RQ job id is this prefix and the report's id (``process_job_id``; in SQL, in the
# PostgreSQL intake statement): one id per report, so a report is never queued twice.
PROCESS_JOB_ID_PREFIX = "process-report-"
INTAKE_SCOPE = "POST /api/v1/reports"


class IdempotencyConflictError(ValueError):
    """An idempotency key reused with another request body."""


__all__ = [
    "IdempotencyConflictError",
    "IntakeSettings",
    "OutsideCityError",
    "SubmitResult",
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
    # The key the residents' tokens are derived with (the app's secret key).
    token_key: bytes

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> IntakeSettings:
        """The intake settings of an app's config."""
        return cls(
            media_path=Path(config["MEDIA_PATH"]),
            photo_limits=PhotoLimits(
                max_bytes=config["PHOTO_MAX_BYTES"],
                max_pixels=config["PHOTO_MAX_PIXELS"],
                max_side=config["PHOTO_MAX_SIDE"],
            ),
            bbox=config["CITY_BBOX"],
            h3_resolution=config["H3_RESOLUTION"],
            idempotency_ttl=timedelta(hours=config["IDEMPOTENCY_TTL_HOURS"]),
            contact_retention=timedelta(days=config["CONTACT_RETENTION_DAYS"]),
            token_key=str(config["SECRET_KEY"]).encode("utf-8"),
        )


@dataclass(frozen=True)
class SubmitResult:
    """The stored report's ids and time, whether it was created now or replayed, and the
    resident's token (``backend.services.tracking``: given once, only its hash is stored).

    Not the ``Report`` itself: building that ORM instance (SQLAlchemy instruments each of its
    attributes) was the largest cost left in intake's own code, for values of which the
    answer and the channels read three (its step in docs/BENCHMARKS.md's instruction counts).
    """

    report_id: int
    tracking_id: str
    created_at: datetime
    replayed: bool
    token: str


def process_job_id(report_id: int) -> str:
    """The RQ job id of a report's processing job."""
    return f"{PROCESS_JOB_ID_PREFIX}{report_id}"


def new_tracking_id() -> str:
    """An unguessable tracking id: 144 random bits, URL-safe."""
    return secrets.token_urlsafe(18)


def request_fingerprint(data: dict[str, Any], photo: bytes | None) -> str:
    """A hash of what the request asks, independent of JSON key order or multipart boundary."""
    digest = hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode())
    if photo is not None:
        digest.update(b"\x00photo:" + hashlib.sha256(photo).digest())
    return digest.hexdigest()


def _replay(
    session: Session, key: str, fingerprint: str, settings: IntakeSettings
) -> SubmitResult | None:
    ttl = settings.idempotency_ttl
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
    if report is None or report.id is None:
        return None
    token = resident_token(settings.token_key, report.tracking_id)
    return SubmitResult(report.id, report.tracking_id, report.created_at, True, token)


# The columns intake sets; the others stay NULL until the worker runs. Both forms of the
# intake statement (below) are built from this list: a new column intake must fill goes here.
_INTAKE_COLUMNS = (
    "tracking_id",
    "source",
    "description",
    "lat",
    "lon",
    "address",
    "area_code",
    "service_hint",
    "language",
    "photo_name",
    "token_hash",
    "status",
    "needs_triage",
    "created_at",
    "updated_at",
)


@functools.cache
def _intake_statements(dialect: str) -> tuple[Executable, ...]:
    """The INSERTs of a new report, its first history step and its outbox row, built once.

    On PostgreSQL they are one statement (data-modifying CTEs): one round trip instead of
    three, the largest single cost of intake after the HTTP server (decision 0004). SQLite
    has no data-modifying CTEs: there they are three statements, cheap in-process calls.
    Both write the same rows; the suite runs on both databases.
    """
    report_t = Report.__table__  # type: ignore[attr-defined]
    update_t = ReportUpdate.__table__  # type: ignore[attr-defined]
    outbox_t = OutboxMessage.__table__  # type: ignore[attr-defined]
    params = {name: bindparam(f"p_{name}", type_=report_t.c[name].type) for name in _INTAKE_COLUMNS}
    insert_report = insert(report_t).values(params).returning(report_t.c.id)
    if dialect != "postgresql":
        step = insert(update_t).values(
            report_id=bindparam("p_id"),
            status=params["status"],
            created_at=params["created_at"],
        )
        job = insert(outbox_t).values(
            job_path=PROCESS_REPORT.path,
            args=bindparam("p_args", type_=outbox_t.c.args.type),
            job_id=bindparam("p_job_id"),
            queue=PROCESS_REPORT.queue,
            created_at=params["created_at"],
            attempts=0,
        )
        return insert_report, step, job
    new_report = insert_report.cte("new_report")
    step_cte = (
        insert(update_t)
        .from_select(
            ["report_id", "status", "created_at"],
            sa_select(new_report.c.id, params["status"], params["created_at"]),
        )
        .returning(update_t.c.id)
        .cte("first_step")
    )
    job_cte = (
        insert(outbox_t)
        .from_select(
            ["job_path", "args", "job_id", "queue", "created_at", "attempts"],
            sa_select(
                literal(PROCESS_REPORT.path),
                func.json_build_array(new_report.c.id),
                literal(PROCESS_JOB_ID_PREFIX) + cast(new_report.c.id, String),
                literal(PROCESS_REPORT.queue),
                params["created_at"],
                literal(0),
            ),
        )
        .returning(outbox_t.c.id)
        .cte("process_job")
    )
    return (sa_select(new_report.c.id).add_cte(step_cte, job_cte),)


def _insert_report(connection: Connection, row: dict[str, Any]) -> int:
    """Write a new report (``row``: its ``_INTAKE_COLUMNS``) with its first history step and
    its outbox row; return its id.

    Core statements in the connection's transaction: the ORM's unit of work costs several
    times more on this hot path.
    """
    values = {f"p_{name}": row[name] for name in _INTAKE_COLUMNS}
    statements = _intake_statements(connection.dialect.name)
    report_id: int = connection.execute(statements[0], values).scalar_one()
    if len(statements) > 1:
        values.update(p_id=report_id, p_args=[report_id], p_job_id=process_job_id(report_id))
        connection.execute(statements[1], values)
        connection.execute(statements[2], values)
    return report_id


def _insert_report_alone(engine: Engine, row: dict[str, Any]) -> int:
    """Write a report that has no other rows beside it, in a transaction of its own.

    Most reports come so: no contact, no Idempotency-Key, no channel rows. On PostgreSQL the
    intake statement is a single statement, atomic by itself: run in autocommit it needs no
    COMMIT round trip, and no ORM session is begun for it (decision 0004).
    """
    if len(_intake_statements(engine.dialect.name)) == 1:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            return _insert_report(connection, row)
    with engine.begin() as connection:
        return _insert_report(connection, row)


def _add_rows_beside(
    session: Session,
    report_id: int,
    created_at: datetime,
    *,
    details: ContactDetails | None,
    cipher: ContactCipher,
    idempotency: tuple[str, str] | None,
    add_rows: Callable[[Session, int, Contact | None], None] | None,
) -> None:
    """Add a stored report's rare rows to the session's transaction.

    They are its contact, its idempotency record (the key and the request's fingerprint) and
    a channel's own rows (``add_rows``).
    """
    contact = None
    if details is not None:
        contact = make_contact(cipher=cipher, report_id=report_id, details=details)
        session.add(contact)
    if idempotency is not None:
        key, fingerprint = idempotency
        session.add(
            IdempotencyRecord(
                scope=INTAKE_SCOPE,
                key=key,
                request_hash=fingerprint,
                report_id=report_id,
                created_at=created_at,
            )
        )
    if add_rows is not None:
        if contact is not None:
            session.flush()
        add_rows(session, report_id, contact)


def submit_report(
    *,
    session: Session,
    data: dict[str, Any],
    photo: bytes | None,
    idempotency_key: str | None,
    settings: IntakeSettings,
    cipher: ContactCipher,
    source: str = "api",
    add_rows: Callable[[Session, int, Contact | None], None] | None = None,
) -> SubmitResult:
    """Store a new report with its history, contact, idempotency record and outbox row.

    Everything is committed in one transaction (a report with no rows beside it commits on
    its own connection, without the session); the outbox relay takes the job to RQ, so
    intake never waits on Redis and loses nothing while Redis is down. ``source`` names the
    channel (``api``, ``open311``...); ``add_rows`` lets a channel add its own rows to that
    same transaction (given the report's id; the contact, when there is one, is flushed and
    has its id).
    """
    fingerprint = request_fingerprint(data, photo) if idempotency_key else ""
    if idempotency_key:
        replayed = _replay(session, idempotency_key, fingerprint, settings)
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
    tracking_id = new_tracking_id()
    token = resident_token(settings.token_key, tracking_id)
    row = {
        "tracking_id": tracking_id,
        "source": source,
        "description": data["description"],
        "lat": lat,
        "lon": lon,
        "address": data.get("address"),
        "area_code": area_code,
        "service_hint": service_hint,
        "language": data.get("language"),
        "photo_name": photo_name,
        "token_hash": hash_token(token),
        "status": ReportStatus.RECEIVED.value,
        "needs_triage": False,
        "created_at": now,
        "updated_at": now,
    }
    given = data.get("contact") or {}
    details = None
    if given.get("email") or given.get("phone"):
        details = ContactDetails(
            email=given.get("email"),
            phone=given.get("phone"),
            consent_notifications=bool(given.get("consent_notifications")),
        )
    try:
        if details is None and not idempotency_key and add_rows is None:
            report_id = _insert_report_alone(session.get_bind().engine, row)
        else:
            report_id = _insert_report(session.connection(), row)
            _add_rows_beside(
                session,
                report_id,
                now,
                details=details,
                cipher=cipher,
                idempotency=(idempotency_key, fingerprint) if idempotency_key else None,
                add_rows=add_rows,
            )
            session.commit()
    except IntegrityError:
        # Two retries of one request raced: the other one won; answer as it did.
        session.rollback()
        if photo_name:
            delete_photo(photo_name, media_path=settings.media_path)
        if idempotency_key:
            replayed = _replay(session, idempotency_key, fingerprint, settings)
            if replayed is not None:
                return replayed
        raise
    except BaseException:
        session.rollback()
        if photo_name:
            delete_photo(photo_name, media_path=settings.media_path)
        raise

    return SubmitResult(report_id, row["tracking_id"], now, False, token)


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
    """Move a report to a status, with a public note, recording it in the history.

    The residents who asked to hear back are told (``notifications.queue_for_update``, in
    this transaction): at once for a step without a note; for a step with one, once the note
    is scrubbed (``public_notes.queue_scrubbing``, which the caller queues), by the scrubbing
    job, so that only the published note is ever sent.
    """
    now = utcnow()
    report.status = status
    report.updated_at = now
    if is_closed(report.status) and report.closed_at is None:
        report.closed_at = now
    elif not is_closed(report.status):
        report.closed_at = None
    assert report.id is not None, "set_status needs a stored report"
    update = ReportUpdate(
        report_id=report.id, status=status, public_note=public_note, author=author, created_at=now
    )
    session.add(report)
    session.add(update)
    if not public_note:
        session.flush()
        notifications.queue_for_update(session=session, update=update)
    return update


def snap(value: float, grid: float) -> float:
    """The centre of the grid cell holding a coordinate (the only position ever published)."""
    return round((math.floor(value / grid) + 0.5) * grid, 6)


def public_position(
    lat: float | None, lon: float | None, *, grid: float
) -> tuple[float | None, float | None]:
    """A report's position as anything public shows it: the centre of its ``grid`` cell.

    One function for the open data and Open311, so that the two never publish two different
    coarsenings of one report (which together would narrow it down).
    """
    if lat is None or lon is None:
        return None, None
    return snap(lat, grid), snap(lon, grid)


def public_view(*, session: Session, report: Report, lang: str = "fr") -> dict[str, Any]:
    """What the holder of a tracking id may see: status, category, area, public history.

    No photo: it is shown only with the resident's token (``backend.services.tracking``).
    """
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
        # The resident's photo (and text): only with their token (the API adds them then).
        "photo_url": None,
        # Only scrubbed notes are public; one the worker has not scrubbed yet is left out.
        "history": [
            {"status": u.status, "public_note": u.public_note_published, "created_at": u.created_at}
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
