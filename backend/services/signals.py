"""Weak signals for analysts: listing with filters, reading one, setting its status."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import String, cast, func
from sqlmodel import Session, col, select

from backend.db import utcnow
from backend.models import Signal, SignalStatus
from backend.models.staff import StaffUser
from backend.services import audit


@dataclass(frozen=True)
class SignalFilters:
    """What the list keeps (None: no filter)."""

    status: str | None = None
    kind: str | None = None
    service_code: str | None = None
    area_code: str | None = None
    as_of: date | None = None
    since: date | None = None
    until: date | None = None
    min_recurrence_days: float | None = None


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def list_signals(
    *, session: Session, filters: SignalFilters, page: int = 1, page_size: int = 50
) -> tuple[list[Signal], int]:
    """One page of signals, newest detection day first, and how many match in all."""
    stmt = select(Signal)
    f = filters
    if f.status is not None:
        stmt = stmt.where(Signal.status == f.status)
    if f.kind is not None:
        stmt = stmt.where(Signal.kind == f.kind)
    if f.service_code is not None:
        stmt = stmt.where(Signal.service_code == f.service_code)
    if f.as_of is not None:
        stmt = stmt.where(Signal.as_of == f.as_of)
    if f.since is not None:
        stmt = stmt.where(col(Signal.as_of) >= f.since)
    if f.until is not None:
        stmt = stmt.where(col(Signal.as_of) <= f.until)
    if f.min_recurrence_days is not None:
        stmt = stmt.where(col(Signal.recurrence_interval_days) >= f.min_recurrence_days)
    if f.area_code is not None:
        # The JSON list as text holds '"code"': portable across SQLite and PostgreSQL.
        pattern = f'%"{_escape_like(f.area_code)}"%'
        stmt = stmt.where(cast(Signal.area_codes, String).like(pattern, escape="\\"))
    total = session.exec(select(func.count()).select_from(stmt.subquery())).one()
    offset = (page - 1) * page_size
    if offset >= total:
        # Past the last page: nothing to read (and an offset past the database's integers,
        # a page number nobody can reach, would be an error rather than an empty page).
        return [], int(total)
    rows = session.exec(
        stmt.order_by(col(Signal.as_of).desc(), col(Signal.id).desc())
        .offset(offset)
        .limit(page_size)
    ).all()
    return list(rows), int(total)


def get_signal(*, session: Session, signal_id: int) -> Signal | None:
    """The signal with this id, or None."""
    return session.get(Signal, signal_id)


def set_signal_status(
    *, session: Session, signal: Signal, status: str, staff: StaffUser, note: str | None = None
) -> Signal:
    """Record an analyst's verdict (and who gave it, when) with its audit row; commits."""
    SignalStatus(status)  # a ValueError for an unknown status
    previous = signal.status
    signal.status = status
    signal.status_note = note
    signal.status_changed_by = staff.email
    signal.status_changed_at = utcnow()
    session.add(signal)
    audit.record(
        session=session,
        actor=staff,
        action="signal.status_set",
        target=f"signal:{signal.id}",
        details={"from": previous, "to": status, "note": note},
    )
    session.commit()
    return signal
