"""Links between reports and official incidents close in space and time.

A rule pairs a report service code with an incident kind, a distance and a time window
(``backend/services/linking_rules.toml``; a city overrides it with ``LANTERNE_LINKING_RULES``):
a traffic signal reported broken and an accident within 50 m in the next 72 hours; a street
light reported out and a night-time accident within 100 m while the report is open...

The matching itself (``find_links``) is pure: positions are projected on a local metric plane
and the incidents put in a shapely STRtree, queried with every report at once (``dwithin``),
then the time windows are checked on the candidate pairs with numpy. The database functions
recompute the links of a report (``link_report``) or of a batch of incidents
(``link_incidents``) from scratch, so running them twice gives the same links. Reading the
links back (``link_summary``, ``priority_boosts``) is the backend's, in
``backend/services/links.py``: the web shows them and must not import ``workers``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import shapely
import sqlalchemy as sa
from sqlmodel import Session, SQLModel, col, select

from backend.db import dialect_insert, utcnow
from backend.models import Incident, Report, ReportIncidentLink

# The rules and the read-only views (what staff see, what triage counts) live in the backend,
# which the web process imports; re-exported here for the workers and existing callers.
from backend.services.links import (
    CHUNK,
    DEFAULT_RULES_PATH,
    RULES_ENV,
    SEVERITY_FACTOR,
    LinkingRulesError,
    LinkRule,
    LinkRules,
    link_summaries,
    link_summary,
    load_rules,
    parse_rules,
    priority_boost,
    priority_boosts,
)
from backend.services.workflow import is_closed
from workers.signals.daylight import civil_twilight_utc

__all__ = [
    "DEFAULT_RULES_PATH",
    "RULES_ENV",
    "SEVERITY_FACTOR",
    "IncidentPoint",
    "Link",
    "LinkRule",
    "LinkRules",
    "LinkingRulesError",
    "ReportPoint",
    "find_links",
    "haversine_m",
    "incident_night",
    "incident_point",
    "is_night",
    "link_incidents",
    "link_report",
    "link_summaries",
    "link_summary",
    "load_rules",
    "parse_rules",
    "priority_boost",
    "priority_boosts",
    "report_point",
]

EARTH_RADIUS_M = 6_371_008.8
METRES_PER_DEGREE = EARTH_RADIUS_M * math.pi / 180
_CHUNK = CHUNK


# ---------------------------------------------------------------------------------------------
# Pure matching
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportPoint:
    """What linking needs of a report. ``open_until`` is None while it is open."""

    id: int
    service_code: str
    lat: float
    lon: float
    created_at: datetime
    open_until: datetime | None = None


@dataclass(frozen=True)
class IncidentPoint:
    """What linking needs of an incident. ``night`` is None when unknown."""

    id: int
    kind: str
    lat: float
    lon: float
    occurred_at: datetime
    night: bool | None = None
    attributes: dict[str, Any] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class Link:
    """A report and an incident linked by a rule."""

    report_id: int
    incident_id: int
    distance_m: float
    lag_hours: float
    rule: str


def haversine_m(
    lat1: np.ndarray | float,
    lon1: np.ndarray | float,
    lat2: np.ndarray | float,
    lon2: np.ndarray | float,
) -> np.ndarray:
    """Great-circle distances in metres."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp, dl = p2 - p1, np.radians(np.asarray(lon2) - np.asarray(lon1))
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return np.asarray(2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(a)), dtype=np.float64)


def is_night(moment: datetime, lat: float, lon: float) -> bool:
    """Whether the sun is more than 6 degrees below the horizon (civil twilight) at a place."""
    moment = moment.astimezone(UTC)
    dawn, dusk = civil_twilight_utc(moment.date(), lat, lon)
    return not (dawn <= moment < dusk)


def incident_night(
    attributes: dict[str, Any], occurred_at: datetime, lat: float, lon: float
) -> bool:
    """Night from the source's own field when it has one (BAAC ``night``/``lum``), else the sun."""
    night = attributes.get("night")
    if isinstance(night, bool):
        return night
    lum = attributes.get("lum")
    if lum in (3, 4, 5, "3", "4", "5"):
        return True
    if lum in (1, "1"):
        return False
    return is_night(occurred_at, lat, lon)


def _projected(lat: np.ndarray, lon: np.ndarray, lat0: float, lon0: float) -> np.ndarray:
    kx = METRES_PER_DEGREE * math.cos(math.radians(lat0))
    return shapely.points((lon - lon0) * kx, (lat - lat0) * METRES_PER_DEGREE)


