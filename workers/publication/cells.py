"""Raw aggregates: exact figures per finest area x service x local month, kept up to date.

Before each publication (``catch_up``), the reports changed since the last one (new, status
change, questionnaire answered) are folded in: the month cells they belong to (and those they
left, when recategorised or moved) are recomputed, each once, from an indexed query on that
area and month: never a full rescan. A staff or back-office change also refreshes its report's
cells at once (``refresh_report``, through the outbox). A nightly job rebuilds everything from
scratch.

The raw cells are internal: the public side reads the published snapshot built from them
(``workers.publication.rollup``), where small counts are suppressed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, delete, select

from backend.db import utcnow
from backend.models import (
    AggregateCell,
    AggregateReportKey,
    AggregateState,
    Feedback,
    Report,
    ReportUpdate,
)
from backend.services.catalogue import UNCLASSIFIED, service_of
from backend.services.workflow import CLOSED_STATUSES, FIXED_STATUSES
from public_site.periods import month_bounds, month_of

CellKey = tuple[str, str, str]  # month, area_code, service_code


@dataclass
class Figures:
    """The exact figures of a cell: a raw month cell, or any sum of them in the roll-up.

    ``fix_days`` is a histogram, whole days to fix -> reports (the stored cell's JSON has the
    days as strings: ``from_cell`` and ``columns`` convert).
    """

    reports: int = 0
    fixed: int = 0
    open_count: int = 0
    fix_days: dict[int, int] = field(default_factory=dict)
    feedback_n: int = 0
    feedback_fixed_yes: int = 0
    satisfaction_n: int = 0
    satisfaction_sum: int = 0

    @classmethod
    def from_cell(cls, cell: AggregateCell) -> Figures:
        """The figures of a stored raw cell."""
        return cls(
            cell.reports,
            cell.fixed,
            cell.open_count,
            {int(k): v for k, v in (cell.fix_days or {}).items()},
            cell.feedback_n,
            cell.feedback_fixed_yes,
            cell.satisfaction_n,
            cell.satisfaction_sum,
        )

    def columns(self) -> dict[str, Any]:
        """The stored raw cell's columns (``fix_days`` keyed by strings, as JSON keeps them)."""
        return {**vars(self), "fix_days": {str(k): n for k, n in self.fix_days.items()}}

    def merge(self, other: Figures) -> None:
        """Add another cell's figures."""
        self.reports += other.reports
        self.fixed += other.fixed
        self.open_count += other.open_count
        for days, n in other.fix_days.items():
            self.fix_days[days] = self.fix_days.get(days, 0) + n
        self.feedback_n += other.feedback_n
        self.feedback_fixed_yes += other.feedback_fixed_yes
        self.satisfaction_n += other.satisfaction_n
        self.satisfaction_sum += other.satisfaction_sum

    def add(
        self,
        *,
        status: str,
        created_at: datetime,
        closed_at: datetime | None,
        feedback: tuple[bool, int | None] | None,
    ) -> None:
        """Count one report in this cell."""
        self.reports += 1
        if status in FIXED_STATUSES:
            self.fixed += 1
            if closed_at is not None:
                days = max(0, int((closed_at - created_at).total_seconds() // 86400))
                self.fix_days[days] = self.fix_days.get(days, 0) + 1
        elif status not in CLOSED_STATUSES:
            self.open_count += 1
        if feedback is not None:
            fixed_yes, satisfaction = feedback
            self.feedback_n += 1
            self.feedback_fixed_yes += int(fixed_yes)
            if satisfaction is not None:
                self.satisfaction_n += 1
                self.satisfaction_sum += satisfaction


def compute_cell(*, session: Session, key: CellKey, tz: str) -> Figures:
    """Exact figures of one cell, from an indexed query on its area and month."""
    month, area_code, service_code = key
    start, end = month_bounds(month, tz)
    stmt = (
        sa.select(  # type: ignore[call-overload,misc]
            Report.status,
            Report.created_at,
            Report.closed_at,
            Report.service_code,
            Report.service_hint,
            Feedback.fixed,
            Feedback.satisfaction,
        )
        .join(Feedback, col(Feedback.report_id) == col(Report.id), isouter=True)
        .where(Report.area_code == area_code)
        .where(col(Report.created_at) >= start, col(Report.created_at) < end)
        # service_of() in SQL: the other categories of the area's month stay in the database.
        .where(
            sa.func.coalesce(
                sa.func.nullif(col(Report.service_code), ""),
                sa.func.nullif(col(Report.service_hint), ""),
                UNCLASSIFIED,
            )
            == service_code
        )
    )
    figures = Figures()
    for status, created, closed, code, hint, fb_fixed, fb_sat in session.execute(stmt):
        if service_of(code, hint) != service_code:  # the same rule, kept as the reference
            continue
        feedback = (bool(fb_fixed), fb_sat) if fb_fixed is not None else None
        figures.add(status=status, created_at=created, closed_at=closed, feedback=feedback)
    return figures


def _store(session: Session, key: CellKey, figures: Figures) -> None:
    cell = session.get(AggregateCell, key)
    if figures.reports == 0:
        if cell is not None:
            session.delete(cell)
        return
    if cell is None:
        cell = AggregateCell(month=key[0], area_code=key[1], service_code=key[2])
    for name, value in figures.columns().items():
        setattr(cell, name, value)
    cell.updated_at = utcnow()
    session.add(cell)


def state(session: Session) -> AggregateState:
    """The single state row (created on first use)."""
    row = session.get(AggregateState, 1)
    if row is None:
        row = AggregateState(id=1)
        session.add(row)
        session.flush()
    return row


def mark_changed(session: Session) -> None:
    """Note that the raw cells changed, so the next publication rebuilds the snapshot."""
    row = state(session)
    row.raw_version += 1
    session.add(row)


def refresh_report(*, session: Session, report_id: int, tz: str) -> list[CellKey]:
    """Recompute the cell of one report (and the cell it left); return the cells touched.

    The caller commits.
    """
    return refresh_reports(session=session, report_ids=[report_id], tz=tz)


def refresh_reports(
    *, session: Session, report_ids: Iterable[int], tz: str, chunk: int = 1000
) -> list[CellKey]:
    """Recompute the cells of many reports, each touched cell once; return the cells touched.

    The cells are those the reports are in now and those they left (recategorised, moved);
    thousands of reports of a month fall in a few hundred cells. The caller commits.
    """
    ids = sorted(set(report_ids))
    keys: set[CellKey] = set()
    for i in range(0, len(ids), chunk):
        part = ids[i : i + chunk]
        previous = {
            k.report_id: k
            for k in session.exec(
                select(AggregateReportKey).where(col(AggregateReportKey.report_id).in_(part))
            )
        }
        rows = session.execute(
            sa.select(  # type: ignore[call-overload,misc]
                Report.id,
                Report.area_code,
                Report.created_at,
                Report.service_code,
                Report.service_hint,
            ).where(col(Report.id).in_(part))
        ).all()
        current: dict[int, CellKey] = {
            rid: (month_of(created, tz), area, service_of(code, hint))
            for rid, area, created, code, hint in rows
            if area
        }
        for rid, old in previous.items():
            keys.add((old.month, old.area_code, old.service_code))
            new = current.get(rid)
            if new is None:
                session.delete(old)
            else:
                old.month, old.area_code, old.service_code = new
                session.add(old)
        for rid, new in current.items():
            keys.add(new)
            if rid not in previous:
                session.add(
                    AggregateReportKey(
                        report_id=rid, month=new[0], area_code=new[1], service_code=new[2]
                    )
                )
    for key in sorted(keys):
        _store(session, key, compute_cell(session=session, key=key, tz=tz))
    if keys:
        mark_changed(session)
    return sorted(keys)


def changed_reports_since(*, session: Session, since: datetime | None) -> tuple[set[int], datetime]:
    """Reports with a status change or a questionnaire after ``since`` (indexed look-ups)."""
    now = utcnow()
    ids: set[int] = set()
    updates = select(ReportUpdate.report_id).where(col(ReportUpdate.created_at) <= now)
    feedback = select(Feedback.report_id).where(col(Feedback.created_at) <= now)
    if since is not None:
        updates = updates.where(col(ReportUpdate.created_at) > since)
        feedback = feedback.where(col(Feedback.created_at) > since)
    ids.update(session.exec(updates.distinct()))
    ids.update(session.exec(feedback.distinct()))
    return ids, now


def catch_up(*, session: Session, tz: str, limit: int = 50_000) -> int:
    """Fold every status change and questionnaire since the watermark into the raw cells.

    A safety net for changes made by code that did not enqueue a refresh. With no watermark
    yet (a fresh install), a full rebuild is the faster way and is done instead.
    """
    row = state(session)
    if row.watermark is None:
        rebuild_all(session=session, tz=tz)
        return -1
    ids, now = changed_reports_since(session=session, since=row.watermark)
    if len(ids) > limit:
        rebuild_all(session=session, tz=tz)
        return -1
    refresh_reports(session=session, report_ids=ids, tz=tz)
    row = state(session)
    row.watermark = now
    session.add(row)
    session.commit()
    return len(ids)


def _iter_reports(session: Session, batch: int = 20_000) -> Iterator[tuple[Any, ...]]:
    stmt = (
        sa.select(  # type: ignore[call-overload,misc]
            Report.id,
            Report.area_code,
            Report.service_code,
            Report.service_hint,
            Report.status,
            Report.created_at,
            Report.closed_at,
            Feedback.fixed,
            Feedback.satisfaction,
        )
        .join(Feedback, col(Feedback.report_id) == col(Report.id), isouter=True)
        .where(col(Report.area_code).is_not(None))
        .execution_options(yield_per=batch)
    )
    yield from session.execute(stmt)


def compute_all(
    rows: Iterable[tuple[Any, ...]], tz: str
) -> tuple[dict[CellKey, Figures], dict[int, CellKey]]:
    """Every cell from report rows ``(id, area, service, hint, status, created, closed, fb...)``."""
    cells: dict[CellKey, Figures] = defaultdict(Figures)
    keys: dict[int, CellKey] = {}
    month_cache: dict[tuple[int, int, int, int], str] = {}
    for rid, area, code, hint, status, created, closed, fb_fixed, fb_sat in rows:
        # Month boundaries fall on local midnight: the hour in UTC is enough to cache on.
        hour_key = (created.year, created.month, created.day, created.hour)
        month = month_cache.get(hour_key)
        if month is None:
            month = month_cache[hour_key] = month_of(created, tz)
        key = (month, area, service_of(code, hint))
        feedback = (bool(fb_fixed), fb_sat) if fb_fixed is not None else None
        cells[key].add(status=status, created_at=created, closed_at=closed, feedback=feedback)
        keys[rid] = key
    return cells, keys


def rebuild_all(*, session: Session, tz: str) -> int:
    """Recompute every raw cell from the reports (nightly, and on a fresh install)."""
    started = utcnow()
    cells, keys = compute_all(_iter_reports(session), tz)
    session.exec(delete(AggregateCell))  # type: ignore[call-overload]
    session.exec(delete(AggregateReportKey))  # type: ignore[call-overload]
    now = utcnow()
    cell_rows = [
        {"month": k[0], "area_code": k[1], "service_code": k[2], "updated_at": now, **f.columns()}
        for k, f in cells.items()
    ]
    key_rows = [
        {"report_id": rid, "month": k[0], "area_code": k[1], "service_code": k[2]}
        for rid, k in keys.items()
    ]
    for table, rows in (
        (AggregateCell.__table__, cell_rows),  # type: ignore[attr-defined]
        (AggregateReportKey.__table__, key_rows),  # type: ignore[attr-defined]
    ):
        for i in range(0, len(rows), 10_000):
            session.execute(sa.insert(table), rows[i : i + 10_000])  # type: ignore[arg-type]
    row = state(session)
    row.watermark = started
    row.raw_version += 1
    session.add(row)
    session.commit()
    return len(cell_rows)
