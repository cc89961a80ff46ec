"""Staff triage: a report as staff see it, corrections, statuses; the queue itself (tabs,
priority, ranking) is ``backend.services.queues``, its names re-exported here.

Actions (category, status) write the audit log and queue their
jobs through the outbox in the same transaction as the change; the outbox relay pushes them.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime

from sqlmodel import Session, col, select

from backend.db import utcnow
from backend.jobs import LINK_REPORT
from backend.models import Contact, Report, ReportStatus, ReportUpdate, Service, StaffUser
from backend.models.nlp import CategoryCorrection
from backend.services import assignment, audit, outbox, public_notes
from backend.services.access import can_see_report
from backend.services.catalogue import get_active_service
from backend.services.classification import UnknownCategoryError, correct_category
from backend.services.contacts import ContactCipher, ContactDetails, read_contact
from backend.services.feedback import enqueue_refresh
from backend.services.links import priority_boosts
from backend.services.queues import (
    SEARCH_MAX,
    TABS,
    Priority,
    TriageFilters,
    priority_of,
    queue_conditions,
    rank_queue,
    services_by_code,
    tab_counts,
)
from backend.services.reading import mark_read
from backend.services.reports import set_status
from backend.services.workflow import (
    NOTE_REQUIRED,
    TRANSITIONS,
)

__all__ = [
    "SEARCH_MAX",
    "TABS",
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
    "queue_conditions",
    "rank_queue",
    "read_contact_logged",
    "report_priority",
    "services_by_code",
    "tab_counts",
    "visible_report",
]

PUBLIC_NOTE_MAX = 2000


class StatusChangeError(ValueError):
    """A status change refused; ``reason`` says why: ``transition`` or ``note_required``."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def visible_report(*, session: Session, staff: StaffUser, report_id: int) -> Report | None:
    """The report if it exists and ``staff`` may see it, else None (the two are one answer)."""
    report = session.get(Report, report_id)
    if report is None or not can_see_report(staff, report, session):
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
        if previous != service_code:
            # Another service: its routing rule and target, unless somebody holds the case.
            report.service_code = service_code
            assignment.apply_routing(
                session=session,
                report=report,
                settings=assignment.deadline_settings(),
                reroute=report.assignee_id is None,
            )
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


def check_status_change(
    *, report: Report, status: str, public_note: str | None
) -> tuple[ReportStatus, str | None]:
    """The status and note a change of ``report`` would set, or StatusChangeError saying why
    the workflow refuses it (see :func:`change_status`)."""
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
    return target, note


def apply_status_change(
    *, session: Session, report: Report, target: ReportStatus, note: str | None, staff: StaffUser
) -> ReportUpdate:
    """Apply a checked status change: history row, note scrubbing, audit row, refresh of the
    public figures; nothing committed (a bulk action commits them all at once)."""
    assert report.id is not None
    current = report.status
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
        # The report's new version (backend.services.versions): this change is not "after" it.
        at=report.updated_at,
    )
    enqueue_refresh(session=session, report_id=report.id)
    return update


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
    target, note = check_status_change(report=report, status=status, public_note=public_note)
    try:
        update = apply_status_change(
            session=session, report=report, target=target, note=note, staff=staff
        )
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
