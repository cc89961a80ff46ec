"""Links between reports and official incidents close in space and time.

A rule pairs a report service code with an incident kind, a distance and a time window
(``workers/linking_rules.toml``; a city overrides it with ``LANTERNE_LINKING_RULES``): a traffic
signal reported broken and an accident within 50 m in the next 72 hours; a street light
reported out and a night-time accident within 100 m while the report is open...

The matching itself (``find_links``) is pure: positions are projected on a local metric plane
and the incidents put in a shapely STRtree, queried with every report at once (``dwithin``),
then the time windows are checked on the candidate pairs with numpy. The database functions
recompute the links of a report (``link_report``) or of a batch of incidents
(``link_incidents``) from scratch, so running them twice gives the same links.
"""

from __future__ import annotations

import fnmatch
import math
import os
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import shapely
import sqlalchemy as sa
from sqlmodel import Session, SQLModel, col, select

from backend.db import utcnow
from backend.models import Incident, Report, ReportIncidentLink

DEFAULT_RULES_PATH = Path(__file__).resolve().parent / "linking_rules.toml"
RULES_ENV = "LANTERNE_LINKING_RULES"
EARTH_RADIUS_M = 6_371_008.8
METRES_PER_DEGREE = EARTH_RADIUS_M * math.pi / 180
# How much one link counts in triage, by the worst injury of an accident (BAAC ``severity``).
SEVERITY_FACTOR = {"killed": 3.0, "hospitalised": 2.0, "light_injury": 1.0, "unhurt": 0.5}
_CHUNK = 900


class LinkingRulesError(ValueError):
    """A linking rules file that cannot be used; the message says which rule and why."""


@dataclass(frozen=True)
class LinkRule:
    """One pair of kinds, with its distance and time window."""

    name: str
    service: str
    kind: str
    max_distance_m: float
    min_lag_hours: float = 0.0
    max_lag_hours: float = 72.0
    while_open: bool = False
    night: bool = False
    where: tuple[tuple[str, frozenset[Any]], ...] = ()
    weight: float = 1.0
    label_fr: str = ""
    label_en: str = ""

    KEYS = frozenset(
        {
            "name",
            "service",
            "kind",
            "max_distance_m",
            "min_lag_hours",
            "max_lag_hours",
            "while_open",
            "night",
            "where",
            "weight",
            "label_fr",
            "label_en",
        }
    )

    def kind_matches(self, kind: str) -> bool:
        """Whether an incident kind is this rule's (``kind`` may be a glob)."""
        return fnmatch.fnmatchcase(kind, self.kind)

    def accepts(self, incident: IncidentPoint) -> bool:
        """Whether an incident passes the rule's kind, night and attribute conditions."""
        if not self.kind_matches(incident.kind):
            return False
        if self.night and not incident.night:
            return False
        return all(incident.attributes.get(key) in values for key, values in self.where)

    def window(
        self, created_at: datetime, open_until: datetime | None, now: datetime
    ) -> tuple[datetime, datetime]:
        """The time span in which an incident links to a report made at ``created_at``."""
        if self.while_open:
            return created_at, open_until or now
        return (
            created_at + timedelta(hours=self.min_lag_hours),
            created_at + timedelta(hours=self.max_lag_hours),
        )


@dataclass(frozen=True)
class LinkRules:
    """The configured rules."""

    rules: tuple[LinkRule, ...]
    max_priority_boost: float = 5.0
    by_name: dict[str, LinkRule] = field(default_factory=dict, compare=False)

    def for_service(self, code: str | None) -> list[LinkRule]:
        """The rules of a report service code."""
        return [r for r in self.rules if r.service == code]

    def for_kind(self, kind: str) -> list[LinkRule]:
        """The rules that may link an incident kind."""
        return [r for r in self.rules if r.kind_matches(kind)]


def parse_rules(data: dict[str, Any], where: str = "rules") -> LinkRules:
    """Rules from the parsed TOML; LinkingRulesError with the rule's name when one is wrong."""
    settings = data.get("settings") or {}
    raw_rules = data.get("rule") or []
    if not isinstance(raw_rules, list):
        raise LinkingRulesError(f"{where}: [[rule]] must be an array of tables")
    rules: list[LinkRule] = []
    for index, raw in enumerate(raw_rules, start=1):
        name = str(raw.get("name") or f"rule {index}")
        unknown = set(raw) - LinkRule.KEYS
        if unknown:
            raise LinkingRulesError(f"{where}: rule {name!r}: unknown keys {sorted(unknown)}")
        for required in ("service", "kind", "max_distance_m"):
            if required not in raw:
                raise LinkingRulesError(f"{where}: rule {name!r} needs {required}")
        where_raw = raw.get("where") or {}
        conditions = tuple(
            (str(k), frozenset(v if isinstance(v, list) else [v])) for k, v in where_raw.items()
        )
        try:
            rule = LinkRule(
                name=name,
                service=str(raw["service"]),
                kind=str(raw["kind"]),
                max_distance_m=float(raw["max_distance_m"]),
                min_lag_hours=float(raw.get("min_lag_hours", 0.0)),
                max_lag_hours=float(raw.get("max_lag_hours", 72.0)),
                while_open=bool(raw.get("while_open", False)),
                night=bool(raw.get("night", False)),
                where=conditions,
                weight=float(raw.get("weight", 1.0)),
                label_fr=str(raw.get("label_fr", "")),
                label_en=str(raw.get("label_en", "")),
            )
        except (TypeError, ValueError) as exc:
            raise LinkingRulesError(f"{where}: rule {name!r}: {exc}") from exc
        if rule.max_distance_m <= 0 or rule.min_lag_hours > rule.max_lag_hours:
            raise LinkingRulesError(
                f"{where}: rule {name!r}: needs max_distance_m > 0 and "
                "min_lag_hours <= max_lag_hours"
            )
        rules.append(rule)
    names = [r.name for r in rules]
    if len(set(names)) != len(names):
        raise LinkingRulesError(f"{where}: two rules share a name")
    return LinkRules(
        rules=tuple(rules),
        max_priority_boost=float(settings.get("max_priority_boost", 5.0)),
        by_name={r.name: r for r in rules},
    )


