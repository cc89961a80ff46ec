"""A report's version, for two agents editing it at once: what changed since a version.

The version is the report's ``updated_at`` (every staff change moves it: status, category,
assignment). The API turns it into an ETag (If-Match on updates), the pages into a hidden
field; when the version sent is not the current one, :func:`changes_since` tells who changed
what meanwhile, from the audit log.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlmodel import Session

from backend.models import Report
from backend.services import audit

__all__ = ["changes_since", "parse_version", "version_of"]

# Audit actions that change a report (reads, like contact.read, change nothing).
CHANGE_ACTIONS = frozenset({"report.status_set", "report.category_corrected", "report.assigned"})


def version_of(report: Report) -> str:
    """The report's version: its last change, in microseconds since the epoch."""
    moment = report.updated_at
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return str(int(moment.timestamp() * 1_000_000))


def parse_version(value: str | None) -> datetime | None:
    """The moment a version names, or None for something that is not a version."""
    if not value or not value.isdigit() or len(value) > 20:
        return None
    return datetime.fromtimestamp(int(value) / 1_000_000, tz=UTC)


def changes_since(*, session: Session, report: Report, version: str | None) -> list[dict[str, Any]]:
    """What staff changed on ``report`` after ``version``, oldest first: who, when, what."""
    since = parse_version(version)
    rows = audit.for_target(session=session, target=f"report:{report.id}", since=since)
    return [
        {"actor": row.actor, "action": row.action, "at": row.at, "details": row.details}
        for row in rows
        if row.action in CHANGE_ACTIONS
    ]
