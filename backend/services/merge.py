"""Duplicates: likely ones of a report, merging two reports, and undoing a merge.

Likely duplicates of a report (:func:`likely_duplicates`) are the reports of the same
category, within ``RADIUS_M`` metres and ``WINDOW_DAYS`` days of it, not already merged nor
rejected, ranked by a score in [0, 1] (docs/staff.md, "Merging duplicates")::

    score = 0.4 x (1 - distance / RADIUS_M) + 0.3 x (1 - |days apart| / WINDOW_DAYS)
          + 0.3 x text similarity
    text similarity = Jaccard index of the two descriptions' word sets (lower case, accents
                      folded, words of 3 letters or more)

Merging (:func:`merge`) keeps one report and closes the other as ``duplicate`` with
``duplicate_of_id`` naming the kept one (the link back is the kept report's list of merged
reports); the duplicate's followers (``subscription`` rows) and its photo (when the kept
report has none) move to the kept report. What moved is written in the audit row
``report.merged``, which :func:`unmerge` reads to put everything back.
"""

from __future__ import annotations

import math
import re
import unicodedata
from datetime import timedelta
from typing import Any

from sqlmodel import Session, col, select

from backend.models import Report, ReportStatus, StaffUser, Subscription
from backend.models.staff import AuditLog
from backend.services import audit
from backend.services.access import service_filter
from backend.services.feedback import enqueue_refresh
from backend.services.reports import set_status

__all__ = [
    "RADIUS_M",
    "WINDOW_DAYS",
    "MergeError",
    "duplicate_score",
    "likely_duplicates",
    "merge",
    "merged_into",
    "merged_reports",
    "text_similarity",
    "unmerge",
]

RADIUS_M = 150.0
WINDOW_DAYS = 14
EARTH_RADIUS_M = 6_371_008.8
_WORD = re.compile(r"[a-z0-9]{3,}")
# Statuses a report may not be merged from or into.
_NOT_MERGEABLE = frozenset({ReportStatus.DUPLICATE, ReportStatus.REJECTED})


class MergeError(ValueError):
    """A merge or un-merge refused; ``reason`` says why."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def _words(text: str | None) -> set[str]:
    folded = unicodedata.normalize("NFKD", (text or "").lower())
    plain = "".join(c for c in folded if not unicodedata.combining(c))
    return set(_WORD.findall(plain))


def text_similarity(a: str | None, b: str | None) -> float:
    """The Jaccard index of the word sets of two texts (0 when either has no word)."""
    wa, wb = _words(a), _words(b)
    if not wa or not wb:
        return 0.0
    return len(wa & wb) / len(wa | wb)


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """The great-circle distance between two points, in metres (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(h))


def duplicate_score(distance: float, days_apart: float, similarity: float) -> float:
    """The score of a likely duplicate (module docstring), rounded to 3 decimals."""
    near = max(0.0, 1 - distance / RADIUS_M)
    recent = max(0.0, 1 - abs(days_apart) / WINDOW_DAYS)
    return round(0.4 * near + 0.3 * recent + 0.3 * similarity, 3)


def likely_duplicates(
    *, session: Session, report: Report, staff: StaffUser, limit: int = 10
) -> list[dict[str, Any]]:
    """The reports ``staff`` may see that are likely duplicates of ``report``, best first.

    Each item: ``report``, ``distance_m``, ``days_apart``, ``similarity``, ``score``. None for
    a report without a position or a category, or one already merged.
    """
    if (
        report.lat is None
        or report.lon is None
        or report.service_code is None
        or report.status in _NOT_MERGEABLE
    ):
        return []
    # A bounding box the indexes can use, then the exact distance.
    dlat = math.degrees(RADIUS_M / EARTH_RADIUS_M)
    dlon = dlat / max(math.cos(math.radians(report.lat)), 0.01)
    window = timedelta(days=WINDOW_DAYS)
    stmt = (
        select(Report)
        .where(Report.service_code == report.service_code)
        .where(Report.id != report.id)
        .where(col(Report.status).not_in([s.value for s in _NOT_MERGEABLE]))
        .where(
            col(Report.created_at).between(report.created_at - window, report.created_at + window)
        )
        .where(col(Report.lat).between(report.lat - dlat, report.lat + dlat))
        .where(col(Report.lon).between(report.lon - dlon, report.lon + dlon))
        .where(service_filter(staff, Report.service_code, session))
        .limit(500)
    )
    found: list[dict[str, Any]] = []
    for other in session.exec(stmt):
        assert other.lat is not None and other.lon is not None
        distance = distance_m(report.lat, report.lon, other.lat, other.lon)
        if distance > RADIUS_M:
            continue
        days = (other.created_at - report.created_at).total_seconds() / 86_400
        similarity = text_similarity(report.description, other.description)
        found.append(
            {
                "report": other,
                "distance_m": round(distance),
                "days_apart": round(days, 1),
                "similarity": round(similarity, 3),
                "score": duplicate_score(distance, days, similarity),
            }
        )
    found.sort(key=lambda item: (-item["score"], item["report"].id))
    return found[:limit]


