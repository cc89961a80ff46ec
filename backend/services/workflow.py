"""The workflow of a report, in one place: its statuses and the rules every user reads.

Like Signalen's ``workflow.py``: which statuses exist, where staff may move a report from each,
which statuses count as fixed, closed, answerable by the resident's questionnaire or excluded
from detection, and how Open311 (GeoReport v2 and mySociety's updates extension) sees them.
The enum itself lives beside the model (``backend.models.report.ReportStatus``), which needs it
for the column's default; the rules live here.
"""

from __future__ import annotations

from backend.models.report import ReportStatus

__all__ = [
    "ANSWERABLE",
    "ASK_RESIDENT",
    "CLOSED_STATUSES",
    "DETECTION_EXCLUDED",
    "FIXED_STATUSES",
    "NOTE_REQUIRED",
    "OPEN_STATUSES",
    "STATUSES",
    "TRANSITIONS",
    "UPDATE_STATUS_IN",
    "UPDATE_STATUS_OUT",
    "is_closed",
    "open311_status",
]

# Every status, in workflow order (the order staff pages list them in).
STATUSES: tuple[str, ...] = tuple(s.value for s in ReportStatus)

# Still to be dealt with: the triage queue's default view.
OPEN_STATUSES: tuple[str, ...] = (
    ReportStatus.RECEIVED,
    ReportStatus.OPEN,
    ReportStatus.IN_PROGRESS,
    ReportStatus.WAITING,
)

# "Ask the resident for more information": the status whose public note is the question, e-mailed
# to the resident by the notifications on every status change (``reports.set_status``).
ASK_RESIDENT = ReportStatus.WAITING

# Done, for the city: Open311 says ``closed``; the report gets its ``closed_at``.
CLOSED_STATUSES = frozenset(
    {ReportStatus.FIXED, ReportStatus.CLOSED, ReportStatus.REJECTED, ReportStatus.DUPLICATE}
)

# A report counts as fixed when the city says so; "closed" is the end of a fixed report's life
# (the public indicators' resolution delays and fixed shares).
FIXED_STATUSES = frozenset({ReportStatus.FIXED, ReportStatus.CLOSED})

# The statuses whose resident may answer the questionnaire ("was it fixed?").
ANSWERABLE = frozenset({ReportStatus.FIXED, ReportStatus.CLOSED})

# Left out of signal detection: duplicates and rejected reports are not new events, counting
# them would fake clusters.
DETECTION_EXCLUDED: tuple[str, ...] = (ReportStatus.DUPLICATE.value, ReportStatus.REJECTED.value)

# Where a staff member may move a report from each status. Never back to "received" (it means
# "not yet read by anyone": the city has read it by now); "duplicate" belongs to the merge of
# duplicates, which names the original report the resident can follow instead. A closed,
# rejected or fixed report can be reopened (the resident's questionnaire says it is not fixed).
TRANSITIONS: dict[str, frozenset[str]] = {
    ReportStatus.RECEIVED: frozenset(
        {
            ReportStatus.OPEN,
            ReportStatus.IN_PROGRESS,
            ReportStatus.WAITING,
            ReportStatus.FIXED,
            ReportStatus.CLOSED,
            ReportStatus.REJECTED,
        }
    ),
    ReportStatus.OPEN: frozenset(
        {
            ReportStatus.IN_PROGRESS,
            ReportStatus.WAITING,
            ReportStatus.FIXED,
            ReportStatus.CLOSED,
            ReportStatus.REJECTED,
        }
    ),
    ReportStatus.IN_PROGRESS: frozenset(
        {
            ReportStatus.OPEN,
            ReportStatus.WAITING,
            ReportStatus.FIXED,
            ReportStatus.CLOSED,
            ReportStatus.REJECTED,
        }
    ),
    # The resident answered (or did not): back to work, or closed.
    ReportStatus.WAITING: frozenset(
        {
            ReportStatus.OPEN,
            ReportStatus.IN_PROGRESS,
            ReportStatus.FIXED,
            ReportStatus.CLOSED,
            ReportStatus.REJECTED,
        }
    ),
    ReportStatus.FIXED: frozenset(
        {ReportStatus.OPEN, ReportStatus.IN_PROGRESS, ReportStatus.CLOSED}
    ),
    ReportStatus.CLOSED: frozenset({ReportStatus.OPEN}),
    ReportStatus.REJECTED: frozenset({ReportStatus.OPEN}),
    ReportStatus.DUPLICATE: frozenset({ReportStatus.OPEN}),
}
# Statuses whose public note is required: a resident told "rejected" deserves a reason, one
# asked for more information needs the question.
NOTE_REQUIRED = frozenset({ReportStatus.REJECTED, ReportStatus.WAITING})


def is_closed(status: str) -> bool:
    """Whether the city considers a report in this status done (Open311 ``closed``)."""
    return status in CLOSED_STATUSES


def open311_status(status: str) -> str:
    """Lanterne's workflow seen through Open311: ``closed`` for the last four, else ``open``."""
    return "closed" if status in CLOSED_STATUSES else "open"


# Lanterne status -> the mySociety extension's status names (lower case on output).
UPDATE_STATUS_OUT: dict[str, str] = {
    ReportStatus.RECEIVED: "open",
    ReportStatus.OPEN: "open",
    ReportStatus.IN_PROGRESS: "in_progress",
    # The extension has no "waiting for the citizen": the city is still investigating.
    ReportStatus.WAITING: "investigating",
    ReportStatus.FIXED: "fixed",
    ReportStatus.CLOSED: "closed",
    ReportStatus.REJECTED: "no_further_action",
    ReportStatus.DUPLICATE: "duplicate",
}
# The extension's statuses (any case) -> Lanterne's workflow.
UPDATE_STATUS_IN: dict[str, ReportStatus] = {
    "open": ReportStatus.OPEN,
    "reopen": ReportStatus.OPEN,
    "internal_referral": ReportStatus.OPEN,
    "investigating": ReportStatus.IN_PROGRESS,
    "in_progress": ReportStatus.IN_PROGRESS,
    "action_scheduled": ReportStatus.IN_PROGRESS,
    "fixed": ReportStatus.FIXED,
    "closed": ReportStatus.CLOSED,
    "no_further_action": ReportStatus.CLOSED,
    "not_councils_responsibility": ReportStatus.REJECTED,
    "duplicate": ReportStatus.DUPLICATE,
}