def _hours(moments: Iterable[datetime]) -> np.ndarray:
    return np.array([m.timestamp() / 3600.0 for m in moments], dtype=np.float64)


def find_links(
    reports: Sequence[ReportPoint],
    incidents: Sequence[IncidentPoint],
    rules: LinkRules | Sequence[LinkRule],
    *,
    now: datetime | None = None,
) -> list[Link]:
    """Every (report, incident) pair that a rule links.

    Parameters
    ----------
    reports, incidents
        Positions (WGS84) and times.
    rules
        The rules; when several link one pair, the one of highest weight (then the first) wins.
    now
        The end of the window of reports still open (``while_open`` rules).

    Returns
    -------
    list of Link
        Sorted by report, then incident; distances are great-circle metres, lags incident
        time minus report time in hours.
    """
    now = now or utcnow()
    rule_list = rules.rules if isinstance(rules, LinkRules) else tuple(rules)
    best: dict[tuple[int, int], tuple[float, int, Link]] = {}
    for order, rule in enumerate(rule_list):
        reps = [r for r in reports if r.service_code == rule.service]
        incs = [i for i in incidents if rule.accepts(i)]
        if not reps or not incs:
            continue
        r_lat = np.array([r.lat for r in reps])
        r_lon = np.array([r.lon for r in reps])
        i_lat = np.array([i.lat for i in incs])
        i_lon = np.array([i.lon for i in incs])
        lat0, lon0 = float(np.mean(i_lat)), float(np.mean(i_lon))
        tree = shapely.STRtree(_projected(i_lat, i_lon, lat0, lon0))
        # 1 % slack on the projected distance; the exact great-circle test comes next.
        pairs = tree.query(
            _projected(r_lat, r_lon, lat0, lon0),
            predicate="dwithin",
            distance=rule.max_distance_m * 1.01 + 1.0,
        )
        if pairs.shape[1] == 0:
            continue
        ri, ii = pairs[0], pairs[1]
        dist = haversine_m(r_lat[ri], r_lon[ri], i_lat[ii], i_lon[ii])
        windows = [rule.window(r.created_at, r.open_until, now) for r in reps]
        lo = _hours(w[0] for w in windows)[ri]
        hi = _hours(w[1] for w in windows)[ri]
        t_inc = _hours(i.occurred_at for i in incs)[ii]
        t_rep = _hours(r.created_at for r in reps)[ri]
        keep = (dist <= rule.max_distance_m) & (t_inc >= lo) & (t_inc <= hi)
        for k in np.flatnonzero(keep):
            report, incident = reps[ri[k]], incs[ii[k]]
            link = Link(
                report_id=report.id,
                incident_id=incident.id,
                distance_m=round(float(dist[k]), 1),
                lag_hours=round(float(t_inc[k] - t_rep[k]), 2),
                rule=rule.name,
            )
            key = (report.id, incident.id)
            rank = (rule.weight, -order)
            if key not in best or rank > best[key][:2]:
                best[key] = (rule.weight, -order, link)
    return [best[k][2] for k in sorted(best)]


# ---------------------------------------------------------------------------------------------
# With the database
# ---------------------------------------------------------------------------------------------


def report_point(report: Report) -> ReportPoint | None:
    """A report as linking sees it; None without a service code or a position."""
    if report.id is None or not report.service_code or report.lat is None or report.lon is None:
        return None
    open_until = report.closed_at
    if open_until is None and is_closed(report.status):
        open_until = report.updated_at
    return ReportPoint(
        id=report.id,
        service_code=report.service_code,
        lat=report.lat,
        lon=report.lon,
        created_at=report.created_at,
        open_until=open_until,
    )


def incident_point(incident: Incident) -> IncidentPoint | None:
    """An incident as linking sees it; None without a position."""
    if incident.id is None or incident.lat is None or incident.lon is None:
        return None
    attributes = dict(incident.attributes or {})
    return IncidentPoint(
        id=incident.id,
        kind=incident.kind,
        lat=incident.lat,
        lon=incident.lon,
        occurred_at=incident.occurred_at,
        night=incident_night(attributes, incident.occurred_at, incident.lat, incident.lon),
        attributes=attributes,
    )


def _like(glob: str) -> str:
    # "_" matches any one character in LIKE: a superset, refined by fnmatch afterwards.
    return glob.replace("%", "_").replace("*", "%").replace("?", "_")


