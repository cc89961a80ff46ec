"""After the event: observed counts per hour against the profile, and the space-time scan.

"Was the excess a weak signal?" is asked of the space-time permutation scan
(``workers.signals.scan``, the statistic of the daily detection) on the event's place and
ring cut into square cells, hour by hour over the week before the event and the event's
own hours: the scan looks for the cylinder (cells × consecutive hours) with the most
incidents and reports for its share of space and of time, and tells by permutation how
surprising it is. The excess counts as a weak signal when that cluster is significant
(p ≤ ``alpha``), overlaps the event's hours and holds at least one cell of the place itself.
Records placed only by an area code have no cell and are left out of the scan.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np

from workers.events.data import HOUR, EventSpec, Record, SeriesCounts, Settings, floor_hour
from workers.signals.scan import build_neighbours, scan_count_matrix

_EPOCH = date(2000, 1, 1)  # the scan labels columns as days; here a column is an hour


def observed_counts(profile: dict[str, Any], counts: SeriesCounts) -> dict[str, Any]:
    """The stored profile's series with their observed counts, hour by hour."""
    hours = [datetime.fromisoformat(h) for h in profile["hours"]]
    series = []
    for s in profile.get("series", []):
        seen = counts.get((s["source"], s["family"], s["zone"]), {})
        observed = [float(seen.get(h, 0.0)) for h in hours]
        outside = sum(
            1 for y, lo, hi in zip(observed, s["low"], s["high"], strict=True) if y < lo or y > hi
        )
        series.append(
            {
                "source": s["source"],
                "family": s["family"],
                "zone": s["zone"],
                "observed": observed,
                "total_observed": sum(observed),
                "total_expected": round(sum(s["expected"]), 3),
                "total_baseline": round(sum(s["baseline"]), 3),
                "hours_outside_interval": outside,
            }
        )
    return {"hours": profile["hours"], "series": series}


def scan_event(
    spec: EventSpec,
    records: Sequence[Record],
    settings: Settings,
    *,
    cell_m: float = 150.0,
    days_before: int = 7,
    replications: int = 999,
    alpha: float = 0.05,
    seed: int = 12345,
) -> dict[str, Any]:
    """Run the space-time permutation scan on the event's place and window.

    Parameters
    ----------
    spec : EventSpec
        The event (its place gives the cells).
    records : sequence of Record
        Incidents and reports from ``days_before`` days before the first profiled hour to the
        last one (any family).
    settings : Settings
        The profile's hours.
    cell_m : float
        Side of the square cells.
    days_before : int
        Hours of comparison before the event.
    replications : int
        Monte Carlo replications of the scan.
    alpha : float
        Significance level for "weak signal".
    seed : int
        Seed of the replications.

    Returns
    -------
    dict
        The most likely cluster (cells, hours, observed, expected, p-value) and ``signal``.
    """
    place = spec.place
    hours = spec.hours(settings)
    first = hours[0] - timedelta(days=days_before)
    n_cols = int((hours[-1] + HOUR - first) / HOUR)
    if place.bbox is None:
        return {"ran": False, "reason": "place_without_geometry", "signal": False}
    lat0, lon0, lat1, lon1 = place.bbox
    dlat = cell_m / 110_540.0
    dlon = cell_m / (111_320.0 * math.cos(math.radians((lat0 + lat1) / 2)))
    n_rows = max(1, math.ceil((lat1 - lat0) / dlat))
    n_lons = max(1, math.ceil((lon1 - lon0) / dlon))
    cells: dict[tuple[int, int], tuple[float, float, str]] = {}
    for i in range(n_rows):
        for j in range(n_lons):
            lat = lat0 + (i + 0.5) * dlat
            lon = lon0 + (j + 0.5) * dlon
            zone = place.zone(lat, lon, None)
            if zone is not None:
                cells[(i, j)] = (lat, lon, zone)
    ids = {key: f"{key[0]}-{key[1]}" for key in cells}
    coords = {ids[k]: (v[0], v[1]) for k, v in cells.items()}
    index = {ids[k]: n for n, k in enumerate(cells)}
    counts = np.zeros((len(cells), n_cols), dtype=np.int64)
    for record in records:
        if record.lat is None or record.lon is None:
            continue
        key = (int((record.lat - lat0) // dlat), int((record.lon - lon0) // dlon))
        col = int((floor_hour(record.at) - first) / HOUR)
        if key in cells and 0 <= col < n_cols:
            counts[index[ids[key]], col] += int(round(record.count))
    if counts.sum() < 2 or len(cells) < 2:
        return {
            "ran": False,
            "reason": "too_few_cases",
            "signal": False,
            "total": int(counts.sum()),
        }
    neighbours = build_neighbours(coords)
    # Rows must follow the neighbours' order of ids (the input order of ``coords``).
    result = scan_count_matrix(
        counts,
        neighbours,
        study_start=_EPOCH,
        max_spatial_pct=50.0,
        max_temporal_days=len(hours),
        replications=replications,
        seed=seed,
    )
    if not result.clusters:
        return {"ran": True, "signal": False, "total": int(counts.sum()), "cluster": None}
    best = result.clusters[0]
    start_col = (best.start - _EPOCH).days
    end_col = (best.end - _EPOCH).days
    start_hour = first + start_col * HOUR
    end_hour = first + end_col * HOUR
    event_lo, event_hi = hours[0], hours[-1]
    overlaps = start_hour <= event_hi and end_hour >= event_lo
    zones = {cells[k][2] for k in cells if ids[k] in set(best.locations)}
    inside = "inside" in zones
    significant = best.p_value is not None and best.p_value <= alpha
    return {
        "ran": True,
        "signal": bool(significant and overlaps and inside),
        "alpha": alpha,
        "total": int(counts.sum()),
        "n_cells": len(cells),
        "cell_m": cell_m,
        "hours_compared": n_cols,
        "cluster": {
            "start": start_hour.isoformat(),
            "end": (end_hour + HOUR).isoformat(),
            "observed": best.observed,
            "expected": round(best.expected, 3),
            "relative_risk": round(best.relative_risk, 3),
            "p_value": best.p_value,
            "radius_m": round(best.radius_km * 1000.0, 1),
            "n_cells": len(best.locations),
            "overlaps_event": overlaps,
            "touches_place": inside,
        },
    }
