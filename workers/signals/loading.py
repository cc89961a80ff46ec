"""Data loading of the daily detection: counts, areas, and the co-occurrence pairs' inputs.

:func:`load_daily_counts` aggregates reports per service, area and hour in SQL, then gives
each hour its local day in Python, which handles daylight saving the same way on SQLite and
PostgreSQL. Duplicates and rejected reports are left out everywhere.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy import func, or_
from sqlmodel import Session, col, select

from backend.models import Area, Incident, Report
from backend.services.workflow import DETECTION_EXCLUDED
from workers.signals import cooccurrence as cooc
from workers.signals.explain import AreaLabel
from workers.signals.settings import CooccurrencePair


@dataclass(frozen=True)
class Locations:
    """The areas a scan runs over: ids (row order), coordinates and labels for sentences."""

    ids: tuple[str, ...]
    coords: dict[str, tuple[float, float]]
    labels: dict[str, AreaLabel]


def local_bounds(first: date, last: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """UTC instants of local midnight on ``first`` and after ``last``."""
    lo = datetime.combine(first, time.min, tzinfo=tz).astimezone(UTC)
    hi = datetime.combine(last + timedelta(days=1), time.min, tzinfo=tz).astimezone(UTC)
    return lo, hi


def load_daily_counts(
    session: Session, *, first: date, last: date, timezone: str
) -> dict[str, dict[tuple[str, date], int]]:
    """Reports per service, area and local day, aggregated in SQL.

    SQL groups by service, area and UTC hour (the same expression's meaning on SQLite and
    PostgreSQL); each hour is then given its local day, which keeps daylight saving right
    on both. Duplicates and rejected reports are left out.

    Returns
    -------
    dict
        ``{service_code: {(area_code, day): count}}``.
    """
    tz = ZoneInfo(timezone)
    lo, hi = local_bounds(first, last, tz)
    created = col(Report.created_at)
    hour: Any
    if session.get_bind().dialect.name == "postgresql":
        hour = func.to_char(func.timezone("UTC", created), "YYYY-MM-DD HH24")
    else:
        hour = func.strftime("%Y-%m-%d %H", created)
    stmt = (
        select(Report.service_code, Report.area_code, hour, func.count())
        .where(
            created >= lo,
            created < hi,
            col(Report.service_code).is_not(None),
            col(Report.area_code).is_not(None),
            col(Report.status).not_in(DETECTION_EXCLUDED),
        )
        .group_by(col(Report.service_code), col(Report.area_code), hour)
    )
    out: dict[str, dict[tuple[str, date], int]] = defaultdict(lambda: defaultdict(int))
    for service_code, area_code, bucket, n in session.exec(stmt):
        instant = datetime.strptime(str(bucket), "%Y-%m-%d %H").replace(tzinfo=UTC)
        out[str(service_code)][(str(area_code), instant.astimezone(tz).date())] += int(n)
    return {k: dict(v) for k, v in out.items()}


def load_locations(
    session: Session, *, level: str | None, seen_codes: Iterable[str] = ()
) -> Locations:
    """The areas to scan: the imported areas of one level (the most numerous by default),
    or, in a city without areas, the H3 cells that reports were filed in."""
    areas = list(session.exec(select(Area).order_by(Area.code)))
    by_code = {a.code: a for a in areas}
    if areas:
        if level is None:
            per_level: dict[str, int] = defaultdict(int)
            for a in areas:
                per_level[a.level] += 1
            level = max(per_level, key=lambda k: per_level[k])
        chosen = [a for a in areas if a.level == level]
        labels = {}
        for a in chosen:
            parent = by_code.get(a.parent_code) if a.parent_code else None
            labels[a.code] = AreaLabel(
                code=a.code,
                name=a.name,
                parent_code=a.parent_code,
                parent_name=parent.name if parent else None,
            )
        return Locations(
            ids=tuple(a.code for a in chosen),
            coords={a.code: (a.centroid_lat, a.centroid_lon) for a in chosen},
            labels=labels,
        )
    import h3

    codes = sorted({c for c in seen_codes if h3.is_valid_cell(c)})
    return Locations(
        ids=tuple(codes),
        coords={c: h3.cell_to_latlng(c) for c in codes},
        labels={c: AreaLabel(code=c) for c in codes},
    )


def count_matrix(
    by_area_day: Mapping[tuple[str, date], int], ids: Sequence[str], *, first: date, last: date
) -> tuple[np.ndarray, int]:
    """A (area × day) matrix from ``{(area, day): count}``; also the reports left out
    because their area is not among ``ids``."""
    index = {a: i for i, a in enumerate(ids)}
    n_days = (last - first).days + 1
    counts = np.zeros((len(ids), n_days), dtype=np.int64)
    outside = 0
    for (area, day), n in by_area_day.items():
        i = index.get(area)
        d = (day - first).days
        if i is None:
            outside += n
        elif 0 <= d < n_days:
            counts[i, d] += n
    return counts, outside


def night_from_attributes(attributes: Mapping[str, Any]) -> bool | None:
    """Night or day from an incident's own lighting field (BAAC ``lum``), None if unknown."""
    lum = attributes.get("lum")
    try:
        value = int(str(lum).strip())
    except (TypeError, ValueError):
        return None
    if value in (3, 4, 5):
        return True
    if value == 1:
        return False
    return None  # dusk or dawn: the sun decides


