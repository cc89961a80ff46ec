"""The triage queue on a map: the reports of the queue's filters, grouped by a grid.

The answer is bounded whatever the number of reports: the database groups the reports of
the visible box into square cells of ``cell_degrees(zoom)`` (about 64 screen pixels), and
returns at most ``MAX_CELLS`` of them. A cell holding one report is that report (its id,
status and position: a marker with a link); a cell holding more is a cluster (its count and
the mean position of its reports). Staff see the reports of their scope only.

Zoomed out (``COARSE_ZOOM`` and below) over the open reports, a view holds most of the city's
backlog, and grouping it live takes hundreds of milliseconds at a million reports: there the
map reads the grid the scheduled job stores (:func:`refresh_grid`, ``staff_snapshot``
``map-open``: counts per fine cell, service, status and "to check"), at most 5 minutes old,
and regroups it for the zoom. Zoomed in, and for any other filter, it asks the database.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col

from backend.db import utcnow
from backend.models import Report, StaffSnapshot, StaffUser
from backend.services.access import service_filter, service_scope
from backend.services.triage import TriageFilters
from backend.services.workflow import OPEN_STATUSES

__all__ = ["COARSE_ZOOM", "MAX_CELLS", "Box", "cell_degrees", "queue_map", "refresh_grid"]

MAX_CELLS = 2000
MIN_ZOOM, MAX_ZOOM = 8, 19
COARSE_ZOOM = 12
GRID_SNAPSHOT = "map-open"


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


def _feature(count: int, first_id: int, lat: float, lon: float, status: str) -> dict[str, Any]:
    properties: dict[str, Any] = {"count": int(count)}
    if count == 1:
        properties.update(id=int(first_id), status=status)
    return {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [round(lon, 6), round(lat, 6)]},
        "properties": properties,
    }


def refresh_grid(*, session: Session) -> StaffSnapshot:
    """Store the open reports counted per fine cell (``COARSE_ZOOM``'s), service, status and
    "to check", with their summed position and smallest id; commits."""
    size = cell_degrees(COARSE_ZOOM)
    gy = _cell(session, col(Report.lat), 90.0, size).label("gy")
    gx = _cell(session, col(Report.lon), 180.0, size).label("gx")
    stmt = (
        sa.select(
            gy,
            gx,
            col(Report.service_code),
            col(Report.status),
            col(Report.needs_triage),
            sa.func.count(),
            sa.func.sum(col(Report.lat)),
            sa.func.sum(col(Report.lon)),
            sa.func.min(col(Report.id)),
        )
        .where(col(Report.status).in_(OPEN_STATUSES), col(Report.lat).is_not(None))
        .where(col(Report.lon).is_not(None))
        .group_by(gy, gx, col(Report.service_code), col(Report.status), col(Report.needs_triage))
    )
    rows = [
        [int(y), int(x), code, status, bool(check), int(n), float(slat), float(slon), int(first)]
        for y, x, code, status, check, n, slat, slon, first in session.execute(stmt)
    ]
    now = utcnow()
    row = session.get(StaffSnapshot, GRID_SNAPSHOT) or StaffSnapshot(
        name=GRID_SNAPSHOT, computed_at=now, data={}
    )
    row.computed_at, row.data = now, {"rows": rows}
    session.add(row)
    session.commit()
    return row


def _from_grid(
    *, session: Session, staff: StaffUser, filters: TriageFilters, box: Box, zoom: int
) -> dict[str, Any]:
    snapshot = session.get(StaffSnapshot, GRID_SNAPSHOT) or refresh_grid(session=session)
    scope = service_scope(staff, session)
    factor = 2 ** (COARSE_ZOOM - min(max(zoom, MIN_ZOOM), COARSE_ZOOM))
    cells: dict[tuple[int, int], list[Any]] = {}
    for y, x, code, status, check, n, slat, slon, first in snapshot.data["rows"]:
        if scope is not None and code not in scope:
            continue
        if filters.service_code is not None and code != filters.service_code:
            continue
        if filters.needs_triage is not None and check != filters.needs_triage:
            continue
        if filters.status is not None and status != filters.status:
            continue
        lat, lon = slat / n, slon / n
        if not (box.south <= lat <= box.north and box.west <= lon <= box.east):
            continue
        key = (y // factor, x // factor)
        cell = cells.get(key)
        if cell is None:
            cells[key] = [n, first, slat, slon, status]
        else:
            cell[0] += n
            cell[1] = min(cell[1], first)
            cell[2] += slat
            cell[3] += slon
    ordered = sorted(cells.values(), key=lambda c: -c[0])
    return {
        "type": "FeatureCollection",
        "features": [
            _feature(n, first, slat / n, slon / n, status)
            for n, first, slat, slon, status in ordered[:MAX_CELLS]
        ],
        "cell_degrees": cell_degrees(zoom),
        "truncated": len(ordered) > MAX_CELLS,
        "computed_at": snapshot.computed_at.isoformat(),
    }


def queue_map(
    *, session: Session, staff: StaffUser, filters: TriageFilters, box: Box, zoom: int
) -> dict[str, Any]:
    """A GeoJSON FeatureCollection of the queue's reports in ``box``, grouped by the grid.

    Each Feature is a Point with ``count``, and, for a single report, ``id`` and ``status``.
    ``truncated`` says whether more cells than ``MAX_CELLS`` matched; ``computed_at``, when
    the answer comes from the stored grid (zoomed out over open reports), says how old it is.
    """
    open_only = filters.status is None or filters.status in OPEN_STATUSES
    if zoom <= COARSE_ZOOM and open_only and filters.area_code is None:
        return _from_grid(session=session, staff=staff, filters=filters, box=box, zoom=zoom)
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
    return {
        "type": "FeatureCollection",
        "features": [
            _feature(count, first_id, lat, lon, status)
            for _gy, _gx, count, first_id, lat, lon, status in rows[:MAX_CELLS]
        ],
        "cell_degrees": size,
        "truncated": len(rows) > MAX_CELLS,
        "computed_at": None,
    }
