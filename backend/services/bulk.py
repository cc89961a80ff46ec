"""Bulk actions on a selection of reports: assign (team, person) or set a status with a note.

All or nothing: every report of the selection is checked first, and if any may not take the
action the whole selection is refused with the list of which and why (:class:`BulkRefusedError`);
otherwise every change is applied in ONE transaction, each report with its own audit row (and,
for a status, its own history row, note scrubbing and refresh of the public figures, as one
change made by hand would have: ``backend.services.triage.apply_status_change``, here in a
few multi-row statements rather than five round trips per report).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, col, select

from backend.models import Report, ReportStatus, StaffUser, Team
from backend.services import audit, outbox, public_notes
from backend.services.access import report_filter
from backend.services.assignment import (
    Assignment,
    AssignmentError,
    apply_assignment,
    check_assignment,
)
from backend.services.feedback import refresh_job
from backend.services.reports import set_status
from backend.services.triage import StatusChangeError, check_status_change

__all__ = ["ACTIONS", "BulkRefusedError", "Refusal", "bulk_apply"]

ACTIONS = ("assign", "status")
MAX_SELECTION = 1000
INSERT_PAGE = 50


@dataclass(frozen=True)
class Refusal:
    """One report of a selection that may not take the action, and why."""

    report_id: int
    reason: str
    message: str


class BulkRefusedError(ValueError):
    """The selection was refused as a whole; ``refusals`` lists which reports and why."""

    def __init__(self, refusals: Sequence[Refusal]) -> None:
        self.refusals = list(refusals)
        listed = "; ".join(f"#{r.report_id}: {r.message}" for r in self.refusals[:20])
        more = len(self.refusals) - 20
        super().__init__(
            f"{len(self.refusals)} report(s) of the selection cannot take this action, "
            f"nothing was changed: {listed}" + (f"; and {more} more" if more > 0 else "")
        )


def bulk_apply(
    *,
    session: Session,
    staff: StaffUser,
    report_ids: Sequence[int],
    action: str,
    team_code: str | None = None,
    assignee_id: int | None = None,
    reason: str | None = None,
    status: str | None = None,
    public_note: str | None = None,
) -> list[Report]:
    """Apply ``action`` to every report of ``report_ids``, or to none; commits.

    ``assign`` takes ``team_code``/``assignee_id``/``reason`` (as
    ``backend.services.assignment.assign``), ``status`` takes ``status``/``public_note`` (as
    ``backend.services.triage.change_status``). A report ``staff`` may not see is refused as
    "no such report", like one that does not exist. Raises BulkRefusedError, or ValueError for an
    unknown action or an empty or oversized selection.
    """
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}: one of {', '.join(ACTIONS)}")
    ids = list(dict.fromkeys(report_ids))
    if not ids:
        raise ValueError("the selection is empty")
    if len(ids) > MAX_SELECTION:
        raise ValueError(f"at most {MAX_SELECTION} reports in one action")
    found = {r.id: r for r in session.exec(select(Report).where(col(Report.id).in_(ids)))}
    teams = {t.code: t for t in session.exec(select(Team))}
    people: dict[int, StaffUser] = {}
    if assignee_id is not None:
        person = session.get(StaffUser, assignee_id)
        if person is not None:
            people[assignee_id] = person
    refusals: list[Refusal] = []
    assignments: list[tuple[Report, Assignment]] = []
    changes: list[tuple[Report, tuple[ReportStatus, str | None]]] = []
    visible = set(
        session.exec(
            select(Report.id).where(col(Report.id).in_(ids), report_filter(staff, session))
        )
    )
    for report_id in ids:
        report = found.get(report_id)
        if report is None or report_id not in visible:
            refusals.append(Refusal(report_id, "not_found", "no such report"))
            continue
        try:
            if action == "assign":
                assignments.append(
                    (
                        report,
                        check_assignment(
                            session=session,
                            report=report,
                            team_code=team_code,
                            assignee_id=assignee_id,
                            reason=reason,
                            teams=teams,
                            people=people,
                        ),
                    )
                )
            else:
                changes.append(
                    (
                        report,
                        check_status_change(
                            report=report, status=status or "", public_note=public_note
                        ),
                    )
                )
        except (AssignmentError, StatusChangeError) as exc:
            refusals.append(Refusal(report_id, exc.reason, str(exc)))
        except ValueError:
            refusals.append(Refusal(report_id, "unknown_status", f"unknown status {status!r}"))
    if refusals:
        raise BulkRefusedError(refusals)
    try:
        # Multi-row INSERTs of one size share one statement text, which psycopg parses once
        # (a 500-row statement is parsed anew each time: most of a bulk action's time).
        session.connection().execution_options(insertmanyvalues_page_size=INSERT_PAGE)
        assigned: list[dict[str, Any]] = []
        for report, change in assignments:
            apply_assignment(
                session=session, report=report, change=change, staff=staff, audit_rows=assigned
            )
        audit.record_many(session=session, actor=staff, rows=assigned)
        _apply_statuses(session=session, staff=staff, changes=changes)
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return [report for report, _ in assignments] + [report for report, _ in changes]


def _apply_statuses(
    *,
    session: Session,
    staff: StaffUser,
    changes: list[tuple[Report, tuple[ReportStatus, str | None]]],
) -> None:
    """What ``triage.apply_status_change`` does for one report, for many, in a few statements:
    the history rows flushed together, then their scrubbing and the refreshes queued in one
    INSERT, the audit rows flushed at the commit."""
    steps = []
    for report, (target, note) in changes:
        current = report.status
        update = set_status(
            session=session, report=report, status=target, public_note=note, author=staff.email
        )
        steps.append((report, update, current, target, note))
    session.flush()
    jobs = []
    audits = []
    for report, update, current, target, note in steps:
        assert report.id is not None
        scrub = public_notes.scrubbing_job(update)
        if scrub is not None:
            jobs.append(scrub)
        jobs.append(refresh_job(report.id))
        audits.append(
            {
                "action": "report.status_set",
                "target": f"report:{report.id}",
                "details": {"from": current, "to": target.value, "public_note": note},
                "at": report.updated_at,
            }
        )
    outbox.add_jobs(session=session, jobs=jobs)
    audit.record_many(session=session, actor=staff, rows=audits)
