"""Space-time permutation scan statistic (Kulldorff et al. 2005), as SaTScan computes it.

The scan looks for cylinders (a circle of locations × a window of days) holding more cases than
their share of space and of time would predict, and tells how surprising the strongest one is by
permuting the dates among the cases (which keeps each location's total and each day's total).

Fine points reproduced from SaTScan, so that results match its output on the NYC fever sample:

* locations are points on a sphere of radius 6367 km and distances are 3-D chords (the straight
  line through the earth), not great circles;
* a circle about a centroid grows one nearest neighbour at a time (ties in distance broken by the
  lesser Cartesian coordinate); it stops at the first neighbour that would take its case count,
  counted over the whole study period, above ``max_spatial_pct`` % of all cases, or whose
  distance exceeds ``max_radius_km``;
* the expected count of a cylinder is ``cases in the circle (whole period) × cases everywhere in
  the window / all cases``; the statistic is the Poisson log-likelihood ratio, kept only when the
  observed count is at least ``min_cases`` and above the expected count;
* a maximum temporal window of ``p`` % is ``floor(days in study × p / 100)`` days (50 % of the
  24 days of NYC fever is 12 days);
* a retrospective scan tries every window inside the study; a prospective scan only the windows
  that end on the last day ("alive" clusters);
* ``p = rank / (replications + 1)``, where the rank counts the observed statistic and every
  replicate maximum at least as large (within 1e-9);
* secondary clusters: each centroid keeps its best cylinder; these are sorted by statistic
  (ties: fewer locations first, then lower centroid index) and kept when they share no location
  with a cluster kept before them ("no geographical overlap").
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cmp_to_key
from typing import Any

import numpy as np
from numba import njit, prange

EARTH_RADIUS_KM = 6367.0
"""SaTScan's earth radius for latitude/longitude coordinates."""

LLR_TOLERANCE = 1e-9
"""Two statistics closer than this are equal (SaTScan's ``DBL_CMP_TOLERANCE``)."""

MAX_RANKED_CLUSTERS = 500
"""SaTScan keeps at most this many clusters when removing overlapping ones."""

_BATCH = 128  # replications per parallel batch; only the early-stopping check sees batches


# --------------------------------------------------------------------------------------------
# Geometry
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Neighbours:
    """Every location's other locations sorted by distance (computed once per coordinate set).

    Attributes
    ----------
    ids : tuple of str
        Location identifiers, in input order (this order is the centroid index).
    order : ndarray of int64, shape (L, L)
        ``order[c]`` lists the location indices by increasing distance from location ``c``
        (``order[c, 0] == c``).
    dist_km : ndarray of float64, shape (L, L)
        ``dist_km[c, k]`` is the distance from ``c`` to ``order[c, k]``.
    """

    ids: tuple[str, ...]
    order: np.ndarray
    dist_km: np.ndarray
    index: Mapping[str, int] = field(repr=False)

    @property
    def n_locations(self) -> int:
        """Number of locations."""
        return len(self.ids)


def lat_lon_to_xyz(lat_deg: np.ndarray, lon_deg: np.ndarray) -> np.ndarray:
    """Cartesian coordinates (km) of latitude/longitude points on SaTScan's sphere.

    Parameters
    ----------
    lat_deg, lon_deg : array_like
        Latitude and longitude in decimal degrees.

    Returns
    -------
    ndarray, shape (n, 3)
        x, y, z in kilometres on a sphere of radius :data:`EARTH_RADIUS_KM`.
    """
    lat = np.radians(np.asarray(lat_deg, dtype=np.float64))
    lon = np.radians(np.asarray(lon_deg, dtype=np.float64))
    return np.column_stack(
        (
            EARTH_RADIUS_KM * np.cos(lat) * np.cos(lon),
            EARTH_RADIUS_KM * np.cos(lat) * np.sin(lon),
            EARTH_RADIUS_KM * np.sin(lat),
        )
    )


