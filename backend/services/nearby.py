"""Open reports of a category near a point: the duplicates a resident is shown before filing."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func
from sqlalchemy import select as sa_select
from sqlmodel import Session, col

from backend.models import Report, Service, Subscription
from backend.services.reports import snap
from backend.services.workflow import OPEN_STATUSES

__all__ = ["EXCERPT_CHARS", "NEARBY_GRID_DEGREES", "NearbyReport", "nearby_open_reports"]

# Positions are compared cell to cell on this grid (~55 m north-south, ~40 m east-west in
# Marseille), never exactly: asked from many points, rounded distances would otherwise
# triangulate a report's exact position (decision 0009).
NEARBY_GRID_DEGREES = 0.0005
EXCERPT_CHARS = 160
EARTH_RADIUS_M = 6_371_000.0


@dataclass(frozen=True)
class NearbyReport:
    """What a resident may see of a nearby open report: nothing that identifies anyone."""

    tracking_id: str
    service_code: str
    service_name: str
    status: str
    created_at: datetime
    distance_m: int
    followers: int
    description_excerpt: str | None


def _distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(a))


def _excerpt(text: str | None) -> str | None:
    if not text or not text.strip():
        return None
    text = " ".join(text.split())
    return text if len(text) <= EXCERPT_CHARS else text[: EXCERPT_CHARS - 1].rstrip() + "…"


def nearby_open_reports(
    *,
    session: Session,
    lat: float,
    lon: float,
    service_code: str,
    radius_m: int,
    lang: str,
    limit: int = 10,
) -> list[NearbyReport]:
    """Open reports of ``service_code`` within ``radius_m`` of a point, nearest first.

    Never a category about people (the answer is empty), never an exact position (distances
    are between grid cells, rounded to 10 m), only the scrubbed text (no excerpt before the
    worker has scrubbed it).
    """
    service = session.get(Service, service_code)
    if service is None or service.about_people:
        return []
    origin = (snap(lat, NEARBY_GRID_DEGREES), snap(lon, NEARBY_GRID_DEGREES))
    # A bounding box the indexes can narrow on, a little wider than the radius plus a cell.
    reach = radius_m + 2 * 111_320 * NEARBY_GRID_DEGREES
    dlat = reach / 111_320
    dlon = reach / (111_320 * max(math.cos(math.radians(lat)), 0.01))
    # The category staff or the worker settled on; before that, the resident's own hint.
    code = func.coalesce(Report.service_code, Report.service_hint)
    stmt = sa_select(
        col(Report.id),
        col(Report.tracking_id),
        col(Report.status),
        col(Report.created_at),
        col(Report.lat),
        col(Report.lon),
        col(Report.description_public),
    ).where(
        code == service_code,
        col(Report.status).in_(OPEN_STATUSES),
        col(Report.lat).between(lat - dlat, lat + dlat),
        col(Report.lon).between(lon - dlon, lon + dlon),
    )
    candidates = []
    for row in session.connection().execute(stmt).all():
        cell = (snap(row.lat, NEARBY_GRID_DEGREES), snap(row.lon, NEARBY_GRID_DEGREES))
        distance = _distance_m(*origin, *cell)
        if distance <= radius_m:
            candidates.append((distance, row))
    candidates.sort(key=lambda pair: (pair[0], -pair[1].created_at.timestamp()))
    candidates = candidates[:limit]
    ids = [row.id for _, row in candidates]
    counts: dict[int, int] = {}
    if ids:
        count_stmt = (
            sa_select(col(Subscription.report_id), func.count())
            .where(col(Subscription.report_id).in_(ids))
            .group_by(col(Subscription.report_id))
        )
        rows = session.connection().execute(count_stmt).all()
        counts = {report_id: int(n) for report_id, n in rows}
    return [
        NearbyReport(
            tracking_id=row.tracking_id,
            service_code=service_code,
            service_name=service.name(lang),
            status=row.status,
            created_at=row.created_at,
            distance_m=int(round(distance / 10.0) * 10),
            followers=counts.get(row.id, 0),
            description_excerpt=_excerpt(row.description_public),
        )
        for distance, row in candidates
    ]