def load_cooccurrence_inputs(
    session: Session, pair: CooccurrencePair, lo: datetime, hi: datetime
) -> tuple[list[cooc.Report], list[str | None], list[cooc.Incident], list[str | None]]:
    """A pair's reports open during ``[lo, hi)`` and its incidents then, with their areas."""
    report_rows = session.exec(
        select(Report).where(
            Report.service_code == pair.service_code,
            col(Report.lat).is_not(None),
            col(Report.lon).is_not(None),
            col(Report.created_at) < hi,
            or_(col(Report.closed_at).is_(None), col(Report.closed_at) > lo),
            col(Report.status).not_in(DETECTION_EXCLUDED),
        )
    ).all()
    reports = [
        cooc.Report(
            lon=float(r.lon or 0.0),
            lat=float(r.lat or 0.0),
            opened_at=r.created_at,
            fixed_at=r.closed_at,
        )
        for r in report_rows
    ]
    report_areas = [r.area_code for r in report_rows]
    kind = col(Incident.kind)
    match = or_(*[or_(kind == k, kind.startswith(k + ":")) for k in pair.incident_kinds])
    incident_rows = session.exec(
        select(Incident).where(
            match,
            col(Incident.occurred_at) >= lo,
            col(Incident.occurred_at) < hi,
            col(Incident.lat).is_not(None),
            col(Incident.lon).is_not(None),
        )
    ).all()
    incidents: list[cooc.Incident] = []
    areas: list[str | None] = []
    for inc in incident_rows:
        attrs = inc.attributes or {}
        if pair.attribute_in and not all(
            str(attrs.get(k, "")).strip() in values for k, values in pair.attribute_in.items()
        ):
            continue
        for _ in range(max(inc.count, 1)):
            incidents.append(
                cooc.Incident(
                    lon=float(inc.lon or 0.0),
                    lat=float(inc.lat or 0.0),
                    occurred_at=inc.occurred_at,
                    night=night_from_attributes(attrs),
                )
            )
            areas.append(inc.area_code)
    return reports, report_areas, incidents, areas


def load_city_region(session: Session, level: str | None) -> Any:
    """The union of the city's areas (of one level if given); None when it has none."""
    import json

    import shapely
    from shapely.geometry import shape

    areas = list(session.exec(select(Area)))
    if level is not None:
        areas = [a for a in areas if a.level == level]
    if not areas:
        return None
    return shapely.union_all([shapely.make_valid(shape(json.loads(a.geometry))) for a in areas])
