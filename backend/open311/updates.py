"""mySociety's servicerequestupdates extension: the status history out, back-office updates in."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from backend.db import utcnow
from backend.models import (
    ApiKey,
    ExternalUpdate,
    Report,
    ReportStatus,
    ReportUpdate,
)
from backend.open311.errors import Open311Error
from backend.open311.reading import as_report_id, people_codes, window
from backend.open311.schemas import w3c
from backend.services import feedback as feedback_service
from backend.services import public_notes
from backend.services import reports as reports_service
from backend.services.reading import mark_read
from backend.services.workflow import UPDATE_STATUS_IN, UPDATE_STATUS_OUT


def _update_view(update: ReportUpdate) -> dict[str, Any]:
    return {
        "update_id": str(update.id),
        "service_request_id": str(update.report_id),
        "status": UPDATE_STATUS_OUT.get(update.status, "open"),
        "updated_datetime": w3c(update.created_at),
        # Only the scrubbed note is public; before the worker has scrubbed it, none.
        "description": update.public_note_published or "",
        "media_url": "",
    }


def list_updates(
    *, session: Session, query: dict[str, Any], now: datetime | None = None
) -> list[dict[str, Any]]:
    """GET servicerequestupdates: status changes in a window (the last 90 days by default)."""
    start, end = window(query.get("start_date"), query.get("end_date"), now or utcnow())
    page, size = query.get("page", 1), query.get("page_size", 1000)
    stmt = (
        select(ReportUpdate)
        .where(
            col(ReportUpdate.created_at) >= start,
            col(ReportUpdate.created_at) <= end,
            # The first step (received) is the request itself, not an update.
            col(ReportUpdate.status) != ReportStatus.RECEIVED,
            # A report about people is never shown report by report, nor its updates.
            col(ReportUpdate.report_id).not_in(
                select(Report.id).where(
                    func.coalesce(Report.service_code, Report.service_hint).in_(
                        people_codes(session)
                    )
                )
            ),
        )
        .order_by(col(ReportUpdate.created_at), col(ReportUpdate.id))
        .offset((page - 1) * size)
        .limit(size)
    )
    return [_update_view(update) for update in session.exec(stmt)]


def _fingerprint(form: dict[str, Any]) -> str:
    keys = ("service_request_id", "status", "updated_datetime", "description", "media_url")
    payload = {k: (w3c(form[k]) if k == "updated_datetime" else form.get(k)) for k in keys}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def _replayed(session: Session, api_key: ApiKey, form: dict[str, Any]) -> str | None:
    existing = session.exec(
        select(ExternalUpdate).where(
            ExternalUpdate.api_key_id == api_key.id, ExternalUpdate.update_id == form["update_id"]
        )
    ).first()
    if existing is None:
        return None
    if existing.request_hash != _fingerprint(form):
        raise Open311Error(
            400,
            f"update_id '{form['update_id']}' was already posted with different content; "
            "an update_id names one update",
        )
    return str(existing.report_update_id)


def post_update(
    *, session: Session, api_key: ApiKey, form: dict[str, Any], now: datetime | None = None
) -> str:
    """POST servicerequestupdates: apply a back-office update once per ``update_id``."""
    if not api_key.can_post_updates:
        raise Open311Error(403, "this api_key may not post updates; ask the city for one that can")
    replay = _replayed(session, api_key, form)
    if replay is not None:
        return replay
    status = UPDATE_STATUS_IN.get(form["status"].strip().lower())
    if status is None:
        raise Open311Error(
            400, f"status '{form['status']}' unknown; use one of {', '.join(UPDATE_STATUS_IN)}"
        )
    request_id = form["service_request_id"]
    report_id = as_report_id(request_id)
    report = session.get(Report, report_id) if report_id is not None else None
    if report is None:
        raise Open311Error(404, f"service_request_id '{request_id}' not found")
    at: datetime = form["updated_datetime"]
    now = now or utcnow()
    if at > now + timedelta(minutes=5):
        raise Open311Error(400, "updated_datetime is in the future")
    key_id = api_key.id
    assert report_id is not None and key_id is not None
    latest = session.exec(
        select(func.max(ReportUpdate.created_at)).where(ReportUpdate.report_id == report.id)
    ).one()
    note = form.get("description") or None
    author = f"open311:{api_key.name}"
    try:
        if latest is not None and at < latest:
            # A late update, older than the report's last step: history only, the report's
            # current status (newer) stands.
            update = ReportUpdate(
                report_id=report_id,
                status=status,
                public_note=note,
                author=author,
                created_at=at,
            )
            session.add(update)
            # The back office has read it, even though its update came late.
            mark_read(session=session, report=report, actor=author)
        else:
            update = reports_service.set_status(
                session=session, report=report, status=status, public_note=note, author=author
            )
            update.created_at = at
            # The public indicators follow the new status without waiting for the catch-up.
            feedback_service.enqueue_refresh(session=session, report_id=report_id)
        session.flush()
        assert update.id is not None
        # A back office's note is published like an agent's: only once a worker scrubbed it.
        public_notes.queue_scrubbing(session=session, update=update)
        session.add(
            ExternalUpdate(
                api_key_id=key_id,
                update_id=form["update_id"],
                report_update_id=update.id,
                request_hash=_fingerprint(form),
            )
        )
        session.commit()
    except IntegrityError:
        # The same update posted twice at once: the other one won.
        session.rollback()
        replay = _replayed(session, api_key, form)
        if replay is None:
            raise
        return replay
    return str(update.id)
