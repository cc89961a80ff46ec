"""What a resident adds to their open report from the tracking page: more text, a photo.

Only the holder of the resident's token may add (the caller checks it), only to a report the
city has not closed. The text is stored as written (staff-only) and scrubbed of personal data
by a worker (``workers.jobs.scrub_addition``, queued through the outbox in the same
transaction) before the tracking page shows it back; the photo goes through the intake's own
checks (``backend.services.photos``). Staff see additions on the report page.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from sqlmodel import Session

from backend.db import utcnow
from backend.jobs import SCRUB_ADDITION
from backend.models import Report, ReportAddition
from backend.services import outbox
from backend.services.photos import PhotoLimits, clean_photo, delete_photo, store_photo
from backend.services.workflow import OPEN_STATUSES

TEXT_MAX = 2000


class AdditionError(ValueError):
    """An addition that is refused; ``code`` says why (``closed``, ``empty``, ``too_long``)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def scrub_job_id(addition_id: int) -> str:
    """The RQ job id of an addition's scrubbing: one per addition."""
    return f"scrub-addition-{addition_id}"


def can_add(report: Report) -> bool:
    """Whether the resident may still add to the report (the city has not closed it)."""
    return report.status in OPEN_STATUSES


def add_information(
    *,
    session: Session,
    report: Report,
    text: str | None,
    photo: bytes | None,
    media_path: Path,
    photo_limits: PhotoLimits,
) -> ReportAddition:
    """Store the resident's addition and queue the scrubbing of its text; commits.

    Raises AdditionError, or ``PhotoRejectedError`` for a photo the intake would refuse.
    """
    if not can_add(report):
        raise AdditionError("closed", "Information can be added only while the report is open.")
    text = (text or "").strip() or None
    if text is None and not photo:
        raise AdditionError("empty", "Write something or choose a photo.")
    if text is not None and len(text) > TEXT_MAX:
        raise AdditionError("too_long", f"The text is limited to {TEXT_MAX} characters.")
    photo_name = None
    if photo:
        photo_name = store_photo(clean_photo(photo, limits=photo_limits), media_path=media_path)
    assert report.id is not None
    try:
        addition = ReportAddition(
            report_id=report.id, text=text, photo_name=photo_name, created_at=utcnow()
        )
        session.add(addition)
        session.flush()
        assert addition.id is not None
        if text is not None:
            outbox.add_job(
                session=session,
                job_path=SCRUB_ADDITION.path,
                args=[addition.id],
                job_id=scrub_job_id(addition.id),
                queue=SCRUB_ADDITION.queue,
            )
        session.commit()
    except BaseException:
        session.rollback()
        if photo_name:
            delete_photo(photo_name, media_path=media_path)
        raise
    return addition


def publish(*, addition: ReportAddition, text: str, removed: Iterable[str]) -> None:
    """Store the scrubbed text and the kinds of personal data taken out (the worker's step)."""
    addition.text_public = text
    addition.text_removed = sorted(set(removed))
