"""The triage queue on a map: the reports of the queue's filters, grouped by a grid.

The answer is bounded whatever the number of reports: the database groups the reports of
the visible box into square cells of ``cell_degrees(zoom)`` (about 64 screen pixels), and
returns at most ``MAX_CELLS`` of them. A cell holding one report is that report (its id,
status and position: a marker with a link); a cell holding more is a cluster (its count and
the mean position of its reports). Staff see the reports of their scope only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col

from backend.models import Report, StaffUser
from backend.services.access import service_filter
from backend.services.triage import TriageFilters
from backend.services.workflow import OPEN_STATUSES

__all__ = ["MAX_CELLS", "Box", "cell_degrees", "queue_map"]

MAX_CELLS = 2000
MIN_ZOOM, MAX_ZOOM = 8, 19


@dataclass(frozen=True)
class Box:
    """The visible box, in degrees (WGS84)."""

    south: float
    west: float
    north: float
    east: float


def cell_degrees(zoom: int) -> float:
    """The side of a grid cell at ``zoom``: a quarter of a 256-pixel tile, in degrees."""
    zoom = min(max(zoom, MIN_ZOOM), MAX_ZOOM)
    return 360.0 / (2**zoom) / 4


def _cell(session: Session, column: Any, offset: float, size: float) -> Any:
    value = (column + offset) / size
    # floor(): PostgreSQL's CAST rounds. SQLite has no floor() everywhere, and its CAST
    # truncates, which is the floor of the positive values shifted by ``offset``.
    if session.get_bind().dialect.name == "sqlite":
        return sa.cast(value, sa.Integer)
    return sa.func.floor(value)


def queue_map(
    *, session: Session, staff: StaffUser, filters: TriageFilters, box: Box, zoom: int
) -> dict[str, Any]:
    """A GeoJSON FeatureCollection of the queue's reports in ``box``, grouped by the grid.

    Each Feature is a Point with ``count``, and, for a single report, ``id`` and ``status``.
    ``truncated`` says whether more cells than ``MAX_CELLS`` matched.
    """
    size = cell_degrees(zoom)
    gy = _cell(session, col(Report.lat), 90.0, size).label("gy")
    gx = _cell(session, col(Report.lon), 180.0, size).label("gx")
    stmt = (
        sa.select(
            gy,
            gx,
            sa.func.count().label("n"),
            sa.func.min(col(Report.id)),
            sa.func.avg(col(Report.lat)),
            sa.func.avg(col(Report.lon)),
            sa.func.min(col(Report.status)),
        )
        .where(service_filter(staff, Report.service_code, session))
        .where(col(Report.lat).between(box.south, box.north))
        .where(col(Report.lon).between(box.west, box.east))
    )
    if filters.needs_triage is not None:
        stmt = stmt.where(col(Report.needs_triage).is_(filters.needs_triage))
    if filters.service_code is not None:
        stmt = stmt.where(col(Report.service_code) == filters.service_code)
    if filters.area_code is not None:
        stmt = stmt.where(col(Report.area_code) == filters.area_code)
    if filters.status is not None:
        stmt = stmt.where(col(Report.status) == filters.status)
    else:
        stmt = stmt.where(col(Report.status).in_(OPEN_STATUSES))
    stmt = stmt.group_by(gy, gx).order_by(sa.desc("n")).limit(MAX_CELLS + 1)
    rows = session.execute(stmt).all()
    features = []
    for _gy, _gx, count, first_id, lat, lon, status in rows[:MAX_CELLS]:
        properties: dict[str, Any] = {"count": int(count)}
        if count == 1:
            properties.update(id=int(first_id), status=status)
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [round(lon, 6), round(lat, 6)]},
                "properties": properties,
            }
        )
    return {
        "type": "FeatureCollection",
        "features": features,
        "cell_degrees": size,
        "truncated": len(rows) > MAX_CELLS,
    }
