"""The daily detection: run the three detectors on the city's data and record Signal rows.

Two layers, so that the benchmark (``bench/signals_eval.py``) runs exactly what the job runs:

* **in memory** -- :func:`scan_candidates` and :func:`temporal_candidates` take a (area × day)
  count matrix of one service and return :class:`Candidate` signals;
  :func:`cooccurrence_candidate` takes reports and incidents of one configured pair;
* **database** -- :func:`load_daily_counts` aggregates reports per service, area and hour in
  SQL (then local day in Python, which handles daylight saving the same way on SQLite and
  PostgreSQL), and :func:`detect_signals` runs everything for one day and upserts the rows.

What becomes a signal. Every detector answers "how often would something at least this
strong appear by chance?" as a **recurrence interval** in days, and a signal is recorded when
it is at least ``recurrence_threshold_days`` (365 by default: about one false signal a year
per service and detector on data where nothing happens):

* scan: SaTScan's recurrence interval of a prospective daily analysis, ``1 / p``;
* temporal: an EARS alarm (C1, C2, C3) or a Noufaily alarm is confirmed by an exact p-value
  (the day's count against the 7 days before it, conditional on their sum: binomial with
  probability 1/8; Noufaily's own negative binomial tail for weeks), and the recurrence
  interval covers every area watched for the service, ``1 / (p × areas)`` (Bonferroni);
* co-occurrence: re-testing a year of data every day is not a new experiment each day, so it
  has no recurrence interval; a pair is signalled when its one-sided exact p-value is at most
  ``cooccurrence_alpha`` with at least ``cooccurrence_min_exposed`` exposed incidents.
"""

from __future__ import annotations

import logging
import math
import zlib
from collections import defaultdict
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from scipy import stats
from sqlalchemy import func, or_
from sqlmodel import Session, col, select

from backend.db import utcnow
from backend.models import Area, Incident, Report, ReportStatus, Service, Signal, SignalStatus
from workers.signals import cooccurrence as cooc
from workers.signals.explain import (
    AreaLabel,
    ServiceLabel,
    explain_cooccurrence,
    explain_scan,
    explain_temporal,
)
from workers.signals.scan import Neighbours, build_neighbours, scan_count_matrix
from workers.signals.temporal import EarsMethod, detect_temporal

log = logging.getLogger(__name__)

# Duplicates and rejected reports are not new events: counting them would fake clusters.
EXCLUDED_STATUSES = (ReportStatus.DUPLICATE.value, ReportStatus.REJECTED.value)


@dataclass(frozen=True)
class CooccurrencePair:
    """A configured pair of report service × incident kinds to test as an explanatory factor.

    ``incident_kinds`` match an incident's kind exactly or as a prefix before ``:``
    (``accident`` matches ``accident:velo``); ``attribute_in`` keeps incidents whose
    attribute takes one of the listed values (e.g. BAAC ``int`` for intersections).
    """

    name: str
    service_code: str
    incident_kinds: tuple[str, ...]
    radius_m: float
    incident_fr: str
    incident_en: str
    keep_strata: tuple[str, ...] | None = None
    stratum_fr: str = ""
    stratum_en: str = ""
    night_from_incident: bool = False
    attribute_in: Mapping[str, tuple[str, ...]] | None = None


DEFAULT_PAIRS: tuple[CooccurrencePair, ...] = (
    CooccurrencePair(
        name="streetlight_night_accidents",
        service_code="streetlight",
        incident_kinds=("accident", "road_accident", "baac"),
        radius_m=50.0,
        incident_fr="accidents de la route",
        incident_en="road accidents",
        keep_strata=("night",),
        stratum_fr="de nuit",
        stratum_en="at night",
        night_from_incident=True,
    ),
    CooccurrencePair(
        name="traffic_signal_intersection_accidents",
        service_code="traffic_signal",
        incident_kinds=("accident", "road_accident", "baac"),
        radius_m=30.0,
        incident_fr="accidents de la route en intersection",
        incident_en="road accidents at intersections",
        # BAAC ``int``: 1 is "outside an intersection", 2-9 are kinds of intersection
        attribute_in={"int": ("2", "3", "4", "5", "6", "7", "8", "9")},
    ),
    CooccurrencePair(
        name="public_order_police_logbook",
        service_code="public_order",
        incident_kinds=("main_courante", "police"),
        radius_m=100.0,
        incident_fr="mentions de main courante",
        incident_en="police logbook entries",
    ),
)