def build_neighbours(coords: Mapping[str, tuple[float, float]]) -> Neighbours:
    """Sort every location's neighbours by 3-D chord distance, once for many scans.

    Parameters
    ----------
    coords : mapping of str to (float, float)
        Location identifier to (latitude, longitude) in decimal degrees.

    Returns
    -------
    Neighbours
        Sorted neighbour lists and distances; reuse it for every scan over the same locations
        (e.g. one per service code over Marseille's quartiers).
    """
    if not coords:
        raise ValueError("no locations: the coordinates are empty")
    ids = tuple(coords)
    lat = np.array([coords[i][0] for i in ids], dtype=np.float64)
    lon = np.array([coords[i][1] for i in ids], dtype=np.float64)
    xyz = lat_lon_to_xyz(lat, lon)
    diff = xyz[:, None, :] - xyz[None, :, :]
    dist = np.sqrt(np.einsum("ijk,ijk->ij", diff, diff))
    n = len(ids)
    order = np.empty((n, n), dtype=np.int64)
    for c in range(n):
        # lexsort's last key is the primary one: distance, then x, y, z break exact ties (as
        # SaTScan does, "lesser coordinate first"), so the ordering never depends on input order.
        order[c] = np.lexsort((xyz[:, 2], xyz[:, 1], xyz[:, 0], dist[c]))
    dist_sorted = np.take_along_axis(dist, order, axis=1)
    return Neighbours(
        ids=ids, order=order, dist_km=dist_sorted, index={k: i for i, k in enumerate(ids)}
    )


# --------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cluster:
    """One space-time cluster (a cylinder) as reported.

    Attributes
    ----------
    locations : tuple of str
        Location identifiers in the circle, nearest to the centre first.
    center : str
        The centroid location.
    radius_km : float
        Distance from the centre to the farthest location in the circle.
    start, end : date
        First and last day of the window (inclusive).
    observed : int
        Cases in the cylinder.
    expected : float
        Expected cases under the permutation null.
    llr : float
        Log-likelihood ratio (SaTScan's "test statistic").
    p_value : float or None
        Monte Carlo p-value, ``None`` when no replication was run.
    recurrence_interval_days : float or None
        Prospective scans only: how often, in days, a cluster this strong would arise by chance
        with one analysis every ``analysis_interval_days``.
    """

    locations: tuple[str, ...]
    center: str
    radius_km: float
    start: date
    end: date
    observed: int
    expected: float
    llr: float
    p_value: float | None
    recurrence_interval_days: float | None

    @property
    def relative_risk(self) -> float:
        """Observed / expected ratio."""
        return self.observed / self.expected

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (dates as ISO strings)."""
        return {
            "locations": list(self.locations),
            "center": self.center,
            "radius_km": self.radius_km,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "observed": self.observed,
            "expected": self.expected,
            "llr": self.llr,
            "p_value": self.p_value,
            "recurrence_interval_days": self.recurrence_interval_days,
        }


@dataclass(frozen=True)
class ScanResult:
    """Outcome of one scan: the clusters (most likely first) and the settings that produced it.

    Attributes
    ----------
    clusters : tuple of Cluster
        The most likely cluster, then the secondary clusters without geographical overlap.
    simulated_llrs : ndarray
        Maximum statistic of each replication run (the null distribution).
    """

    clusters: tuple[Cluster, ...]
    total_cases: int
    n_locations: int
    study_start: date
    study_end: date
    prospective: bool
    max_temporal_days: int
    max_spatial_pct: float
    max_radius_km: float | None
    min_cases: int
    replications: int
    replications_run: int
    seed: int
    simulated_llrs: np.ndarray = field(repr=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, the shape ``lanterne signals scan`` prints."""
        return {
            "clusters": [c.to_dict() for c in self.clusters],
            "analysis": "prospective" if self.prospective else "retrospective",
            "study_start": self.study_start.isoformat(),
            "study_end": self.study_end.isoformat(),
            "total_cases": self.total_cases,
            "n_locations": self.n_locations,
            "max_temporal_days": self.max_temporal_days,
            "max_spatial_pct": self.max_spatial_pct,
            "max_radius_km": self.max_radius_km,
            "min_cases": self.min_cases,
            "replications": self.replications,
            "replications_run": self.replications_run,
            "seed": self.seed,
        }


# --------------------------------------------------------------------------------------------
# Compiled kernels
# --------------------------------------------------------------------------------------------


@njit(cache=True)
def _llr(n: int, u: float, total: int) -> float:  # pragma: no cover - compiled
    """Poisson log-likelihood ratio of n observed for u expected out of total."""
    v = n * math.log(n / u)
    if total > n:
        v += (total - n) * math.log((total - n) / (total - u))
    return v


