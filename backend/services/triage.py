"""Staff triage: the queue ranked by priority, a report as staff see it, corrections, statuses.

The priority of a report (docs/staff.md, "Triage priority") is the sum of three parts, each
shown beside it so that nobody has to trust a number they cannot explain::

    priority    = uncertainty + lateness + links
    uncertainty = 2 x (1 - classifier confidence)   while the report needs triage, else 0
                  (2 when it was never classified)
    lateness    = min(age in days / target days of its service, 3)
    links       = sum over linked official incidents of rule weight x severity x sqrt(count),
                  capped at max_priority_boost (5)         (backend.services.links)

Ties go to the older report. Actions (category, status) write the audit log and queue their
jobs through the outbox in the same transaction as the change; the outbox relay pushes them.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from backend.db import utcnow
from backend.jobs import LINK_REPORT
from backend.models import Contact, Report, ReportStatus, ReportUpdate, Service, StaffUser
from backend.models.nlp import CategoryCorrection
from backend.services import audit, outbox, public_notes
from backend.services.access import can_see_service, service_filter
from backend.services.catalogue import get_active_service
from backend.services.classification import UnknownCategoryError, correct_category
from backend.services.contacts import ContactCipher, ContactDetails, read_contact
from backend.services.feedback import enqueue_refresh
from backend.services.links import priority_boosts
from backend.services.reading import mark_read
from backend.services.reports import set_status
from backend.services.workflow import NOTE_REQUIRED, OPEN_STATUSES, TRANSITIONS

__all__ = [
    "Priority",
    "StatusChangeError",
    "TriageFilters",
    "UnknownCategoryError",
    "allowed_statuses",
    "change_status",
    "correct",
    "corrections_of",
    "has_contact",
    "priority_of",
    "rank_queue",
    "read_contact_logged",
    "report_priority",
    "services_by_code",
    "visible_report",
]

UNCERTAINTY_WEIGHT = 2.0
LATENESS_CAP = 3.0
DEFAULT_TARGET_DAYS = 7
PUBLIC_NOTE_MAX = 2000


class StatusChangeError(ValueError):
    """A status change refused; ``reason`` says why: ``transition`` or ``note_required``."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class TriageFilters:
    """What the queue keeps. ``status`` None: the open statuses (received, open, in progress)."""

    needs_triage: bool | None = True
    service_code: str | None = None
    area_code: str | None = None
    status: str | None = None


@dataclass(frozen=True)
class Priority:
    """A report's triage priority and its parts (see the module's docstring)."""

    total: float
    uncertainty: float
    lateness: float
    links: float
    age_days: float
    target_days: int

    def parts(self) -> dict[str, float]:
        """The three parts, by name."""
        return {"uncertainty": self.uncertainty, "lateness": self.lateness, "links": self.links}


def priority_of(
    *,
    confidence: float | None,
    needs_triage: bool,
    created_at: datetime,
    closed_at: datetime | None,
    target_days: int | None,
    links: float,
    now: datetime,
) -> Priority:
    """The priority of one report from what it is made of (pure; the formula is above).

    Parameters
    ----------
    confidence
        The classifier's calibrated confidence in the report's category (None: never
        classified).
    needs_triage
        Whether the category waits for a human; only then does uncertainty count.
    created_at, closed_at
        The report's age runs from ``created_at`` to ``closed_at``, or to ``now`` while open.
    target_days
        The service's target time to fix, in days (None: not routed, 7; 0 counts as 1).
    links
        The boost of the report's links to official incidents (already capped).
    now
        The time of the ranking.

    Returns
    -------
    Priority
        The total and its parts, rounded to 3 decimals.
    """
    uncertainty = 0.0
    if needs_triage:
        sure = min(max(confidence if confidence is not None else 0.0, 0.0), 1.0)
        uncertainty = UNCERTAINTY_WEIGHT * (1.0 - sure)
    target = DEFAULT_TARGET_DAYS if target_days is None else target_days
    age_days = max(((closed_at or now) - created_at).total_seconds(), 0.0) / 86_400
    lateness = min(age_days / max(target, 1), LATENESS_CAP)
    uncertainty, lateness, links = round(uncertainty, 3), round(lateness, 3), round(links, 3)
    return Priority(
        total=round(uncertainty + lateness + links, 3),
        uncertainty=uncertainty,
        lateness=lateness,
        links=links,
        age_days=round(age_days, 2),
        target_days=target,
    )


def services_by_code(session: Session) -> dict[str, Service]:
    """Every service of the catalogue, by code (inactive ones too: old reports keep theirs)."""
    return {s.code: s for s in session.exec(select(Service))}


