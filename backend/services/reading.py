"""A report read by staff: "received" becomes "open" (the resident sees the city has read it).

"Received" means that nobody at the city has read the report yet. It turns "open" the first
time someone who may act on it does: a triage agent or supervisor opens its staff page or
changes something on it (its category), or a back-office system posts an Open311 update for
it. Classification and routing by the workers do not count: a machine sorted it, nobody read
it. A status change by staff leaves "received" by itself and needs no extra step.
"""

from __future__ import annotations

from sqlmodel import Session

from backend.models import Report, ReportStatus, ReportUpdate
from backend.services import audit
from backend.services.audit import Actor
from backend.services.feedback import enqueue_refresh
from backend.services.reports import set_status

__all__ = ["mark_read"]


def mark_read(*, session: Session, report: Report, actor: Actor) -> ReportUpdate | None:
    """Open a report still "received", on behalf of ``actor``; the caller commits.

    In the caller's transaction: the history row "open" (no public note, author = the actor),
    the audit row ``report.read`` and the refresh of the public aggregates (which count open
    reports). Returns the history row, or None when the report was already read.
    """
    if report.status != ReportStatus.RECEIVED:
        return None
    assert report.id is not None
    name, _ = audit.actor_name(actor)
    update = set_status(session=session, report=report, status=ReportStatus.OPEN, author=name)
    audit.record(
        session=session,
        actor=actor,
        action="report.read",
        target=f"report:{report.id}",
        details={"from": ReportStatus.RECEIVED.value, "to": ReportStatus.OPEN.value},
    )
    enqueue_refresh(session=session, report_id=report.id)
    return update