@lru_cache(maxsize=4)
def _load(path: str, _mtime: float) -> LinkRules:
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise LinkingRulesError(f"{path}: {exc}") from exc
    return parse_rules(data, path)


def load_rules(path: Path | str | None = None) -> LinkRules:
    """The rules of ``path``, else of ``$LANTERNE_LINKING_RULES``, else the shipped defaults."""
    chosen = Path(path or os.environ.get(RULES_ENV) or DEFAULT_RULES_PATH)
    try:
        mtime = chosen.stat().st_mtime
    except OSError as exc:
        raise LinkingRulesError(f"{chosen}: no such linking rules file") from exc
    return _load(str(chosen), mtime)


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
    from workers.signals.cooccurrence import civil_twilight_utc

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
    if open_until is None and report.is_closed:
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
    from workers.importers.common import dialect_insert

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


def link_summary(session: Session, report_id: int, *, lang: str = "fr") -> list[dict[str, Any]]:
    """The incidents linked to a report, for staff: what, where, when, and by which rule."""
    rules = load_rules()
    stmt = (
        select(ReportIncidentLink, Incident)
        .join(Incident, col(Incident.id) == col(ReportIncidentLink.incident_id))
        .where(col(ReportIncidentLink.report_id) == report_id)
        .order_by(col(Incident.occurred_at), col(Incident.id))
    )
    out: list[dict[str, Any]] = []
    for link, incident in session.exec(stmt):
        rule = rules.by_name.get(link.rule)
        attrs = incident.attributes or {}
        label = (rule.label_en if lang == "en" else rule.label_fr) if rule else ""
        out.append(
            {
                "incident_id": incident.id,
                "source": incident.source,
                "external_id": incident.external_id,
                "kind": incident.kind,
                "occurred_at": incident.occurred_at.isoformat(),
                "address": incident.address,
                "area_code": incident.area_code,
                "count": incident.count,
                "distance_m": link.distance_m,
                "lag_hours": link.lag_hours,
                "rule": link.rule,
                "rule_label": label or link.rule,
                "details": {
                    k: attrs[k]
                    for k in (
                        "severity",
                        "lum_label",
                        "int_label",
                        "atm_label",
                        "vehicle_categories",
                        "night",
                    )
                    if k in attrs
                },
            }
        )
    return out


def _contribution(rule: LinkRule | None, incident_attrs: Mapping[str, Any], count: int) -> float:
    weight = rule.weight if rule is not None else 1.0
    severity = SEVERITY_FACTOR.get(str(incident_attrs.get("severity")), 1.0)
    # Aggregated sources (admissions by area and day) count more, but less than linearly.
    return weight * severity * math.sqrt(max(count, 1))


def priority_boosts(session: Session, report_ids: Sequence[int]) -> dict[int, float]:
    """The triage boost of several reports at once (0.0 for reports without links)."""
    rules = load_rules()
    boosts = dict.fromkeys(report_ids, 0.0)
    ids = sorted(set(report_ids))
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        stmt = (
            select(
                ReportIncidentLink.report_id,
                ReportIncidentLink.rule,
                Incident.attributes,
                Incident.count,
            )
            .join(Incident, col(Incident.id) == col(ReportIncidentLink.incident_id))
            .where(col(ReportIncidentLink.report_id).in_(chunk))
        )
        for report_id, rule_name, attrs, count in session.exec(stmt):
            boosts[report_id] += _contribution(rules.by_name.get(rule_name), attrs or {}, count)
    return {k: round(min(v, rules.max_priority_boost), 3) for k, v in boosts.items()}


def priority_boost(session: Session, report_id: int) -> float:
    """How much a report's links to official incidents add to its triage priority.

    Each link adds its rule's weight times the incident's severity (an accident with someone
    killed 3, hospitalised 2, light injuries 1, unhurt 0.5, other incidents 1) times the square
    root of its count; the sum is capped at ``max_priority_boost`` of the rules file (5).
    """
    return priority_boosts(session, [report_id])[report_id]