def _ranked(
    session: Session, rows: Sequence[Any], services: dict[str, Service], now: datetime
) -> list[tuple[int, Priority, datetime]]:
    """(id, priority, created_at) of rows of (id, created_at, closed_at, confidence,
    needs_triage, service_code), most urgent first."""
    boosts = priority_boosts(session, [row[0] for row in rows])
    ranked = []
    for report_id, created_at, closed_at, confidence, needs_triage, service_code in rows:
        service = services.get(service_code) if service_code else None
        priority = priority_of(
            confidence=confidence,
            needs_triage=needs_triage,
            created_at=created_at,
            closed_at=closed_at,
            target_days=service.target_days if service else None,
            links=boosts[report_id],
            now=now,
        )
        ranked.append((report_id, priority, created_at))
    ranked.sort(key=lambda item: (-item[1].total, item[2], item[0]))
    return ranked


def rank_queue(
    *,
    session: Session,
    staff: StaffUser,
    filters: TriageFilters,
    services: dict[str, Service],
    page: int = 1,
    page_size: int = 50,
    now: datetime | None = None,
) -> tuple[list[tuple[Report, Priority]], int]:
    """One page of the reports ``staff`` may see, most urgent first, and how many match.

    The priority needs the links, so every matching report is ranked (a few columns each, the
    links counted in one query per 900 reports), then only the page is loaded in full.
    ``services`` is ``services_by_code``'s answer (the caller names the services with it).
    """
    now = now or utcnow()
    stmt = sa.select(
        col(Report.id),
        col(Report.created_at),
        col(Report.closed_at),
        col(Report.confidence),
        col(Report.needs_triage),
        col(Report.service_code),
    ).where(service_filter(staff, Report.service_code, session))
    if filters.needs_triage is not None:
        stmt = stmt.where(col(Report.needs_triage).is_(filters.needs_triage))
    if filters.service_code is not None:
        stmt = stmt.where(col(Report.service_code) == filters.service_code)
    if filters.area_code is not None:
        stmt = stmt.where(col(Report.area_code) == filters.area_code)
    if filters.status is not None:
        stmt = stmt.where(col(Report.status) == filters.status)
    else:
        stmt = stmt.where(col(Report.status).in_(OPEN_STATUSES))
    rows = session.execute(stmt).all()
    ranked = _ranked(session, rows, services, now)
    start = (page - 1) * page_size
    chosen = ranked[start : start + page_size]
    ids = [report_id for report_id, _, _ in chosen]
    reports = {r.id: r for r in session.exec(select(Report).where(col(Report.id).in_(ids)))}
    page_items = [
        (reports[report_id], priority) for report_id, priority, _ in chosen if report_id in reports
    ]
    return page_items, len(ranked)


def visible_report(*, session: Session, staff: StaffUser, report_id: int) -> Report | None:
    """The report if it exists and ``staff`` may see it, else None (the two are one answer)."""
    report = session.get(Report, report_id)
    if report is None or not can_see_service(staff, report.service_code, session):
        return None
    return report


def allowed_statuses(report: Report) -> list[str]:
    """The statuses staff may move ``report`` to, in the workflow's order."""
    allowed = TRANSITIONS.get(report.status, frozenset())
    return [s.value for s in ReportStatus if s in allowed]


def report_priority(
    *, session: Session, report: Report, services: dict[str, Service], now: datetime | None = None
) -> Priority:
    """The priority of one report now (``services``: ``services_by_code``'s answer)."""
    assert report.id is not None
    service = services.get(report.service_code) if report.service_code else None
    return priority_of(
        confidence=report.confidence,
        needs_triage=report.needs_triage,
        created_at=report.created_at,
        closed_at=report.closed_at,
        target_days=service.target_days if service else None,
        links=priority_boosts(session, [report.id])[report.id],
        now=now or utcnow(),
    )


def corrections_of(*, session: Session, report: Report) -> Sequence[CategoryCorrection]:
    """The report's category corrections, oldest first."""
    return session.exec(
        select(CategoryCorrection)
        .where(CategoryCorrection.report_id == report.id)
        .order_by(col(CategoryCorrection.created_at), col(CategoryCorrection.id))
    ).all()


def has_contact(*, session: Session, report: Report) -> bool:
    """Whether the resident left contact details (without reading them)."""
    stmt = select(Contact.id).where(Contact.report_id == report.id)
    return session.exec(stmt).first() is not None