def _box(lats: Sequence[float], lons: Sequence[float], metres: float) -> tuple[float, ...]:
    dlat = metres / METRES_PER_DEGREE
    mid = math.radians((max(lats) + min(lats)) / 2)
    dlon = metres / (METRES_PER_DEGREE * max(math.cos(mid), 0.01))
    return min(lats) - dlat, max(lats) + dlat, min(lons) - dlon, max(lons) + dlon


def _store(session: Session, links: list[Link]) -> None:
    if not links:
        return
    table = SQLModel.metadata.tables["report_incident_link"]
    now = utcnow()
    rows = [
        {
            "report_id": link.report_id,
            "incident_id": link.incident_id,
            "distance_m": link.distance_m,
            "lag_hours": link.lag_hours,
            "rule": link.rule,
            "created_at": now,
        }
        for link in links
    ]
    stmt = dialect_insert(session, table)
    stmt = stmt.on_conflict_do_update(
        index_elements=["report_id", "incident_id"],
        set_={k: stmt.excluded[k] for k in ("distance_m", "lag_hours", "rule", "created_at")},
    )
    session.execute(stmt, rows)


def link_report(
    session: Session, report_id: int, *, rules: LinkRules | None = None, now: datetime | None = None
) -> list[Link]:
    """Recompute the links of one report (the caller commits).

    Candidates are fetched per rule with the indexed kind/time columns and a bounding box,
    then matched with ``find_links``.
    """
    rules = rules or load_rules()
    now = now or utcnow()
    session.execute(
        sa.delete(ReportIncidentLink).where(col(ReportIncidentLink.report_id) == report_id)
    )
    report = session.get(Report, report_id)
    point = report_point(report) if report is not None else None
    if point is None:
        return []
    applicable = rules.for_service(point.service_code)
    candidates: dict[int, IncidentPoint] = {}
    for rule in applicable:
        start, end = rule.window(point.created_at, point.open_until, now)
        s, n, w, e = _box([point.lat], [point.lon], rule.max_distance_m * 1.05 + 5)
        stmt = select(Incident).where(
            col(Incident.kind).like(_like(rule.kind)),
            col(Incident.occurred_at) >= start,
            col(Incident.occurred_at) <= end,
            col(Incident.lat).between(s, n),
            col(Incident.lon).between(w, e),
        )
        for incident in session.exec(stmt):
            found = incident_point(incident)
            if found is not None:
                candidates[found.id] = found
    links = find_links([point], list(candidates.values()), applicable, now=now)
    _store(session, links)
    return links


def link_incidents(
    session: Session,
    incident_ids: Sequence[int],
    *,
    rules: LinkRules | None = None,
    now: datetime | None = None,
) -> list[Link]:
    """Recompute the links of a batch of incidents, against every report (the caller commits)."""
    rules = rules or load_rules()
    now = now or utcnow()
    ids = sorted(set(incident_ids))
    incidents: list[IncidentPoint] = []
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        session.execute(
            sa.delete(ReportIncidentLink).where(col(ReportIncidentLink.incident_id).in_(chunk))
        )
        for incident in session.exec(select(Incident).where(col(Incident.id).in_(chunk))):
            if rules.for_kind(incident.kind):
                found = incident_point(incident)
                if found is not None:
                    incidents.append(found)
    if not incidents:
        return []
    reports: dict[int, ReportPoint] = {}
    applicable = [r for r in rules.rules if any(r.kind_matches(i.kind) for i in incidents)]
    for rule in applicable:
        mine = [i for i in incidents if rule.accepts(i)]
        if not mine:
            continue
        first = min(i.occurred_at for i in mine)
        last = max(i.occurred_at for i in mine)
        s, n, w, e = _box(
            [i.lat for i in mine], [i.lon for i in mine], rule.max_distance_m * 1.05 + 5
        )
        stmt = select(Report).where(
            col(Report.service_code) == rule.service,
            col(Report.lat).between(s, n),
            col(Report.lon).between(w, e),
        )
        if rule.while_open:
            stmt = stmt.where(
                col(Report.created_at) <= last,
                sa.or_(col(Report.closed_at).is_(None), col(Report.closed_at) >= first),
            )
        else:
            stmt = stmt.where(
                col(Report.created_at) >= first - timedelta(hours=rule.max_lag_hours),
                col(Report.created_at) <= last - timedelta(hours=rule.min_lag_hours),
            )
        for report in session.exec(stmt):
            point = report_point(report)
            if point is not None:
                reports[point.id] = point
    links = find_links(list(reports.values()), incidents, applicable, now=now)
    _store(session, links)
    return links
