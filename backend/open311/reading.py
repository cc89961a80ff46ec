"""GET requests, requests/{id} and tokens/{token}: reports rendered as Open311 requests."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

import h3
from sqlalchemy import func, or_
from sqlmodel import Session, col, select

from backend.db import utcnow
from backend.models import (
    Area,
    Open311Request,
    Report,
    ReportUpdate,
    Service,
)
from backend.open311.catalogue import service_notice
from backend.open311.errors import Open311Error
from backend.open311.schemas import w3c
from backend.services import reports as reports_service
from backend.services import tracking
from backend.services.reports import public_position
from backend.services.workflow import CLOSED_STATUSES, is_closed, open311_status

MAX_WINDOW = timedelta(days=90)


def token_lookup(*, session: Session, token: str) -> dict[str, str]:
    """GET tokens/{token}: a report's tracking id, or the resident token of the POST's answer,
    gives its service_request_id."""
    report = reports_service.get_by_tracking_id(session=session, tracking_id=token)
    if report is None:
        report = tracking.report_for_token(session=session, token=token)
    if report is None or report.id is None:
        raise Open311Error(404, f"token '{token}' not found")
    return {"service_request_id": str(report.id), "token": token}


def as_report_id(text: str) -> int | None:
    """A service_request_id as a report id, or None when it cannot be one (not a 32-bit id)."""
    text = text.strip()
    if not text.isdigit() or len(text) > 10 or int(text) >= 2**31:
        return None
    return int(text)


def window(
    start: datetime | None, end: datetime | None, now: datetime
) -> tuple[datetime, datetime]:
    """The date window: the last 90 days by default, at most 90 days apart."""
    if start is None and end is None:
        return now - MAX_WINDOW, now
    if start is None:
        assert end is not None
        return end - MAX_WINDOW, end
    if end is None:
        return start, start + MAX_WINDOW
    if end < start:
        raise Open311Error(400, "end_date is before start_date")
    if end - start > MAX_WINDOW:
        raise Open311Error(400, "start_date and end_date may not be more than 90 days apart")
    return start, end


_COLUMNS: tuple[Any, ...] = (
    Report.id,
    Report.status,
    Report.service_code,
    Report.service_hint,
    Report.description_public,
    Report.created_at,
    Report.updated_at,
    Report.closed_at,
    Report.address,
    Report.address_public,
    Report.area_code,
    Report.lat,
    Report.lon,
)


def _area_info(session: Session, codes: set[str]) -> dict[str, tuple[float, float, str | None]]:
    info: dict[str, tuple[float, float, str | None]] = {}
    if not codes:
        return info
    stmt = select(Area.code, Area.centroid_lat, Area.centroid_lon, Area.parent_code).where(
        col(Area.code).in_(codes)
    )
    for code, lat, lon, parent in session.connection().execute(stmt).all():
        info[code] = (lat, lon, parent)
    for code in codes - set(info):
        # No areas loaded: the report's area is an H3 cell; its centre is the coarse position.
        try:
            lat, lon = h3.cell_to_latlng(code)
        except (ValueError, TypeError, h3.H3BaseException):
            continue
        info[code] = (lat, lon, None)
    return info


def _zipcode(parent_code: str | None) -> str | None:
    # Marseille's arrondissements are INSEE codes 13201-13216; their postcodes are 13001-13016.
    if parent_code and re.fullmatch(r"132(0[1-9]|1[0-6])", parent_code):
        return "130" + parent_code[-2:]
    return None


def _render(
    session: Session, rows: list[Any], lang: str, grid: float, page_ids: Any = None
) -> list[dict[str, Any]]:
    """Open311 requests from report rows, with three batched look-ups (notes, extras, areas).

    Positions follow the public site's posture (docs/privacy.md): object categories at the
    centre of their ``grid`` cell (``PUBLIC_GRID_DEGREES``), categories about people without
    any. The same for every client, API key or not: what Open311 answers is public (clients
    such as FixMyStreet show it on their own maps); exact positions are for staff.

    ``page_ids`` is the page's query of report ids: the look-ups filter on it as a subquery,
    which costs the database one more index scan but spares binding a thousand parameters.
    """
    if not rows:
        return []
    ids: Any = page_ids if page_ids is not None else [row.id for row in rows]
    services = {s.code: s for s in session.exec(select(Service))}
    facts = {code: _service_facts(service, lang) for code, service in services.items()}
    notes: dict[int, str] = {}
    # Only scrubbed notes are public: a note the worker has not scrubbed yet is not shown.
    note_stmt = (
        select(ReportUpdate.report_id, ReportUpdate.public_note_published)
        .where(
            col(ReportUpdate.report_id).in_(ids),
            col(ReportUpdate.public_note_published).is_not(None),
        )
        .order_by(col(ReportUpdate.report_id), col(ReportUpdate.created_at), col(ReportUpdate.id))
    )
    # fetchall, not row-by-row fetchone: a thousand round trips through the driver's API.
    for report_id, note in session.connection().execute(note_stmt).all():
        if note and note.strip():
            notes[report_id] = note  # the last one wins: the latest public note
    address_ids: dict[int, str] = dict(
        session.connection()
        .execute(
            select(Open311Request.report_id, Open311Request.address_id).where(
                col(Open311Request.report_id).in_(ids), col(Open311Request.address_id).is_not(None)
            )
        )
        .all()
    )
    areas = _area_info(session, {row.area_code for row in rows if row.area_code})
    out = []
    empty = (None, None, None, None, None, False)
    for row in rows:
        code = row.service_code or row.service_hint
        name, department, notice, target, about_people, known = (
            facts.get(code, empty) if code else empty
        )
        area = areas.get(row.area_code) if row.area_code else None
        address_id = address_ids.get(row.id)
        # The address as the resident wrote it is staff-only: the public one is scrubbed, and
        # absent until the worker has scrubbed it. (When it only repeats the address_id, it
        # is not repeated.)
        address = row.address_public if row.address != address_id else None
        lat, lon = public_position(row.lat, row.lon, grid=grid)
        description, status_notes = row.description_public, notes.get(row.id)
        if about_people:
            # Categories about people are never shown report by report (docs/privacy.md):
            # lists leave them out, and asked by id they give their status only: no
            # position, no address, no text (even scrubbed, it is about someone); the
            # zipcode (the arrondissement) is the finest place given.
            lat, lon = None, None
            address, address_id = None, None
            description, status_notes = None, None
        closed = is_closed(row.status)
        created = row.created_at
        out.append(
            {
                "service_request_id": str(row.id),
                "status": open311_status(row.status),
                "status_notes": status_notes,
                "service_name": name,
                "service_code": code,
                # Only the scrubbed text is public; before scrubbing, nothing.
                "description": description,
                "agency_responsible": department,
                "service_notice": notice,
                "requested_datetime": w3c(created),
                "updated_datetime": w3c(
                    row.closed_at if closed and row.closed_at else row.updated_at
                ),
                "expected_datetime": w3c(created + target) if known else None,
                "address": address,
                "address_id": address_id,
                "zipcode": _zipcode(area[2]) if area else None,
                "lat": lat,
                "long": lon,
                # Photos are not published: no moderation step exists yet (faces, plates).
                "media_url": None,
            }
        )
    return out


def _service_facts(service: Service, lang: str) -> tuple[Any, ...]:
    return (
        service.name(lang),
        service.department,
        service_notice(service, lang),
        timedelta(days=service.target_days),
        service.about_people,
        True,
    )


def list_requests(
    *,
    session: Session,
    query: dict[str, Any],
    lang: str,
    grid: float,
    now: datetime | None = None,
) -> list[dict[str, Any]]:
    """GET requests: filters, a window of at most 90 days, newest first, pages of ≤ 1,000."""
    stmt = select(*_COLUMNS)
    if query.get("service_request_id"):
        # "This overrides all other arguments."
        ids = [as_report_id(value) for value in query["service_request_id"]]
        # An id that cannot exist matches nothing, like an id that does not exist.
        stmt = stmt.where(col(Report.id).in_([i for i in ids if i is not None]))
    else:
        start, end = window(query.get("start_date"), query.get("end_date"), now or utcnow())
        stmt = stmt.where(col(Report.created_at) >= start, col(Report.created_at) <= end)
        code = func.coalesce(Report.service_code, Report.service_hint)
        # Categories about people are never listed report by report (docs/privacy.md).
        stmt = stmt.where(or_(code.is_(None), code.not_in(people_codes(session))))
        if query.get("service_code"):
            stmt = stmt.where(code.in_(query["service_code"]))
        statuses = set(query.get("status") or ())
        closed = [str(s) for s in CLOSED_STATUSES]
        if statuses == {"open"}:
            stmt = stmt.where(col(Report.status).not_in(closed))
        elif statuses == {"closed"}:
            stmt = stmt.where(col(Report.status).in_(closed))
    page, size = query.get("page", 1), query.get("page_size", 1000)
    stmt = (
        stmt.order_by(col(Report.created_at).desc(), col(Report.id).desc())
        .offset((page - 1) * size)
        .limit(size)
    )
    page_ids = select(stmt.subquery().c.id)
    # Core execution: plain rows, without the ORM's per-row loading machinery.
    rows = list(session.connection().execute(stmt).all())
    return _render(session, rows, lang, grid, page_ids)


def people_codes(session: Session) -> list[str]:
    """The service codes of the categories about people (noise, public order...)."""
    return list(session.exec(select(Service.code).where(col(Service.about_people))))


def get_request(*, session: Session, request_id: str, lang: str, grid: float) -> dict[str, Any]:
    """GET requests/{id}."""
    report_id = as_report_id(request_id)
    row = (
        session.connection().execute(select(*_COLUMNS).where(Report.id == report_id)).first()
        if report_id is not None
        else None
    )
    if row is None:
        raise Open311Error(404, f"service_request_id '{request_id}' not found")
    return _render(session, [row], lang, grid)[0]
