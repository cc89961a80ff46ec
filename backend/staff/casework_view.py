"""What the report page shows beyond triage: internal notes, templates, duplicates, photos,
nearby reports. Shared by the staff pages and the staff API, like ``report_view``."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

from sqlmodel import Session, col, select

from backend.models import Report, StaffUser
from backend.services import merge, notes, response_templates
from backend.services.access import service_filter
from backend.services.triage import services_by_code

NEARBY_RADIUS_M = 300.0
NEARBY_DAYS = 60
NEARBY_LIMIT = 10


def _photo_url(report: Report) -> str | None:
    return f"/media/{report.photo_name}" if report.photo_name else None


def _brief(report: Report, services: dict[str, Any], lang: str) -> dict[str, Any]:
    service = services.get(report.service_code) if report.service_code else None
    return {
        "id": report.id,
        "tracking_id": report.tracking_id,
        "status": report.status,
        "service_code": report.service_code,
        "service_name": service.name(lang) if service else None,
        "description": report.description,
        "created_at": report.created_at,
        "photo_url": _photo_url(report),
    }


def nearby_reports(*, session: Session, report: Report, staff: StaffUser) -> list[dict[str, Any]]:
    """Reports of any category ``staff`` may see within 300 m and 60 days of ``report``."""
    if report.lat is None or report.lon is None:
        return []
    dlat = math.degrees(NEARBY_RADIUS_M / merge.EARTH_RADIUS_M)
    dlon = dlat / max(math.cos(math.radians(report.lat)), 0.01)
    window = timedelta(days=NEARBY_DAYS)
    stmt = (
        select(Report)
        .where(Report.id != report.id)
        .where(
            col(Report.created_at).between(report.created_at - window, report.created_at + window)
        )
        .where(col(Report.lat).between(report.lat - dlat, report.lat + dlat))
        .where(col(Report.lon).between(report.lon - dlon, report.lon + dlon))
        .where(service_filter(staff, Report.service_code, session))
        .limit(200)
    )
    found = []
    for other in session.exec(stmt):
        assert other.lat is not None and other.lon is not None
        distance = merge.distance_m(report.lat, report.lon, other.lat, other.lon)
        if distance <= NEARBY_RADIUS_M:
            found.append((round(distance), other))
    found.sort(key=lambda item: (item[0], item[1].id))
    return [{"report": r, "distance_m": d} for d, r in found[:NEARBY_LIMIT]]


def casework_view(
    *, session: Session, report: Report, staff: StaffUser, lang: str
) -> dict[str, Any]:
    """Notes, templates (filled in, in the report's language), duplicates and neighbours."""
    services = services_by_code(session)
    merged = merge.merged_reports(session=session, report=report)
    into = merge.merged_into(session=session, report=report)
    photos = [
        {"url": url, "report_id": r.id}
        for r in [report, *merged]
        if (url := _photo_url(r)) is not None
    ]
    report_lang = "en" if report.language == "en" else "fr"
    return {
        "notes": [
            {"id": n.id, "body": n.body, "author": n.author, "created_at": n.created_at}
            for n in notes.list_notes(session=session, report=report)
        ],
        "templates": [
            {
                "id": t.id,
                "title": t.title,
                "status": t.status,
                "language": report_lang,
                "text": response_templates.render_for(
                    session=session, template=t, report=report, lang=report_lang
                ),
            }
            for t in response_templates.templates_for(session=session, report=report)
        ],
        "duplicates": [
            {
                **_brief(item["report"], services, lang),
                "distance_m": item["distance_m"],
                "days_apart": item["days_apart"],
                "similarity": item["similarity"],
                "score": item["score"],
            }
            for item in merge.likely_duplicates(session=session, report=report, staff=staff)
        ],
        "merged": [_brief(r, services, lang) for r in merged],
        "merged_into": _brief(into, services, lang) if into is not None else None,
        "photos": photos,
        "nearby": [
            {**_brief(item["report"], services, lang), "distance_m": item["distance_m"]}
            for item in nearby_reports(session=session, report=report, staff=staff)
        ],
    }
