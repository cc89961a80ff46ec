"""Internal notes of staff on a report: never public, never in Open311, the site or exports.

Nothing outside the staff pages and the staff API reads ``report_note``: the public view, the
Open311 rendering and the open-data files are built from other columns (tests check it).
"""

from __future__ import annotations

from sqlmodel import Session, col, select

from backend.models import Report, ReportNote, StaffUser
from backend.services import audit

__all__ = ["NOTE_MAX", "NoteError", "add_note", "list_notes"]

NOTE_MAX = 4000


class NoteError(ValueError):
    """A note refused: empty, or longer than ``NOTE_MAX`` characters."""


def add_note(*, session: Session, report: Report, body: str, staff: StaffUser) -> ReportNote:
    """Add an internal note to ``report`` with its audit row ``report.note_added``; commits."""
    text = (body or "").strip()
    if not text:
        raise NoteError("An internal note cannot be empty.")
    if len(text) > NOTE_MAX:
        raise NoteError(f"An internal note is limited to {NOTE_MAX} characters.")
    assert report.id is not None
    note = ReportNote(report_id=report.id, body=text, author=staff.email, author_id=staff.id)
    try:
        session.add(note)
        session.flush()
        # The note's words stay in its own row: the audit says who wrote which note, when.
        audit.record(
            session=session,
            actor=staff,
            action="report.note_added",
            target=f"report:{report.id}",
            details={"note_id": note.id, "length": len(text)},
        )
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return note


def list_notes(*, session: Session, report: Report) -> list[ReportNote]:
    """The internal notes of ``report``, oldest first."""
    return list(
        session.exec(
            select(ReportNote)
            .where(ReportNote.report_id == report.id)
            .order_by(col(ReportNote.created_at), col(ReportNote.id))
        )
    )