@dataclass(frozen=True)
class DetectionSettings:
    """Settings of the daily detection (documented in docs/signals.md).

    The maximum temporal window is 30 days, as New York City's daily syndromic surveillance
    uses: with 50 % of a 365-day study every replicate tries 182 window lengths per circle
    (about 75 s instead of 10-15 s for Marseille's 13 services), and a weak signal that
    takes half a year to build is no longer weak.
    """

    window_days: int = 365
    max_temporal_days: int = 30
    max_spatial_pct: float = 50.0
    max_radius_km: float | None = 3.0
    min_cases: int = 3
    replications: int = 999
    seed: int = 20050301
    recurrence_threshold_days: float = 365.0
    early_stop: bool = True
    ears_methods: tuple[EarsMethod, ...] = ("C1", "C2", "C3")
    farrington: bool = True
    farrington_history_days: int = 5 * 365 + 35
    cooccurrence: bool = True
    cooccurrence_days: int = 365
    cooccurrence_alpha: float = 0.001
    cooccurrence_min_exposed: int = 3
    pairs: tuple[CooccurrencePair, ...] = DEFAULT_PAIRS
    timezone: str = "Europe/Paris"
    area_level: str | None = None

    def with_overrides(self, overrides: Mapping[str, Any]) -> DetectionSettings:
        """A copy with some settings replaced (unknown names are an error)."""
        unknown = set(overrides) - set(self.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown detection settings: {sorted(unknown)}")
        return replace(self, **dict(overrides))


@dataclass
class Candidate:
    """A signal before it is stored: what a detector found, without explanations."""

    key: str
    kind: str
    method: str
    service_code: str | None
    area_codes: list[str]
    start: date
    end: date
    observed: float
    expected: float
    statistic: float
    p_value: float | None
    recurrence_interval_days: float | None
    incident_kind: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------------------------
# In memory: shared with the benchmark
# --------------------------------------------------------------------------------------------


def max_signal_rank(replications: int, threshold_days: float) -> int:
    """Largest Monte Carlo rank whose recurrence interval reaches the threshold.

    A daily analysis with ``p = rank / (replications + 1)`` has a recurrence interval of
    ``1 / p`` days, so a signal needs ``rank <= (replications + 1) / threshold``.

    Parameters
    ----------
    replications : int
        Monte Carlo replications.
    threshold_days : float
        Recurrence interval threshold in days.

    Returns
    -------
    int
        The largest rank that makes a signal (0: no rank can, too few replications).
    """
    return math.floor((replications + 1) / threshold_days + 1e-9)


def scan_seed(base: int, service_code: str, as_of: date) -> int:
    """A seed of its own for each service and day: re-runs repeat, days are independent."""
    return (base + zlib.crc32(f"{service_code}:{as_of.isoformat()}".encode())) % (2**32)


def scan_candidates(
    counts: np.ndarray,
    neighbours: Neighbours,
    *,
    service_code: str,
    study_start: date,
    settings: DetectionSettings,
) -> list[Candidate]:
    """Prospective space-time scan of one service on its last day; clusters worth a signal.

    Parameters
    ----------
    counts : ndarray of int, shape (L, T)
        Reports per area (rows in ``neighbours.ids`` order) and day; the last column is the
        day of the analysis.
    neighbours : Neighbours
        The areas' neighbour orderings (built once for all services).
    service_code : str
        The service, for the keys.
    study_start : date
        The day of column 0.
    settings : DetectionSettings
        Scan settings and the recurrence interval threshold.

    Returns
    -------
    list of Candidate
        Clusters (most likely first) whose recurrence interval reaches the threshold.
    """
    as_of = study_start + timedelta(days=counts.shape[1] - 1)
    max_rank = max_signal_rank(settings.replications, settings.recurrence_threshold_days)
    if max_rank < 1 or counts.sum() < settings.min_cases:
        return []
    # Sequential Monte Carlo: once max_rank replicates reach the most likely cluster, no
    # cluster of the day can be a signal, and the rest of the replications are not needed.
    early = max_rank if settings.early_stop else None
    result = scan_count_matrix(
        counts,
        neighbours,
        study_start=study_start,
        prospective=True,
        max_spatial_pct=settings.max_spatial_pct,
        max_radius_km=settings.max_radius_km,
        max_temporal_days=min(settings.max_temporal_days, counts.shape[1]),
        min_cases=settings.min_cases,
        replications=settings.replications,
        seed=scan_seed(settings.seed, service_code, as_of),
        early_stop=early,
    )
    out: list[Candidate] = []
    for rank, cluster in enumerate(result.clusters):
        ri = cluster.recurrence_interval_days
        if ri is None or ri < settings.recurrence_threshold_days - 1e-9:
            continue
        out.append(
            Candidate(
                key=f"scan:{service_code}:{cluster.center}:{cluster.start.isoformat()}",
                kind="scan",
                method="space_time_permutation",
                service_code=service_code,
                area_codes=list(cluster.locations),
                start=cluster.start,
                end=cluster.end,
                observed=float(cluster.observed),
                expected=float(cluster.expected),
                statistic=float(cluster.llr),
                p_value=cluster.p_value,
                recurrence_interval_days=ri,
                details={
                    "center": cluster.center,
                    "radius_km": round(cluster.radius_km, 3),
                    "relative_risk": cluster.observed / cluster.expected,
                    "rank": "most likely" if rank == 0 else "secondary",
                    "total_cases": result.total_cases,
                    "replications_run": result.replications_run,
                    "max_temporal_days": result.max_temporal_days,
                    "max_spatial_pct": result.max_spatial_pct,
                    "max_radius_km": result.max_radius_km,
                    "min_cases": result.min_cases,
                    "seed": result.seed,
                },
            )
        )
    return out


def exact_day_p_value(observed: int, baseline_sum: int, baseline_days: int = 7) -> float:
    """P-value of a day's count against the days before it, conditional on their sum.

    If the day and its ``baseline_days`` reference days share one Poisson rate, the day's
    share of their sum is binomial with probability ``1 / (baseline_days + 1)`` (the test
    is exact and, counts being discrete, conservative).

    Parameters
    ----------
    observed : int
        Count of the day.
    baseline_sum : int
        Sum of the reference days' counts.
    baseline_days : int
        Number of reference days.

    Returns
    -------
    float
        ``P(X >= observed)`` with ``X ~ Binomial(observed + baseline_sum, 1 / (days + 1))``.
    """
    if observed <= 0:
        return 1.0
    n = observed + baseline_sum
    return float(stats.binom.sf(observed - 1, n, 1.0 / (baseline_days + 1)))


def temporal_candidates(
    counts: np.ndarray,
    area_ids: Sequence[str],
    *,
    service_code: str,
    study_start: date,
    settings: DetectionSettings,
    eval_days: int = 1,
    farrington: bool | None = None,
) -> list[Candidate]:
    """EARS (and Noufaily) alarms of every area of one service, kept when surprising enough.

    Parameters
    ----------
    counts : ndarray of int, shape (L, T)
        Reports per area and day; the last column is the day of the analysis.
    area_ids : sequence of str
        The areas of the rows.
    service_code : str
        The service, for the keys.
    study_start : date
        The day of column 0 (days before it are unknown, not zero).
    settings : DetectionSettings
        EARS methods, whether to run Noufaily, and the recurrence interval threshold.
    eval_days : int
        How many of the last days to evaluate (1 for the daily job; the benchmark evaluates
        a whole year in one call, which gives the same alarms as 365 daily calls because
        EARS only looks back).
    farrington : bool or None
        Override ``settings.farrington`` (Noufaily evaluates only the last 7 days).

    Returns
    -------
    list of Candidate
        One candidate per area and day (EARS methods that alarmed are merged) and per area
        and week (Noufaily), with recurrence interval at least the threshold.
    """
    n_loc, n_days = counts.shape
    as_of = study_start + timedelta(days=n_days - 1)
    series: dict[Hashable, Mapping[date, int]] = {}
    active = np.flatnonzero(counts[:, max(0, n_days - eval_days - 7) :].sum(axis=1) > 0)
    for i in active:
        nz = np.flatnonzero(counts[i])
        series[area_ids[int(i)]] = {
            study_start + timedelta(days=int(d)): int(counts[i, d]) for d in nz
        }
    if not series:
        return []
    alarms = detect_temporal(
        series,
        as_of,
        history_start=study_start,
        ears_methods=settings.ears_methods,
        ears_days=eval_days,
        farrington=settings.farrington if farrington is None else farrington,
    )
    row = {a: i for i, a in enumerate(area_ids)}
    n_series = n_loc
    grouped: dict[tuple[str, date], list[Any]] = defaultdict(list)
    out: list[Candidate] = []
    for alarm in alarms:
        area = str(alarm.key)
        if alarm.method.startswith("ears_"):
            grouped[(area, alarm.period_end)].append(alarm)
            continue
        # Noufaily: its own predictive tail for the week
        p = alarm.p_value
        if p is None or p <= 0:
            continue
        ri = 1.0 / (p * n_series)
        if ri < settings.recurrence_threshold_days:
            continue
        out.append(
            Candidate(
                key=f"temporal:{service_code}:{area}:week:{alarm.period_end.isoformat()}",
                kind="temporal",
                method=alarm.method,
                service_code=service_code,
                area_codes=[area],
                start=alarm.period_start,
                end=alarm.period_end,
                observed=alarm.observed,
                expected=alarm.expected,
                statistic=alarm.statistic,
                p_value=p,
                recurrence_interval_days=ri,
                details={
                    "weekly": True,
                    "upper_bound": alarm.upper_bound,
                    "areas_watched": n_series,
                },
            )
        )
    for (area, day), group in grouped.items():
        pos = (day - study_start).days
        y = int(counts[row[area], pos])
        base = counts[row[area], max(0, pos - 7) : pos]
        if base.size < 7:
            continue
        p = exact_day_p_value(y, int(base.sum()), 7)
        ri = 1.0 / (p * n_series)
        if ri < settings.recurrence_threshold_days:
            continue
        c1 = next((a for a in group if a.method == "ears_c1"), group[0])
        out.append(
            Candidate(
                key=f"temporal:{service_code}:{area}:day:{day.isoformat()}",
                kind="temporal",
                method="+".join(a.method for a in group),
                service_code=service_code,
                area_codes=[area],
                start=day,
                end=day,
                observed=float(y),
                expected=float(base.mean()),
                statistic=float(c1.statistic),
                p_value=p,
                recurrence_interval_days=ri,
                details={
                    "weekly": False,
                    "methods": {
                        a.method: {
                            "upper_bound": a.upper_bound,
                            "statistic": a.statistic,
                            "expected": a.expected,
                        }
                        for a in group
                    },
                    "baseline_days": 7,
                    "areas_watched": n_series,
                },
            )
        )
    out.sort(key=lambda c: (c.end, c.area_codes, c.method))
    return out


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


def cooccurrence_candidate(
    pair: CooccurrencePair,
    reports: Sequence[cooc.Report],
    incidents: Sequence[cooc.Incident],
    incident_areas: Sequence[str | None],
    *,
    report_areas: Sequence[str | None] | None = None,
    region: Any,
    start: datetime,
    end: datetime,
    settings: DetectionSettings,
) -> Candidate | None:
    """Test one configured pair; a candidate when incidents cluster near open reports.

    Parameters
    ----------
    pair : CooccurrencePair
        The pair and its radius, strata and lighting rule.
    reports, incidents : sequences
        The pair's reports (with their open periods) and incidents.
    incident_areas : sequence of str or None
        The area of each incident (the signal's areas are those of the exposed incidents).
    report_areas : sequence of str or None, optional
        The area of each report, for exposed incidents that have no area of their own.
    region : shapely geometry
        The city, in longitude/latitude.
    start, end : datetime
        The study period (time-zone aware).
    settings : DetectionSettings
        The significance level and the fewest exposed incidents.

    Returns
    -------
    Candidate or None
        A candidate when the one-sided exact p-value is at most ``cooccurrence_alpha``.
    """
    if not reports or not incidents:
        return None
    result = cooc.cooccurrence(
        reports,
        incidents,
        radius_m=pair.radius_m,
        start=start,
        end=end,
        region=region,
        keep_strata=list(pair.keep_strata) if pair.keep_strata else None,
        night_from_incident=pair.night_from_incident,
        reference="sites",
    )
    test = result.test
    if (
        test.observed_exposed < settings.cooccurrence_min_exposed
        or test.p_value_greater > settings.cooccurrence_alpha
        or not test.rate_ratio > 1
    ):
        return None
    areas = sorted(
        {
            a
            for a in _exposed_areas(reports, incidents, incident_areas, report_areas, pair.radius_m)
            if a
        }
    )
    return Candidate(
        key=f"cooccurrence:{pair.name}",
        kind="cooccurrence",
        method="exact_rate_ratio",
        service_code=pair.service_code,
        incident_kind=",".join(pair.incident_kinds),
        area_codes=areas,
        start=start.date(),
        end=(end - timedelta(seconds=1)).date(),
        observed=float(test.observed_exposed),
        expected=float(test.expected_exposed),
        statistic=float(test.rate_ratio),
        p_value=float(test.p_value_greater),
        recurrence_interval_days=None,
        details={
            "pair": pair.name,
            "radius_m": pair.radius_m,
            "reference": "sites",
            "rate_ratio": test.rate_ratio,
            "ci_low": test.ci_low,
            "ci_high": test.ci_high if math.isfinite(test.ci_high) else None,
            "p_value_two_sided": test.p_value,
            "total_incidents": test.total,
            "strata": [
                {
                    "name": s.name,
                    "exposed_incidents": s.exposed_incidents,
                    "unexposed_incidents": s.unexposed_incidents,
                    "exposed_km2_days": s.exposed_km2_days,
                    "unexposed_km2_days": s.unexposed_km2_days,
                }
                for s in result.strata
            ],
            "incident_fr": pair.incident_fr,
            "incident_en": pair.incident_en,
            "stratum_fr": pair.stratum_fr,
            "stratum_en": pair.stratum_en,
        },
    )


def _exposed_areas(
    reports: Sequence[cooc.Report],
    incidents: Sequence[cooc.Incident],
    incident_areas: Sequence[str | None],
    report_areas: Sequence[str | None] | None,
    radius_m: float,
) -> list[str | None]:
    """Areas of the incidents that fell within the radius of a report while it was open."""
    import shapely

    lon0 = float(np.mean([r.lon for r in reports]))
    lat0 = float(np.mean([r.lat for r in reports]))
    proj = cooc.LocalProjection(lon0, lat0)
    rx, ry = proj.xy([r.lon for r in reports], [r.lat for r in reports])
    ix, iy = proj.xy([i.lon for i in incidents], [i.lat for i in incidents])
    tree = shapely.STRtree(shapely.points(rx, ry))
    inc_i, rep_j = tree.query(shapely.points(ix, iy), predicate="dwithin", distance=radius_m)
    out: list[str | None] = []
    for i, j in zip(inc_i.tolist(), rep_j.tolist(), strict=True):
        r, inc = reports[j], incidents[i]
        if r.opened_at <= inc.occurred_at and (r.fixed_at is None or inc.occurred_at < r.fixed_at):
            fallback = report_areas[j] if report_areas is not None else None
            out.append(incident_areas[i] or fallback)
    return out


# --------------------------------------------------------------------------------------------
# Database
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Locations:
    """The areas a scan runs over: ids (row order), coordinates and labels for sentences."""

    ids: tuple[str, ...]
    coords: dict[str, tuple[float, float]]
    labels: dict[str, AreaLabel]


def _local_bounds(first: date, last: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
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
    lo, hi = _local_bounds(first, last, tz)
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
            col(Report.status).not_in(EXCLUDED_STATUSES),
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


@dataclass
class DetectionSummary:
    """What one detection run did."""

    as_of: date
    created: int = 0
    updated: int = 0
    removed: int = 0
    by_kind: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    services_scanned: int = 0
    pairs_tested: int = 0
    reports_outside_areas: int = 0
    signal_ids: list[int] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "as_of": self.as_of.isoformat(),
            "created": self.created,
            "updated": self.updated,
            "removed": self.removed,
            "by_kind": dict(self.by_kind),
            "services_scanned": self.services_scanned,
            "pairs_tested": self.pairs_tested,
            "reports_outside_areas": self.reports_outside_areas,
            "signal_ids": self.signal_ids,
        }


def default_as_of(timezone: str = "Europe/Paris") -> date:
    """Yesterday in the city's time zone: the last complete day when the job runs at dawn."""
    return datetime.now(ZoneInfo(timezone)).date() - timedelta(days=1)


def _service_labels(session: Session) -> dict[str, ServiceLabel]:
    return {
        s.code: ServiceLabel(code=s.code, name_fr=s.name_fr, name_en=s.name_en)
        for s in session.exec(select(Service))
    }


def _explain(
    c: Candidate, services: Mapping[str, ServiceLabel], labels: Mapping[str, AreaLabel]
) -> tuple[str, str]:
    code = c.service_code or ""
    service = services.get(code, ServiceLabel(code=code, name_fr=code, name_en=code))
    areas = [labels.get(a, AreaLabel(code=a)) for a in c.area_codes]
    if c.kind == "scan":
        return explain_scan(
            service=service,
            areas=areas,
            start=c.start,
            end=c.end,
            observed=int(c.observed),
            expected=c.expected,
            recurrence_interval_days=c.recurrence_interval_days,
        )
    if c.kind == "temporal":
        return explain_temporal(
            service=service,
            area=areas[0],
            start=c.start,
            end=c.end,
            observed=c.observed,
            expected=c.expected,
            weekly=bool(c.details.get("weekly")),
            n_series=int(c.details.get("areas_watched", 1)),
            recurrence_interval_days=c.recurrence_interval_days,
        )
    d = c.details
    return explain_cooccurrence(
        service=service,
        incident_fr=d["incident_fr"],
        incident_en=d["incident_en"],
        radius_m=d["radius_m"],
        start=c.start,
        end=c.end,
        observed=int(c.observed),
        expected=c.expected,
        rate_ratio=d["rate_ratio"],
        ci_low=d["ci_low"],
        ci_high=math.inf if d["ci_high"] is None else d["ci_high"],
        p_value=float(c.p_value or 1.0),
        stratum_fr=d["stratum_fr"],
        stratum_en=d["stratum_en"],
    )


def _cooccurrence_inputs(
    session: Session, pair: CooccurrencePair, lo: datetime, hi: datetime
) -> tuple[list[cooc.Report], list[str | None], list[cooc.Incident], list[str | None]]:
    report_rows = session.exec(
        select(Report).where(
            Report.service_code == pair.service_code,
            col(Report.lat).is_not(None),
            col(Report.lon).is_not(None),
            col(Report.created_at) < hi,
            or_(col(Report.closed_at).is_(None), col(Report.closed_at) > lo),
            col(Report.status).not_in(EXCLUDED_STATUSES),
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


def _city_region(session: Session, level: str | None) -> Any:
    import json

    import shapely
    from shapely.geometry import shape

    areas = list(session.exec(select(Area)))
    if level is not None:
        areas = [a for a in areas if a.level == level]
    if not areas:
        return None
    return shapely.union_all([shapely.make_valid(shape(json.loads(a.geometry))) for a in areas])


def detect_signals(
    *, session: Session, as_of: date | None = None, settings: DetectionSettings | None = None
) -> DetectionSummary:
    """Run the three detectors on the data up to ``as_of`` and upsert the signals.

    Re-running for the same day updates the day's rows (an analyst's status is kept) and
    removes the day's untouched (``new``) signals that are no longer found.

    Parameters
    ----------
    session : Session
        A database session; the function commits.
    as_of : date or None
        Last day of data (yesterday in the city's time zone by default).
    settings : DetectionSettings or None
        Detection settings (defaults when None).

    Returns
    -------
    DetectionSummary
        Counts of signals created, updated and removed, by detector.
    """
    settings = settings or DetectionSettings()
    as_of = as_of or default_as_of(settings.timezone)
    summary = DetectionSummary(as_of=as_of)
    history = settings.window_days
    if settings.farrington:
        history = max(history, settings.farrington_history_days)
    first = as_of - timedelta(days=history - 1)
    counts_by_service = load_daily_counts(
        session, first=first, last=as_of, timezone=settings.timezone
    )
    seen = {a for by in counts_by_service.values() for (a, _d) in by}
    locations = load_locations(session, level=settings.area_level, seen_codes=seen)
    candidates: list[Candidate] = []
    if locations.ids:
        neighbours = build_neighbours(locations.coords)
        # neighbours.ids follows the coordinates' order, which is locations.ids
        scan_first = as_of - timedelta(days=settings.window_days - 1)
        for service_code in sorted(counts_by_service):
            full, outside = count_matrix(
                counts_by_service[service_code], locations.ids, first=first, last=as_of
            )
            summary.reports_outside_areas += outside
            recent = full[:, -settings.window_days :]
            if recent.sum() == 0:
                continue
            summary.services_scanned += 1
            candidates += scan_candidates(
                recent,
                neighbours,
                service_code=service_code,
                study_start=scan_first,
                settings=settings,
            )
            # the temporal series start with the service's first report, not years of zeros
            active_days = np.flatnonzero(full.sum(axis=0))
            start_col = int(active_days[0]) if active_days.size else 0
            candidates += temporal_candidates(
                full[:, start_col:],
                locations.ids,
                service_code=service_code,
                study_start=first + timedelta(days=start_col),
                settings=settings,
            )
    if settings.cooccurrence and settings.pairs:
        region = _city_region(session, settings.area_level)
        if region is not None:
            tz = ZoneInfo(settings.timezone)
            lo, hi = _local_bounds(
                as_of - timedelta(days=settings.cooccurrence_days - 1), as_of, tz
            )
            for pair in settings.pairs:
                reports, rep_areas, incidents, inc_areas = _cooccurrence_inputs(
                    session, pair, lo, hi
                )
                if not reports or not incidents:
                    continue
                summary.pairs_tested += 1
                found = cooccurrence_candidate(
                    pair,
                    reports,
                    incidents,
                    inc_areas,
                    report_areas=rep_areas,
                    region=region,
                    start=lo,
                    end=hi,
                    settings=settings,
                )
                if found is not None:
                    candidates.append(found)
    store_candidates(
        session=session, candidates=candidates, as_of=as_of, labels=locations.labels,
        summary=summary,
    )  # fmt: skip
    return summary


# A signal of an earlier day (at most this many days before) that the day's signal carries on.
CONTINUATION_DAYS = 14


def _continued(earlier: Sequence[Signal], c: Candidate) -> Signal | None:
    """The latest earlier signal of the same kind and category, sharing an area, whose time span
    overlaps or touches the candidate's: the same cluster, still going (or found again)."""
    areas = set(c.area_codes)
    for s in earlier:  # newest first
        if (s.kind, s.service_code, s.incident_kind) != (c.kind, c.service_code, c.incident_kind):
            continue
        if areas & set(s.area_codes) and c.start <= s.end + timedelta(days=1) and s.start <= c.end:
            return s
    return None


def store_candidates(
    *,
    session: Session,
    candidates: Sequence[Candidate],
    as_of: date,
    labels: Mapping[str, AreaLabel],
    summary: DetectionSummary,
) -> None:
    """Upsert the day's signals on (as_of, key) and drop the day's stale untouched ones.

    A cluster that goes on is found again day after day. Each day keeps its own row (its
    figures are that day's), linked to the signal it continues (``details.continues``), and
    a new row takes over the analyst's verdict on that one: a cluster dismissed or confirmed
    yesterday does not come back as "new" today.
    """
    services = _service_labels(session)
    existing = {s.key: s for s in session.exec(select(Signal).where(Signal.as_of == as_of))}
    earlier = session.exec(
        select(Signal)
        .where(Signal.as_of < as_of, Signal.as_of >= as_of - timedelta(days=CONTINUATION_DAYS))
        .order_by(col(Signal.as_of).desc(), col(Signal.statistic).desc())
    ).all()
    now = utcnow()
    keys: set[str] = set()
    rows: list[Signal] = []
    for c in candidates:
        if c.key in keys:
            continue  # two clusters sharing a centre and start day: keep the stronger, first
        keys.add(c.key)
        fr, en = _explain(c, services, labels)
        previous = _continued(earlier, c)
        details = _json_safe(c.details)
        if previous is not None:
            details["continues"] = previous.id
            fr += f" Suite du signal n° {previous.id} du {previous.as_of.isoformat()}."
            en += f" Continues signal #{previous.id} of {previous.as_of.isoformat()}."
        values: dict[str, Any] = {
            "kind": c.kind,
            "method": c.method,
            "service_code": c.service_code,
            "incident_kind": c.incident_kind,
            "area_codes": list(c.area_codes),
            "start": c.start,
            "end": c.end,
            "observed": c.observed,
            "expected": c.expected,
            "statistic": c.statistic,
            "p_value": c.p_value,
            "recurrence_interval_days": c.recurrence_interval_days,
            "explanation_fr": fr,
            "explanation_en": en,
            "details": details,
            "detected_at": now,
        }
        row = existing.get(c.key)
        if row is None:
            row = Signal(key=c.key, as_of=as_of, **values)
            if previous is not None:
                row.status = previous.status
            session.add(row)
            summary.created += 1
        else:
            for name, value in values.items():
                setattr(row, name, value)
            summary.updated += 1
        summary.by_kind[c.kind] += 1
        rows.append(row)
    for key, row in existing.items():
        if key not in keys and row.status == SignalStatus.NEW:
            session.delete(row)
            summary.removed += 1
    session.commit()
    summary.signal_ids = [int(r.id) for r in rows if r.id is not None]


def _json_safe(value: Any) -> Any:
    """Plain JSON: numpy numbers to Python, NaN and infinities to None."""
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