def merged_reports(*, session: Session, report: Report) -> list[Report]:
    """The reports merged into ``report``, oldest first."""
    return list(
        session.exec(
            select(Report)
            .where(Report.duplicate_of_id == report.id)
            .order_by(col(Report.created_at), col(Report.id))
        )
    )


def merged_into(*, session: Session, report: Report) -> Report | None:
    """The report ``report`` was merged into, if it was."""
    if report.duplicate_of_id is None:
        return None
    return session.get(Report, report.duplicate_of_id)


def merge(*, session: Session, keep: Report, duplicate: Report, staff: StaffUser) -> None:
    """Merge ``duplicate`` into ``keep`` (both already checked visible to ``staff``); commits.

    Raises MergeError: ``same`` (one report), ``merged`` (either is a duplicate or rejected),
    ``category`` (different categories: correct one first).
    """
    assert keep.id is not None and duplicate.id is not None
    if keep.id == duplicate.id:
        raise MergeError("same", "A report cannot be merged into itself.")
    if keep.status in _NOT_MERGEABLE or duplicate.status in _NOT_MERGEABLE:
        raise MergeError(
            "merged", "Only reports that are neither duplicates nor rejected can be merged."
        )
    if keep.service_code != duplicate.service_code:
        raise MergeError(
            "category", "The two reports have different categories: correct one first."
        )
    try:
        # Followers move, except one who already follows the kept report (same e-mail).
        already = {
            s.email_hmac
            for s in session.exec(select(Subscription).where(Subscription.report_id == keep.id))
            if s.email_hmac
        }
        moved = []
        for sub in session.exec(select(Subscription).where(Subscription.report_id == duplicate.id)):
            if sub.email_hmac and sub.email_hmac in already:
                continue
            sub.report_id = keep.id
            session.add(sub)
            moved.append(sub.id)
        photo = None
        if duplicate.photo_name and not keep.photo_name:
            photo = duplicate.photo_name
            keep.photo_name, duplicate.photo_name = photo, None
        previous = duplicate.status
        duplicate.duplicate_of_id = keep.id
        set_status(
            session=session,
            report=duplicate,
            status=ReportStatus.DUPLICATE,
            author=staff.email,
        )
        session.add(keep)
        audit.record(
            session=session,
            actor=staff,
            action="report.merged",
            target=f"report:{duplicate.id}",
            details={
                "into": keep.id,
                "previous_status": previous,
                "moved_subscriptions": moved,
                "moved_photo": photo,
            },
        )
        audit.record(
            session=session,
            actor=staff,
            action="report.merge_kept",
            target=f"report:{keep.id}",
            details={"merged": duplicate.id},
        )
        enqueue_refresh(session=session, report_id=duplicate.id)
        enqueue_refresh(session=session, report_id=keep.id)
        session.commit()
    except BaseException:
        session.rollback()
        raise


def unmerge(*, session: Session, duplicate: Report, staff: StaffUser) -> Report:
    """Undo the merge of ``duplicate``: its status, followers and photo come back; commits.

    Returns the report it had been merged into. MergeError ``not_merged`` when it was not.
    """
    assert duplicate.id is not None
    keep = merged_into(session=session, report=duplicate)
    if keep is None or duplicate.status != ReportStatus.DUPLICATE or keep.id is None:
        raise MergeError("not_merged", "This report was not merged into another one.")
    row = session.exec(
        select(AuditLog)
        .where(AuditLog.action == "report.merged", AuditLog.target == f"report:{duplicate.id}")
        .order_by(col(AuditLog.at).desc(), col(AuditLog.id).desc())
    ).first()
    details = row.details if row is not None else {}
    try:
        moved = [int(i) for i in details.get("moved_subscriptions", [])]
        if moved:
            for sub in session.exec(
                select(Subscription)
                .where(col(Subscription.id).in_(moved))
                .where(Subscription.report_id == keep.id)
            ):
                sub.report_id = duplicate.id
                session.add(sub)
        photo = details.get("moved_photo")
        if photo and keep.photo_name == photo and not duplicate.photo_name:
            keep.photo_name, duplicate.photo_name = None, photo
        previous = details.get("previous_status") or ReportStatus.OPEN.value
        if previous in (ReportStatus.RECEIVED, ReportStatus.DUPLICATE):
            previous = ReportStatus.OPEN.value
        duplicate.duplicate_of_id = None
        set_status(
            session=session,
            report=duplicate,
            status=ReportStatus(previous),
            author=staff.email,
        )
        session.add(keep)
        for target, other in ((duplicate.id, keep.id), (keep.id, duplicate.id)):
            audit.record(
                session=session,
                actor=staff,
                action="report.unmerged",
                target=f"report:{target}",
                details={"other": other},
            )
        enqueue_refresh(session=session, report_id=duplicate.id)
        enqueue_refresh(session=session, report_id=keep.id)
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return keep
