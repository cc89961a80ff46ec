"""The "is it really fixed?" questionnaire: one answer per report, once the city says fixed.

"Not fixed" within the reopening window (``LANTERNE_FEEDBACK_REOPEN_DAYS`` after the report
was fixed, 30 by default) reopens the report: a status change to "open" by the resident,
recorded in its history, with the answer for staff to read. Later, the answer is recorded
and counted, but the report stays as it is (the resident is asked to file a new one).
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, func
from sqlalchemy import select as sa_select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col, select

from backend.db import utcnow
from backend.jobs import REFRESH_AGGREGATES
from backend.models import Feedback, OutboxMessage, Report, ReportStatus
from backend.services import outbox
from backend.services.reports import set_status
from backend.services.workflow import ANSWERABLE

# The author of the history row when the resident's answer reopens a report.
RESIDENT = "resident"

COMMENT_MAX = 2000


class FeedbackError(ValueError):
    """A questionnaire that cannot be taken; ``code`` says why (for the caller's message)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def refresh_job(report_id: int) -> outbox.PendingJob:
    """The outbox job refreshing a report's aggregates (each change gets its own job id: the
    job marks its own row done)."""
    return outbox.PendingJob(
        job_path=REFRESH_AGGREGATES.path,
        args=[report_id],
        job_id=f"refresh-aggregates-{report_id}-{secrets.token_hex(6)}",
        queue=REFRESH_AGGREGATES.queue,
    )


def enqueue_refresh(*, session: Session, report_id: int) -> OutboxMessage:
    """Refresh the report's aggregates after the caller's commit (through the outbox).

    Any code that changes a report outside the worker's pipeline (a status change from the
    city's back office, a recategorisation) calls this in its transaction; the outbox relay
    pushes the row to RQ after the commit, and the scheduled catch-up is the safety net.
    """
    message = refresh_job(report_id)
    return outbox.add_job(
        session=session,
        job_path=message.job_path,
        args=message.args,
        job_id=message.job_id,
        queue=message.queue,
    )


def existing(*, session: Session, report: Report) -> Feedback | None:
    """The report's questionnaire answer, if any."""
    return session.exec(select(Feedback).where(Feedback.report_id == report.id)).first()


def can_answer(*, session: Session, report: Report) -> bool:
    """Whether the questionnaire is open: the city says fixed, and nobody answered yet."""
    return report.status in ANSWERABLE and existing(session=session, report=report) is None


def within_reopen_window(report: Report, window: timedelta, now: datetime | None = None) -> bool:
    """Whether a "not fixed" answer now would reopen the report (fixed less than ``window`` ago)."""
    if report.closed_at is None:
        return False
    return (now or utcnow()) - report.closed_at <= window


def submit_feedback(
    *,
    session: Session,
    report: Report,
    fixed: bool,
    satisfaction: int | None = None,
    comment: str | None = None,
    reopen_window: timedelta = timedelta(days=30),
    now: datetime | None = None,
) -> Feedback:
    """Store the answer (once) and queue the refresh of the aggregates, in one transaction.

    "Not fixed" within ``reopen_window`` of the fix also reopens the report (history row
    "open", author ``resident``, no public note: the comment is for staff only), and the
    answer says so (``reopened``).
    """
    if report.status not in ANSWERABLE:
        raise FeedbackError(
            "not_fixed",
            "The questionnaire opens once the city marks the report as fixed.",
        )
    if existing(session=session, report=report) is not None:
        raise FeedbackError("already", "This report's questionnaire was already answered.")
    if satisfaction is not None and not 1 <= satisfaction <= 5:
        raise FeedbackError("invalid", "Satisfaction goes from 1 to 5.")
    comment = (comment or "").strip() or None
    if comment is not None and len(comment) > COMMENT_MAX:
        raise FeedbackError("invalid", f"The comment is limited to {COMMENT_MAX} characters.")
    assert report.id is not None
    reopen = not fixed and within_reopen_window(report, reopen_window, now)
    answer = Feedback(
        report_id=report.id,
        fixed=fixed,
        satisfaction=satisfaction,
        comment=comment,
        reopened=reopen,
    )
    session.add(answer)
    if reopen:
        set_status(session=session, report=report, status=ReportStatus.OPEN, author=RESIDENT)
    enqueue_refresh(session=session, report_id=report.id)
    try:
        session.commit()
    except IntegrityError as exc:
        # Two answers raced (a double tap): the first one stands.
        session.rollback()
        raise FeedbackError("already", "This report's questionnaire was already answered.") from exc
    return answer


def parse_form(form: Mapping[str, Any]) -> dict[str, Any]:
    """The questionnaire's answer from an HTML form, or FeedbackError("invalid")."""
    fixed_raw = form.get("fixed")
    if fixed_raw not in ("yes", "no"):
        raise FeedbackError("invalid", "Say whether it is really fixed.")
    satisfaction_raw = form.get("satisfaction") or ""
    satisfaction = None
    if satisfaction_raw:
        if satisfaction_raw not in {"1", "2", "3", "4", "5"}:
            raise FeedbackError("invalid", "Satisfaction goes from 1 to 5.")
        satisfaction = int(satisfaction_raw)
    comment = form.get("comment") or None
    return {"fixed": fixed_raw == "yes", "satisfaction": satisfaction, "comment": comment}


@dataclass(frozen=True)
class ServiceFigures:
    """The questionnaire's figures of one service: how residents judged the city's fixes."""

    service_code: str | None
    answers: int
    fixed: int
    mean_satisfaction: float | None
    reopened: int

    @property
    def fixed_share(self) -> float | None:
        """The share of answers saying "really fixed" (None without answers)."""
        return self.fixed / self.answers if self.answers else None


def figures_by_service(*, session: Session, scope: ColumnElement[bool]) -> list[ServiceFigures]:
    """Per service: answers, answers saying fixed, mean satisfaction, reports reopened.

    ``scope`` is a WHERE clause on ``Report.service_code`` (``access.service_filter``): staff
    see the figures of the services they may see. Staff-only figures: exact, not suppressed.
    """
    stmt = (
        sa_select(
            col(Report.service_code),
            func.count(col(Feedback.id)),
            func.sum(case((col(Feedback.fixed), 1), else_=0)),
            func.avg(col(Feedback.satisfaction)),
            func.sum(case((col(Feedback.reopened), 1), else_=0)),
        )
        .join(Report, col(Report.id) == col(Feedback.report_id))
        .where(scope)
        .group_by(col(Report.service_code))
        .order_by(col(Report.service_code))
    )
    return [
        ServiceFigures(
            service_code=code,
            answers=int(answers),
            fixed=int(fixed or 0),
            mean_satisfaction=float(mean) if mean is not None else None,
            reopened=int(reopened or 0),
        )
        for code, answers, fixed, mean, reopened in session.execute(stmt)
    ]
