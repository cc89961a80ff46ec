"""What triage staff see of a report, in their language: the view-model of the triage pages
and of the triage API.

The service (``backend.services.triage``) ranks the reports and says what may be done with
them; this module turns its records into what is shown: service names in the reader's
language, the priority's parts, the links' labels, the history with what the public sees of
each note. The API's schemas (``backend.schemas.triage``) and the pages' templates read these
dictionaries.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from backend.db import utcnow
from backend.models import Area, Report, Service, StaffUser, Team
from backend.services.assignment import assignment_history
from backend.services.contacts import ContactDetails
from backend.services.feedback import existing as feedback_of
from backend.services.followers import followers_count
from backend.services.links import link_summaries
from backend.services.reports import public_history
from backend.services.tracking import additions_of
from backend.services.triage import (
    Priority,
    TriageFilters,
    allowed_statuses,
    corrections_of,
    has_contact,
    rank_queue,
    report_priority,
    services_by_code,
)
from backend.services.versions import version_of

TOP_PREDICTIONS = 3


def triage_queue(
    *,
    session: Session,
    staff: StaffUser,
    filters: TriageFilters,
    page: int = 1,
    page_size: int = 50,
    lang: str = "fr",
    now: datetime | None = None,
    total: int | None = None,
) -> tuple[list[dict[str, Any]], int]:
    """One page of the triage queue as staff see it (``rank_queue``), and how many match."""
    services = services_by_code(session)
    ranked, total = rank_queue(
        session=session,
        staff=staff,
        filters=filters,
        services=services,
        page=page,
        page_size=page_size,
        now=now,
        total=total,
    )
    ids = [report.id for report, _ in ranked if report.id is not None]
    links = link_summaries(session, ids, lang=lang)
    names = _Names.load(session, [report for report, _ in ranked])
    now = now or utcnow()
    items = [
        _summary(report, priority, links[report.id], services, lang, names, now)
        for report, priority in ranked
        if report.id is not None
    ]
    return items, total


@dataclass(frozen=True)
class _Names:
    """The names shown for codes and ids: areas, teams, people."""

    areas: dict[str, str]
    teams: dict[str, str]
    people: dict[int, str]

    @classmethod
    def load(cls, session: Session, reports: list[Report]) -> _Names:
        area_codes = sorted({r.area_code for r in reports if r.area_code})
        person_ids = sorted({r.assignee_id for r in reports if r.assignee_id is not None})
        areas: dict[str, str] = {}
        if area_codes:
            stmt = select(Area.code, Area.name).where(col(Area.code).in_(area_codes))
            areas = {code: name for code, name in session.exec(stmt)}
        people: dict[int, str] = {}
        if person_ids:
            stmt_people = select(StaffUser.id, StaffUser.email).where(
                col(StaffUser.id).in_(person_ids)
            )
            people = {pid: email for pid, email in session.exec(stmt_people) if pid is not None}
        teams = {t.code: t.name for t in session.exec(select(Team))}
        return cls(areas=areas, teams=teams, people=people)


def _service_name(services: dict[str, Service], code: str | None, lang: str) -> str | None:
    service = services.get(code) if code else None
    return service.name(lang) if service else None


def _summary(
    report: Report,
    priority: Priority,
    links: list[dict[str, Any]],
    services: dict[str, Service],
    lang: str,
    names: _Names,
    now: datetime,
) -> dict[str, Any]:
    return {
        "id": report.id,
        "tracking_id": report.tracking_id,
        "status": report.status,
        "service_code": report.service_code,
        "service_name": _service_name(services, report.service_code, lang),
        "predicted_code": report.predicted_code,
        "confidence": report.confidence,
        "needs_triage": report.needs_triage,
        "area_code": report.area_code,
        # The quartier's name (the code when no area of that code is loaded).
        "area_name": names.areas.get(report.area_code or "", report.area_code),
        "team_code": report.team_code,
        "team_name": names.teams.get(report.team_code or "", report.team_code),
        "assignee_id": report.assignee_id,
        "assignee_email": names.people.get(report.assignee_id or 0),
        "due_at": report.due_at,
        "overdue": report.due_at is not None and report.due_at < (report.closed_at or now),
        "version": version_of(report),
        "address": report.address,
        "description": report.description,
        "created_at": report.created_at,
        "priority": priority.total,
        "priority_parts": priority.parts(),
        "age_days": priority.age_days,
        "target_days": priority.target_days,
        "links": links,
    }


def staff_view(
    *,
    session: Session,
    report: Report,
    lang: str = "fr",
    contact: ContactDetails | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """A report as triage staff see it: its words, prediction, hint, history, links, priority.

    The resident's contact details are not in it unless ``contact`` is given (read with
    ``backend.services.triage.read_contact_logged``); ``has_contact`` says whether there are
    any.
    """
    assert report.id is not None
    services = services_by_code(session)
    links = link_summaries(session, [report.id], lang=lang)[report.id]
    priority = report_priority(session=session, report=report, services=services, now=now)
    corrections = corrections_of(session=session, report=report)
    top = (report.top_predictions or [])[:TOP_PREDICTIONS]
    names = _Names.load(session, [report])
    return {
        **_summary(report, priority, links, services, lang, names, now or utcnow()),
        "assignments": assignment_history(session=session, report=report),
        "description_public": report.description_public,
        "address_public": report.address_public,
        "service_hint": report.service_hint,
        "service_hint_name": _service_name(services, report.service_hint, lang),
        "language": report.language,
        "lat": report.lat,
        "lon": report.lon,
        "photo_url": f"/media/{report.photo_name}" if report.photo_name else None,
        # Residents who said "it's the same" instead of filing it again.
        "followers": followers_count(session, report.id),
        "source": report.source,
        "updated_at": report.updated_at,
        "closed_at": report.closed_at,
        "prediction": {
            "service_code": report.predicted_code,
            "service_name": _service_name(services, report.predicted_code, lang),
            "confidence": report.confidence,
            "top": [
                {
                    "service_code": item.get("service_code"),
                    "service_name": _service_name(services, item.get("service_code"), lang),
                    "confidence": item.get("confidence"),
                }
                for item in top
            ],
            "model_version": report.model_version,
        },
        "history": [
            {
                "status": u.status,
                "public_note": u.public_note,
                # What the public sees of it, and what the scrubbing took out (None: the
                # worker has not scrubbed it yet, and nothing of it is public).
                "public_note_published": u.public_note_published,
                "public_note_removed": u.public_note_removed,
                "scrub_pending": bool(u.public_note) and u.public_note_published is None,
                "author": u.author,
                "created_at": u.created_at,
            }
            for u in public_history(session=session, report=report)
        ],
        "corrections": [
            {
                "service_code": c.service_code,
                "predicted_code": c.predicted_code,
                "author": c.author,
                "created_at": c.created_at,
            }
            for c in corrections
        ],
        **resident_side(session=session, report=report),
        "allowed_statuses": allowed_statuses(report),
        "has_contact": has_contact(session=session, report=report),
        "contact": (
            {
                "email": contact.email,
                "phone": contact.phone,
                "consent_notifications": contact.consent_notifications,
            }
            if contact is not None
            else None
        ),
    }


def resident_side(*, session: Session, report: Report) -> dict[str, Any]:
    """What the resident said back: the questionnaire's answer and their additions.

    The comment and the added texts as written (staff only), with what the resident is shown
    of each text (scrubbed; None until the worker has scrubbed it).
    """
    answer = feedback_of(session=session, report=report)
    return {
        "feedback": (
            {
                "fixed": answer.fixed,
                "satisfaction": answer.satisfaction,
                "comment": answer.comment,
                "reopened": answer.reopened,
                "created_at": answer.created_at,
            }
            if answer is not None
            else None
        ),
        "additions": [
            {
                "kind": "addition",
                "text": a.text,
                "text_public": a.text_public,
                "text_removed": a.text_removed,
                "photo_url": f"/media/{a.photo_name}" if a.photo_name else None,
                "created_at": a.created_at,
            }
            for a in additions_of(session=session, report=report)
        ],
    }