def correct(
    *,
    session: Session,
    report: Report,
    service_code: str,
    staff: StaffUser,
) -> CategoryCorrection:
    """Set a report's category by hand: a gold label for the classifier, out of triage.

    In one transaction: the correction (``correct_category``), the audit row
    ``report.category_corrected``, the report marked read (``mark_read``), and two jobs in
    the outbox: the report's links again (the linking rules depend on its category) and its
    public aggregates. UnknownCategoryError for
    a code that is not an active service of the catalogue.
    """
    if get_active_service(session=session, code=service_code) is None:
        raise UnknownCategoryError(
            f"unknown service_code '{service_code}'; see GET /api/v1/services for the catalogue"
        )
    assert report.id is not None
    previous, was_triage = report.service_code, report.needs_triage
    try:
        audit.record(
            session=session,
            actor=staff,
            action="report.category_corrected",
            target=f"report:{report.id}",
            details={
                "from": previous,
                "to": service_code,
                "predicted": report.predicted_code,
                "confidence": report.confidence,
                "needed_triage": was_triage,
            },
        )
        outbox.add_job(
            session=session,
            job_path=LINK_REPORT.path,
            args=[report.id],
            job_id=f"link-report-{report.id}-{secrets.token_hex(6)}",
            queue=LINK_REPORT.queue,
        )
        enqueue_refresh(session=session, report_id=report.id)
        # Correcting it is reading it: a report still "received" turns "open".
        mark_read(session=session, report=report, actor=staff)
        # Commits the correction with the audit row and the jobs above.
        correction = correct_category(
            session=session, report=report, service_code=service_code, author=staff.email
        )
    except BaseException:
        session.rollback()
        raise
    return correction


def change_status(
    *,
    session: Session,
    report: Report,
    status: str,
    public_note: str | None,
    staff: StaffUser,
) -> ReportUpdate:
    """Move a report to ``status`` with a public note, if the workflow allows it; commits.

    In one transaction: the history row (``set_status``, author = the staff e-mail), the audit
    row ``report.status_set``, the refresh of the public aggregates and the scrubbing of the
    note (outbox; the note is published only once scrubbed, see ``public_notes``). Raises
    StatusChangeError: ``transition`` for a move the workflow refuses (``TRANSITIONS``),
    ``note_required`` for a rejection without a public note; ValueError for an unknown status.
    """
    target = ReportStatus(status)
    note = (public_note or "").strip() or None
    if note is not None and len(note) > PUBLIC_NOTE_MAX:
        raise StatusChangeError(
            "note_too_long", f"The public note is limited to {PUBLIC_NOTE_MAX} characters."
        )
    current = report.status
    if target == current:
        raise StatusChangeError("transition", f"The report is already '{current}'.")
    if current == ReportStatus.DUPLICATE and report.duplicate_of_id is not None:
        # Its followers and photo went to the other report: only un-merging brings them back.
        raise StatusChangeError(
            "merged", "The report was merged into another one: un-merge it to reopen it."
        )
    allowed = TRANSITIONS.get(current, frozenset())
    if target not in allowed:
        if target == ReportStatus.RECEIVED:
            why = "a report never goes back to 'received' (nobody had read it yet)"
        elif target == ReportStatus.DUPLICATE:
            why = "a duplicate is marked by merging it with the original report"
        else:
            why = f"from '{current}' it may go to: {', '.join(allowed_statuses(report)) or 'none'}"
        raise StatusChangeError(
            "transition", f"The report cannot go from '{current}' to '{target}': {why}."
        )
    if target in NOTE_REQUIRED and note is None:
        raise StatusChangeError(
            "note_required", f"A public note is required for '{target}': tell the resident why."
        )
    assert report.id is not None
    try:
        update = set_status(
            session=session, report=report, status=target, public_note=note, author=staff.email
        )
        public_notes.queue_scrubbing(session=session, update=update)
        audit.record(
            session=session,
            actor=staff,
            action="report.status_set",
            target=f"report:{report.id}",
            details={"from": current, "to": target.value, "public_note": note},
        )
        enqueue_refresh(session=session, report_id=report.id)
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return update


def read_contact_logged(
    *, session: Session, cipher: ContactCipher, report: Report, staff: StaffUser
) -> ContactDetails | None:
    """Decrypt a report's contact details for ``staff``, logging the read first (commits).

    The caller checks the role (``backend.services.access.can_read_contacts``); None when there
    are none.
    """
    assert report.id is not None
    details = read_contact(session=session, cipher=cipher, report_id=report.id)
    if details is None:
        return None
    fields = [name for name in ("email", "phone") if getattr(details, name)]
    audit.record(
        session=session,
        actor=staff,
        action="contact.read",
        target=f"report:{report.id}",
        details={"fields": fields},
    )
    session.commit()  # before the data leaves: no read goes unlogged
    return details