@njit(cache=True)
def _observed_scan(
    counts: np.ndarray,
    zone_ptr: np.ndarray,
    zone_cloc: np.ndarray,
    zone_cz: np.ndarray,
    win_s: np.ndarray,
    win_e: np.ndarray,
    win_cw: np.ndarray,
    total: int,
    min_cases: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:  # pragma: no cover - compiled
    """Best cylinder of every centroid on the real data: llr, zone entry, window, observed."""
    n_cent = zone_ptr.size - 1
    n_days = counts.shape[1]
    n_win = win_s.size
    best_llr = np.full(n_cent, -1.0)
    best_f = np.full(n_cent, -1, np.int64)
    best_w = np.full(n_cent, -1, np.int64)
    best_n = np.zeros(n_cent, np.int64)
    cum = np.zeros(n_days, np.int64)
    pref = np.zeros(n_days + 1, np.int64)
    for c in range(n_cent):
        cum[:] = 0
        for f in range(zone_ptr[c], zone_ptr[c + 1]):
            cl = zone_cloc[f]
            for d in range(n_days):
                cum[d] += counts[cl, d]
            for d in range(n_days):
                pref[d + 1] = pref[d] + cum[d]
            cz = zone_cz[f]
            for w in range(n_win):
                n = pref[win_e[w] + 1] - pref[win_s[w]]
                # "observed > expected" in exact integers: n > cz * cw / total
                if n < min_cases or n * total <= cz * win_cw[w]:
                    continue
                v = _llr(n, (cz * win_cw[w]) / total, total)
                # strict: among equal cylinders the first (smallest circle) is kept
                if v > best_llr[c]:
                    best_llr[c] = v
                    best_f[c] = f
                    best_w[c] = w
                    best_n[c] = n
    return best_llr, best_f, best_w, best_n


@njit(cache=True)
def _zone_bound(
    cum: np.ndarray,
    cz: int,
    lncz: float,
    max_len: int,
    first_end: int,
    prospective: bool,
    cw_table: np.ndarray,
    lncw_table: np.ndarray,
    total: int,
    min_cases: int,
    lnn: np.ndarray,
    inv_rest: np.ndarray,
) -> float:  # pragma: no cover - compiled
    """Upper bound of a zone's best statistic over its windows.

    With x = (n - u) / (total - u), the second term of the statistic,
    (total - n) ln(1 - x), is at most -(total - n) x, so
    llr <= n ln(n / u) - (n - u) + (n - u)^2 / (total - u), and 1 / (total - u) <= 1 / (total - n).
    """
    n_days = cum.size
    top = -1.0
    share = cz / total  # multiplying is much cheaper than dividing in this hot loop
    for e in range(first_end, n_days):
        if cum[e] == 0 and not prospective:
            continue
        n = 0
        for m in range(min(max_len, e + 1)):
            x = cum[e - m]
            if x == 0:
                continue  # dominated by the shorter window (see _zone_exact)
            n += x
            cw = cw_table[e, m]
            u = share * cw
            d = n - u
            b = n * (lnn[n] - lncz - lncw_table[e, m]) - d + d * d * inv_rest[total - n]
            ok = n >= min_cases and n * total > cz * cw
            top = max(top, b if ok else -1.0)
    return top


@njit(cache=True)
def _zone_exact(
    cum: np.ndarray,
    cz: int,
    lncz: float,
    max_len: int,
    first_end: int,
    prospective: bool,
    cw_table: np.ndarray,
    lncw_table: np.ndarray,
    total: int,
    min_cases: int,
    lnn: np.ndarray,
    best: float,
) -> float:  # pragma: no cover - compiled
    """Largest of ``best`` and the zone's statistics over its windows."""
    n_days = cum.size
    for e in range(first_end, n_days):
        # A window whose first or last day holds none of the zone's cases has the same count
        # as a shorter window inside it, and no fewer expected cases: its statistic cannot be
        # larger, so it is skipped (the prospective end day is fixed and always scanned).
        if cum[e] == 0 and not prospective:
            continue
        n = 0
        for m in range(min(max_len, e + 1)):
            x = cum[e - m]
            if x == 0:
                continue
            n += x
            if n < min_cases:
                continue
            cw = cw_table[e, m]
            if n * total <= cz * cw:
                continue
            # n ln(n/u) bounds the statistic from above (the other term is negative)
            bound = n * (lnn[n] - lncz - lncw_table[e, m])
            if bound <= best:
                continue
            v = bound
            if total > n:
                u = (cz * cw) / total
                v += (total - n) * (lnn[total - n] - math.log(total - u))
            if v > best:
                best = v
    return best


@njit(parallel=True, cache=True)
def _simulate(
    seeds: np.ndarray,
    case_cloc: np.ndarray,
    case_day: np.ndarray,
    n_relevant: int,
    n_cloc: int,
    n_days: int,
    zone_ptr: np.ndarray,
    zone_last: np.ndarray,
    zone_cloc: np.ndarray,
    zone_cz: np.ndarray,
    zone_lncz: np.ndarray,
    zone_sim: np.ndarray,
    max_len: int,
    prospective: bool,
    cw_table: np.ndarray,
    lncw_table: np.ndarray,
    total: int,
    min_cases: int,
    lnn: np.ndarray,
) -> np.ndarray:  # pragma: no cover - compiled
    """Maximum statistic of each permuted replicate (one seed per replicate).

    ``cw_table[e, m]`` holds the cases, all locations together, of the window ending on
    (relative) day ``e`` and lasting ``m + 1`` days; ``lncw_table`` its logarithm.
    """
    n_rep = seeds.size
    n_cases = case_cloc.size
    n_cent = zone_ptr.size - 1
    ln_total = math.log(total)
    first_end = n_days - 1 if prospective else 0
    # inv_rest[k] = 1 / k bounds 1 / (total - u) from above when k = total - n and n > u
    inv_rest = np.empty(total + 1)
    inv_rest[0] = 1e300
    for k in range(1, total + 1):
        inv_rest[k] = 1.0 / k
    out = np.zeros(n_rep)
    for r in prange(n_rep):
        # One seed per replicate: the result does not depend on which thread runs it.
        np.random.seed(seeds[r])
        locs = case_cloc.copy()
        counts = np.zeros((n_cloc, n_days), np.int64)
        row_total = np.zeros(n_cloc, np.int64)
        # Permuting dates among cases == drawing, without replacement, the location of each
        # case slot; only the slots whose day can fall in a window need drawing (the first
        # n_relevant ones), so a partial Fisher-Yates shuffle suffices.
        for i in range(n_relevant):
            j = np.random.randint(i, n_cases)
            t = locs[i]
            locs[i] = locs[j]
            locs[j] = t
            counts[locs[i], case_day[i]] += 1
            row_total[locs[i]] += 1
        best = 0.0
        cum = np.zeros(n_days, np.int64)
        for c in range(n_cent):
            last = zone_last[c]
            if last < 0:
                continue
            cum[:] = 0
            zone_total = 0
            for f in range(zone_ptr[c], last + 1):
                cl = zone_cloc[f]
                if row_total[cl] > 0:
                    zone_total += row_total[cl]
                    for d in range(n_days):
                        cum[d] += counts[cl, d]
                # copies of an earlier circle, and circles too empty to qualify, are skipped
                if not zone_sim[f] or zone_total < min_cases:
                    continue
                cz = zone_cz[f]
                lncz = zone_lncz[f] - ln_total
                # First a branch-free pass computes a tight upper bound of the zone's best
                # statistic; the exact pass only runs when that bound beats the best so far.
                if (
                    _zone_bound(
                        cum,
                        cz,
                        lncz,
                        max_len,
                        first_end,
                        prospective,
                        cw_table,
                        lncw_table,
                        total,
                        min_cases,
                        lnn,
                        inv_rest,
                    )
                    > best
                ):
                    best = _zone_exact(
                        cum,
                        cz,
                        lncz,
                        max_len,
                        first_end,
                        prospective,
                        cw_table,
                        lncw_table,
                        total,
                        min_cases,
                        lnn,
                        best,
                    )
        out[r] = best
    return out


# --------------------------------------------------------------------------------------------
# Set-up shared by the public functions
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Zones:
    """Flattened circles: for centroid c, entries zone_ptr[c]..zone_ptr[c+1]-1 each add one
    location holding cases (zero-case locations change nothing but the radius)."""

    ptr: np.ndarray
    cloc: np.ndarray  # compact index of the added case location
    k: np.ndarray  # number of locations in the circle (zero-case ones included)
    cz: np.ndarray  # cases in the circle over the whole study
    sim: np.ndarray  # first occurrence of this set of case locations (replicates skip copies)
    last_sim: np.ndarray  # per centroid: last entry a replicate must reach, -1 if none


def _build_zones(
    nb: Neighbours,
    loc_cases: np.ndarray,
    compact: np.ndarray,
    *,
    cap_cases: float,
    max_radius_km: float | None,
) -> _Zones:
    n = nb.n_locations
    rng = np.random.default_rng(20050301)
    # Zobrist keys: the XOR of the members identifies a set of case locations (a collision
    # would need two different sets to agree on 63 random bits).
    keys = [int(k) for k in rng.integers(1, 2**63 - 1, size=n)]
    seen: set[int] = set()
    ptr = [0]
    cloc: list[int] = []
    kk: list[int] = []
    cz: list[int] = []
    sim: list[bool] = []
    last_sim: list[int] = []
    for c in range(n):
        order = nb.order[c]
        cums = np.cumsum(loc_cases[order])
        # the circle stops at the first neighbour that breaks a limit (SaTScan's rule)
        k_max = int(np.searchsorted(cums, cap_cases, side="right"))
        if max_radius_km is not None:
            k_max = min(k_max, int(np.searchsorted(nb.dist_km[c], max_radius_km, side="right")))
        key = 0
        last = -1
        for pos in range(k_max):
            loc = int(order[pos])
            if loc_cases[loc] == 0:
                continue
            key ^= keys[loc]
            first = key not in seen
            if first:
                seen.add(key)
                last = len(cloc)
            cloc.append(int(compact[loc]))
            kk.append(pos + 1)
            cz.append(int(cums[pos]))
            sim.append(first)
        ptr.append(len(cloc))
        last_sim.append(last)
    return _Zones(
        ptr=np.asarray(ptr, dtype=np.int64),
        cloc=np.asarray(cloc, dtype=np.int64),
        k=np.asarray(kk, dtype=np.int64),
        cz=np.asarray(cz, dtype=np.int64),
        sim=np.asarray(sim, dtype=np.bool_),
        last_sim=np.asarray(last_sim, dtype=np.int64),
    )


def max_temporal_window_days(
    n_days: int, *, max_temporal_pct: float | None, max_temporal_days: int | None
) -> int:
    """Length of the longest window, in days, as SaTScan derives it.

    Parameters
    ----------
    n_days : int
        Days in the study period (both ends included).
    max_temporal_pct : float or None
        Maximum window as a percentage of the study period: ``floor(n_days * pct / 100)``.
    max_temporal_days : int or None
        Maximum window in days (capped at the study length). Give one of the two; neither
        means 50 %.

    Returns
    -------
    int
        The maximum window length, at least 1.
    """
    if max_temporal_pct is not None and max_temporal_days is not None:
        raise ValueError("give max_temporal_pct or max_temporal_days, not both")
    if max_temporal_days is not None:
        if max_temporal_days < 1:
            raise ValueError("max_temporal_days must be at least 1")
        return min(int(max_temporal_days), n_days)
    pct = 50.0 if max_temporal_pct is None else float(max_temporal_pct)
    if not 0 < pct <= 100:
        raise ValueError("max_temporal_pct must be in (0, 100]")
    days = math.floor(n_days * pct / 100.0 + 1e-9)
    if days < 1:
        raise ValueError(
            f"a maximum temporal window of {pct} % of {n_days} days is shorter than one day"
        )
    return days


def _windows(n_days: int, max_days: int, prospective: bool) -> tuple[int, np.ndarray, np.ndarray]:
    """(first relevant day, window starts, window ends), days relative to the first relevant."""
    if prospective:
        offset = n_days - max_days
        lengths = np.arange(1, max_days + 1)
        starts = max_days - lengths
        ends = np.full(max_days, max_days - 1)
        return offset, starts.astype(np.int64), ends.astype(np.int64)
    s_list: list[int] = []
    e_list: list[int] = []
    for e in range(n_days):
        for s in range(max(0, e - max_days + 1), e + 1):
            s_list.append(s)
            e_list.append(e)
    return 0, np.asarray(s_list, dtype=np.int64), np.asarray(e_list, dtype=np.int64)


def _replicate_seeds(seed: int, n: int) -> np.ndarray:
    return np.random.SeedSequence(seed).generate_state(n, dtype=np.uint32).astype(np.int64)


def _rank(llr: float, sims: np.ndarray) -> int:
    return 1 + int(np.count_nonzero(sims >= llr - LLR_TOLERANCE))


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------


def scan_count_matrix(
    counts: np.ndarray,
    neighbours: Neighbours,
    *,
    study_start: date,
    prospective: bool = False,
    max_spatial_pct: float = 50.0,
    max_radius_km: float | None = None,
    max_temporal_pct: float | None = None,
    max_temporal_days: int | None = None,
    min_cases: int = 2,
    replications: int = 999,
    seed: int = 12345,
    early_stop: int | None = None,
    analysis_interval_days: int = 1,
) -> ScanResult:
    """Space-time permutation scan of a (location × day) matrix of case counts.

    The numeric core of :func:`space_time_permutation_scan`; call it directly when the counts
    are already aggregated (e.g. reports per quartier and day) and the neighbours are shared
    by several scans.

    Parameters
    ----------
    counts : ndarray of int, shape (L, T)
        Cases per location (rows in ``neighbours.ids`` order) and day; day 0 is
        ``study_start``, the last column is the study end.
    neighbours : Neighbours
        From :func:`build_neighbours`.
    study_start : date
        Date of the first column.
    prospective : bool
        Only windows ending on the last day ("alive" clusters) when true; every window inside
        the study otherwise (retrospective).
    max_spatial_pct : float
        A circle holds at most this percentage of all cases (counted over the whole study).
    max_radius_km : float or None
        A circle's radius is at most this, when given.
    max_temporal_pct, max_temporal_days : float or int or None
        Longest window (see :func:`max_temporal_window_days`); 50 % when neither is given.
    min_cases : int
        Fewest cases a cluster may hold (SaTScan's minimum for high-rate clusters, 2).
    replications : int
        Monte Carlo replications (999 gives p-values in steps of 0.001); 0 skips inference.
    seed : int
        Seed of the replications; a given seed gives the same p-values on any machine and
        any number of threads.
    early_stop : int or None
        Sequential Monte Carlo (Besag & Clifford 1991; SaTScan's "early termination"): stop
        as soon as this many replicates reach the most likely cluster's statistic. Its
        p-value is then at least ``(early_stop + 1) / (replications + 1)``, so it cannot be
        significant at a lower level, and the replications left are not run.
    analysis_interval_days : int
        Days between two prospective analyses (1 for daily surveillance), for the recurrence
        interval.

    Returns
    -------
    ScanResult
        Clusters sorted by statistic, with p-values and (prospective) recurrence intervals.
    """
    counts = np.asarray(counts)
    if counts.ndim != 2 or counts.shape[0] != neighbours.n_locations:
        raise ValueError(
            f"counts must have shape ({neighbours.n_locations}, days), got {counts.shape}"
        )
    if counts.size and counts.min() < 0:
        raise ValueError("counts must be non-negative")
    counts = counts.astype(np.int64)
    if min_cases < 1:
        raise ValueError("min_cases must be at least 1")
    if not 0 < max_spatial_pct <= 100:
        raise ValueError("max_spatial_pct must be in (0, 100]")
    if max_radius_km is not None and max_radius_km < 0:
        raise ValueError("max_radius_km must be non-negative")
    if replications < 0:
        raise ValueError("replications must be non-negative")
    if early_stop is not None and early_stop < 1:
        raise ValueError("early_stop must be at least 1")
    if analysis_interval_days < 1:
        raise ValueError("analysis_interval_days must be at least 1")

    n_loc, n_days = counts.shape
    study_end = study_start + timedelta(days=n_days - 1)
    w_max = max_temporal_window_days(
        n_days, max_temporal_pct=max_temporal_pct, max_temporal_days=max_temporal_days
    )
    total = int(counts.sum())
    empty = ScanResult(
        clusters=(),
        total_cases=total,
        n_locations=n_loc,
        study_start=study_start,
        study_end=study_end,
        prospective=prospective,
        max_temporal_days=w_max,
        max_spatial_pct=float(max_spatial_pct),
        max_radius_km=max_radius_km,
        min_cases=min_cases,
        replications=replications,
        replications_run=0,
        seed=seed,
        simulated_llrs=np.zeros(0),
    )
    if total == 0:
        return empty

    loc_cases = counts.sum(axis=1)
    day_cases = counts.sum(axis=0)
    case_locs = np.flatnonzero(loc_cases > 0)
    compact = np.full(n_loc, -1, dtype=np.int64)
    compact[case_locs] = np.arange(case_locs.size)
    zones = _build_zones(
        neighbours,
        loc_cases,
        compact,
        cap_cases=max_spatial_pct / 100.0 * total,
        max_radius_km=max_radius_km,
    )
    offset, win_s, win_e = _windows(n_days, w_max, prospective)
    rel_day_cases = day_cases[offset:]
    pref_days = np.concatenate(([0], np.cumsum(rel_day_cases)))
    win_cw = (pref_days[win_e + 1] - pref_days[win_s]).astype(np.int64)
    rel_counts = np.ascontiguousarray(counts[case_locs][:, offset:])

    best_llr, best_f, best_w, best_n = _observed_scan(
        rel_counts, zones.ptr, zones.cloc, zones.cz, win_s, win_e, win_cw, total, min_cases
    )
    candidates = [c for c in range(n_loc) if best_llr[c] > 0]
    if not candidates:
        return empty

    def compare(a: int, b: int) -> int:
        # SaTScan's order: statistic, then fewer locations, then lower centroid index
        if abs(best_llr[a] - best_llr[b]) >= LLR_TOLERANCE:
            return -1 if best_llr[a] > best_llr[b] else 1
        ka, kb = zones.k[best_f[a]], zones.k[best_f[b]]
        if ka != kb:
            return -1 if ka < kb else 1
        return -1 if a < b else (1 if a > b else 0)

    candidates.sort(key=cmp_to_key(compare))
    retained: list[int] = []
    taken: list[set[int]] = []
    for c in candidates:
        if len(retained) >= min(n_loc, MAX_RANKED_CLUSTERS):
            break
        members = set(neighbours.order[c, : zones.k[best_f[c]]].tolist())
        if any(members & other for other in taken):
            continue
        retained.append(c)
        taken.append(members)

    sims = np.zeros(0)
    if replications > 0:
        sims = _run_replications(
            counts=counts,
            compact=compact,
            offset=offset,
            n_cloc=case_locs.size,
            zones=zones,
            day_cases=day_cases,
            max_len=w_max,
            prospective=prospective,
            total=total,
            min_cases=min_cases,
            replications=replications,
            seed=seed,
            stop_llr=float(best_llr[retained[0]]),
            early_stop=early_stop,
        )

    clusters: list[Cluster] = []
    for c in retained:
        f, w = int(best_f[c]), int(best_w[c])
        k = int(zones.k[f])
        circle = neighbours.order[c, :k]
        llr = float(best_llr[c])
        p_value: float | None = None
        recurrence: float | None = None
        if sims.size:
            p_value = _rank(llr, sims) / (sims.size + 1)
            if prospective:
                # SaTScan: one analysis per interval, the recurrence interval in days is the
                # interval over the p-value (never under one day).
                recurrence = max(analysis_interval_days / p_value, 1.0)
        clusters.append(
            Cluster(
                locations=tuple(neighbours.ids[i] for i in circle),
                center=neighbours.ids[c],
                radius_km=float(neighbours.dist_km[c, k - 1]),
                start=study_start + timedelta(days=offset + int(win_s[w])),
                end=study_start + timedelta(days=offset + int(win_e[w])),
                observed=int(best_n[c]),
                expected=float(zones.cz[f] * win_cw[w] / total),
                llr=llr,
                p_value=p_value,
                recurrence_interval_days=recurrence,
            )
        )
    return ScanResult(
        clusters=tuple(clusters),
        total_cases=total,
        n_locations=n_loc,
        study_start=study_start,
        study_end=study_end,
        prospective=prospective,
        max_temporal_days=w_max,
        max_spatial_pct=float(max_spatial_pct),
        max_radius_km=max_radius_km,
        min_cases=min_cases,
        replications=replications,
        replications_run=int(sims.size),
        seed=seed,
        simulated_llrs=sims,
    )


def _run_replications(
    *,
    counts: np.ndarray,
    compact: np.ndarray,
    offset: int,
    n_cloc: int,
    zones: _Zones,
    day_cases: np.ndarray,
    max_len: int,
    prospective: bool,
    total: int,
    min_cases: int,
    replications: int,
    seed: int,
    stop_llr: float,
    early_stop: int | None,
) -> np.ndarray:
    n_loc, n_days = counts.shape
    # one slot per case: its (compact) location and its day; the slots whose day can fall in
    # a window come first so that replicates only draw those
    loc_idx, day_idx = np.nonzero(counts)
    reps = counts[loc_idx, day_idx]
    case_loc = np.repeat(loc_idx, reps)
    day_of_case = np.repeat(day_idx, reps)
    relevant = day_of_case >= offset
    # the permutation draws locations for the slots; which location starts in which slot is
    # irrelevant, but relevant-day slots must come first
    case_cloc = np.concatenate((compact[case_loc[relevant]], compact[case_loc[~relevant]]))
    case_day = np.concatenate((day_of_case[relevant] - offset, day_of_case[~relevant]))
    n_relevant = int(relevant.sum())
    n_rel_days = n_days - offset
    lnn = np.zeros(total + 1)
    lnn[1:] = np.log(np.arange(1, total + 1))
    zone_lncz = np.log(np.maximum(zones.cz, 1).astype(np.float64))
    # cw_table[e, m]: all cases of the window ending on relative day e, lasting m + 1 days
    rel = np.concatenate(([0], np.cumsum(day_cases[offset:])))
    ends = np.arange(n_rel_days)[:, None]
    starts = np.maximum(ends - np.arange(max_len)[None, :], 0)
    cw_table = (rel[ends + 1] - rel[starts]).astype(np.int64)
    lncw_table = np.log(np.maximum(cw_table, 1).astype(np.float64))
    seeds = _replicate_seeds(seed, replications)
    batch = replications if early_stop is None else _BATCH
    out: list[np.ndarray] = []
    exceed = 0
    for lo in range(0, replications, batch):
        part = _simulate(
            seeds[lo : lo + batch],
            case_cloc.astype(np.int64),
            case_day.astype(np.int64),
            n_relevant,
            n_cloc,
            n_rel_days,
            zones.ptr,
            zones.last_sim,
            zones.cloc,
            zones.cz,
            zone_lncz,
            zones.sim,
            max_len,
            prospective,
            cw_table,
            lncw_table,
            total,
            min_cases,
            lnn,
        )
        if early_stop is not None:
            hits = np.flatnonzero(part >= stop_llr - LLR_TOLERANCE)
            if exceed + hits.size >= early_stop:
                # cut exactly where the threshold is reached: batch size never changes results
                cut = int(hits[early_stop - exceed - 1]) + 1
                out.append(part[:cut])
                break
            exceed += hits.size
        out.append(part)
    return np.concatenate(out) if out else np.zeros(0)


def space_time_permutation_scan(
    cases: Iterable[tuple[str, date, int]],
    coords: Mapping[str, tuple[float, float]] | Neighbours,
    *,
    study_start: date,
    study_end: date,
    prospective: bool = False,
    max_spatial_pct: float = 50.0,
    max_radius_km: float | None = None,
    max_temporal_pct: float | None = None,
    max_temporal_days: int | None = None,
    min_cases: int = 2,
    replications: int = 999,
    seed: int = 12345,
    secondary: str = "no_geographic_overlap",
    early_stop: int | None = None,
    analysis_interval_days: int = 1,
) -> ScanResult:
    """Prospective or retrospective space-time permutation scan (Kulldorff et al. 2005).

    Parameters
    ----------
    cases : iterable of (str, date, int)
        (location, day, number of cases) records; several records may share a location and day.
    coords : mapping of str to (lat, lon), or Neighbours
        Coordinates of every location in decimal degrees (locations without cases count: they
        widen circles), or neighbours already built by :func:`build_neighbours`.
    study_start, study_end : date
        First and last day of the study (both included); a case outside is an error.
    prospective : bool
        Surveillance on the last day: only clusters still "alive" at ``study_end``.
    max_spatial_pct : float
        Largest circle, as a percentage of all cases (over the whole study) inside it.
    max_radius_km : float or None
        Largest circle radius, when given (both limits then apply).
    max_temporal_pct, max_temporal_days : float or int or None
        Longest window, as a percentage of the study period (rounded down to whole days) or in
        days; 50 % when neither is given.
    min_cases : int
        Fewest cases in a reported cluster.
    replications : int
        Monte Carlo replications (permutations of the dates among cases).
    seed : int
        Seed of the replications.
    secondary : {"no_geographic_overlap"}
        Criterion for secondary clusters; only SaTScan's "no geographical overlap" is built.
    early_stop : int or None
        Sequential Monte Carlo threshold, see :func:`scan_count_matrix`.
    analysis_interval_days : int
        Days between prospective analyses, for the recurrence interval.

    Returns
    -------
    ScanResult
        The most likely cluster first, then secondary clusters, each with its p-value and, for
        prospective scans, its recurrence interval in days.
    """
    if secondary != "no_geographic_overlap":
        raise ValueError(f"unknown secondary cluster criterion {secondary!r}")
    if study_end < study_start:
        raise ValueError(f"study end {study_end} is before study start {study_start}")
    nb = coords if isinstance(coords, Neighbours) else build_neighbours(coords)
    n_days = (study_end - study_start).days + 1
    counts = np.zeros((nb.n_locations, n_days), dtype=np.int64)
    for location, day, count in cases:
        idx = nb.index.get(location)
        if idx is None:
            raise ValueError(f"case location {location!r} has no coordinates")
        if not study_start <= day <= study_end:
            raise ValueError(
                f"case at {location!r} on {day} is outside the study {study_start}..{study_end}"
            )
        if count < 0:
            raise ValueError(f"negative case count {count} at {location!r} on {day}")
        counts[idx, (day - study_start).days] += count
    return scan_count_matrix(
        counts,
        nb,
        study_start=study_start,
        prospective=prospective,
        max_spatial_pct=max_spatial_pct,
        max_radius_km=max_radius_km,
        max_temporal_pct=max_temporal_pct,
        max_temporal_days=max_temporal_days,
        min_cases=min_cases,
        replications=replications,
        seed=seed,
        early_stop=early_stop,
        analysis_interval_days=analysis_interval_days,
    )
