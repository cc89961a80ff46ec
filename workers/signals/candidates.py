"""Candidates in memory: what each detector finds, before it is explained and stored.

:func:`scan_candidates` and :func:`temporal_candidates` take a (area × day) count matrix of
one service and return :class:`Candidate` signals; :func:`cooccurrence_candidate` takes the
reports and incidents of one configured pair. Nothing here reads or writes the database, so
the benchmark (``bench/signals_eval.py``) runs exactly what the daily job runs. The settings,
and what makes a candidate worth a signal, are in :mod:`workers.signals.settings`.
"""

from __future__ import annotations

import math
import zlib
from collections import defaultdict
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
from scipy import stats

from workers.signals import cooccurrence as cooc
from workers.signals.scan import Neighbours, scan_count_matrix
from workers.signals.settings import CooccurrencePair, DetectionSettings
from workers.signals.temporal import detect_temporal


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
