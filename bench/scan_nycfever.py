"""Timing of the space-time permutation scan.

1. SaTScan's NYC fever sample, retrospective and prospective, 999 replications
   (SaTScan takes about 8 s for the retrospective run on 4 processors).
2. Daily detection for Marseille: 13 services x 111 quartiers x 365 days, prospective,
   999 replications each (synthetic counts on the real quartier centroids when
   ../shared/reference is there, on a grid otherwise).

Run: ``.venv/bin/python bench/scan_nycfever.py [--runs 5] [--skip-marseille]``.
The first call of each kernel compiles it with numba (or loads it from numba's cache); that
time is reported apart from the medians.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from datetime import date
from pathlib import Path

import numpy as np

from workers.signals.satscan_io import as_case_tuples, read_cases, read_coordinates
from workers.signals.scan import build_neighbours, scan_count_matrix, space_time_permutation_scan

REFERENCE = Path(__file__).resolve().parents[1] / ".." / "shared" / "reference"
NYC = REFERENCE / "satscan_nycfever"


def _timed(fn, runs: int) -> tuple[float, list[float], object]:  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    result = fn()
    first = time.perf_counter() - t0
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return first, times, result


def nyc(runs: int) -> None:
    """Time the NYC fever scans."""
    cases = as_case_tuples(read_cases(NYC / "NYCfever.cas"))
    coords = read_coordinates(NYC / "NYCfever.geo")
    for prospective in (False, True):

        def run(prospective: bool = prospective):  # type: ignore[no-untyped-def]
            return space_time_permutation_scan(
                cases, coords, study_start=date(2001, 11, 1), study_end=date(2001, 11, 24),
                prospective=prospective, replications=999, seed=20011124,
            )  # fmt: skip

        first, times, result = _timed(run, runs)
        mlc = result.clusters[0]  # type: ignore[attr-defined]
        print(
            json.dumps(
                {
                    "bench": f"nycfever_{'prospective' if prospective else 'retrospective'}",
                    "replications": 999,
                    "first_call_s": round(first, 2),
                    "median_s": round(statistics.median(times), 2),
                    "runs_s": [round(t, 2) for t in times],
                    "llr": round(mlc.llr, 6),
                    "p_value": mlc.p_value,
                }
            )
        )


def _marseille_centroids() -> dict[str, tuple[float, float]]:
    path = REFERENCE / "marseille" / "quartiers.geojson"
    if path.exists():
        from shapely.geometry import shape

        data = json.loads(path.read_text(encoding="utf-8"))
        out = {}
        for feat in data["features"]:
            c = shape(feat["geometry"]).representative_point()
            out[str(feat["properties"]["code_qua"])] = (c.y, c.x)
        return out
    return {f"Q{i:03d}": (43.22 + 0.012 * (i // 11), 5.33 + 0.016 * (i % 11)) for i in range(111)}


def marseille(runs: int, max_temporal_days: int | None) -> None:
    """Time one day's detection over 13 services (one scan per service)."""
    coords = _marseille_centroids()
    t0 = time.perf_counter()
    nb = build_neighbours(coords)
    t_nb = time.perf_counter() - t0
    rng = np.random.default_rng(2024)
    n_loc, days = len(coords), 365
    adoption = rng.gamma(2.0, 0.5, size=n_loc)  # uneven use of the app across quartiers
    weekly = np.array([1.2, 1.1, 1.0, 1.0, 1.1, 0.7, 0.6])
    season = 1 + 0.3 * np.sin(2 * np.pi * np.arange(days) / 365)
    services = []
    for yearly in np.geomspace(300, 8000, 13):  # reports a year, per service
        mean = np.outer(adoption, weekly[np.arange(days) % 7] * season)
        services.append(rng.poisson(mean * yearly / mean.sum()))

    def run() -> list[object]:
        return [
            scan_count_matrix(
                counts,
                nb,
                study_start=date(2024, 1, 1),
                prospective=True,
                max_temporal_days=max_temporal_days,
                replications=999,
                seed=1,
            )  # fmt: skip
            for counts in services
        ]

    first, times, _ = _timed(run, runs)
    print(
        json.dumps(
            {
                "bench": "marseille_daily_13_services",
                "locations": n_loc,
                "days": days,
                "max_temporal_days": max_temporal_days or "50%",
                "reports_per_year": int(sum(s.sum() for s in services)),
                "replications": 999,
                "neighbours_s": round(t_nb, 3),
                "first_call_s": round(first, 2),
                "median_s": round(statistics.median(times), 2),
                "runs_s": [round(t, 2) for t in times],
            }
        )
    )


def main() -> None:
    """Print the figures as JSON lines."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--skip-marseille", action="store_true")
    args = parser.parse_args()
    print(json.dumps({"cpus": os.cpu_count(), "load_avg": os.getloadavg()}))
    nyc(args.runs)
    if not args.skip_marseille:
        marseille(args.runs, max_temporal_days=30)
        marseille(max(1, args.runs // 2), max_temporal_days=None)


if __name__ == "__main__":
    main()
