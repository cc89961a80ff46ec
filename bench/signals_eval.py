"""Evaluation of the daily weak-signal detection on a synthetic city.

The city: Marseille's 111 quartiers (centroids of ``../shared/reference/marseille/
quartiers.geojson``; a grid when the reference data is not there), reports with realistic
rhythms -- weekday (Monday busiest, Sunday quietest), seasonal (+/- 30 %), and uneven use of
the app across quartiers (gamma-distributed adoption) -- and nothing else: no space-time
interaction, so every signal on it is a false signal.

It runs exactly what the daily job runs (``workers.signals.detect.scan_candidates`` and
``temporal_candidates``, same settings), on in-memory count matrices:

1. **timing**: one day's detection for 13 services × 111 quartiers × 365 days, 999
   replications (target: at most 60 s on the 2-core machine);
2. **false signals per year** on data with nothing injected, for several recurrence-interval
   thresholds, against ``365 / threshold`` (and its exact discrete value for the scan:
   ``365 × floor((R + 1) / T) / (R + 1)`` with R replications);
3. **injected clusters** of varied size (quartiers), length (days) and strength (extra
   reports): detection rate and days to detection, per detector.

Run: ``.venv/bin/python bench/signals_eval.py [--quick] [--timing-runs 3] [--null-services 3]``
(a full run takes several minutes). Prints tables and, last, one JSON line with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from workers.signals.detect import (
    DetectionSettings,
    max_signal_rank,
    scan_candidates,
    temporal_candidates,
)
from workers.signals.scan import Neighbours, build_neighbours

REFERENCE = Path(__file__).resolve().parents[1] / ".." / "shared" / "reference"
START = date(2023, 1, 2)  # a Monday
WEEKLY = np.array([1.25, 1.1, 1.05, 1.0, 1.05, 0.8, 0.75])  # Monday .. Sunday
THRESHOLDS = (20.0, 100.0, 365.0)


# --------------------------------------------------------------------------------------------
# The synthetic city
# --------------------------------------------------------------------------------------------


def quartier_centroids() -> dict[str, tuple[float, float]]:
    """Marseille's 111 quartier centroids (lat, lon), or a grid without the reference data."""
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


class City:
    """Expected reports per quartier and day for a service: adoption × weekday × season."""

    def __init__(self, n_loc: int, n_days: int, seed: int) -> None:
        rng = np.random.default_rng(seed)
        self.adoption = rng.gamma(2.0, 0.5, size=n_loc)
        self.adoption /= self.adoption.mean()
        days = np.arange(n_days)
        weekday = np.array([(START + timedelta(days=int(d))).weekday() for d in days])
        season = 1 + 0.3 * np.sin(2 * np.pi * (days - 80) / 365.25)
        self.time_shape = WEEKLY[weekday] * season
        self.time_shape /= self.time_shape.mean()
        self.n_loc, self.n_days = n_loc, n_days

    def mean(self, per_year: float) -> np.ndarray:
        """Expected counts (n_loc × n_days) for a service with ``per_year`` reports a year."""
        per_day = per_year / 365.0
        return per_day * np.outer(self.adoption / self.n_loc, self.time_shape)

    def counts(self, per_year: float, rng: np.random.Generator) -> np.ndarray:
        """One draw of the reports of a service."""
        return rng.poisson(self.mean(per_year)).astype(np.int64)


# --------------------------------------------------------------------------------------------
# 1. Timing
# --------------------------------------------------------------------------------------------


def daily_detection(
    services: list[np.ndarray], nb: Neighbours, ids: tuple[str, ...], settings: DetectionSettings
) -> int:
    """One day's detection over all services (what ``detect_signals`` runs, minus the DB)."""
    n = 0
    for k, counts in enumerate(services):
        n += len(
            scan_candidates(counts, nb, service_code=f"s{k}", study_start=START, settings=settings)
        )
        n += len(
            temporal_candidates(
                counts, ids, service_code=f"s{k}", study_start=START, settings=settings,
                farrington=False,
            )
        )  # fmt: skip
    return n


def timing(nb: Neighbours, ids: tuple[str, ...], runs: int) -> dict[str, Any]:
    """13 services × 111 quartiers × 365 days, 999 replications, as the daily job."""
    city = City(len(ids), 365, seed=2024)
    rng = np.random.default_rng(2025)
    services = [city.counts(r, rng) for r in np.geomspace(300, 8000, 13)]
    out: dict[str, Any] = {"reports_per_year": int(sum(s.sum() for s in services))}
    for label, settings in (
        ("early_stop", DetectionSettings()),
        ("all_999", DetectionSettings(early_stop=False)),
    ):
        t0 = time.perf_counter()
        daily_detection(services, nb, ids, settings)  # numba compile or cache load
        first = time.perf_counter() - t0
        times = []
        for _ in range(runs):
            t0 = time.perf_counter()
            daily_detection(services, nb, ids, settings)
            times.append(time.perf_counter() - t0)
        out[label] = {
            "first_s": round(first, 2),
            "median_s": round(statistics.median(times), 2),
            "runs_s": [round(t, 2) for t in times],
        }
    return out


# --------------------------------------------------------------------------------------------
# 2. False signals on a quiet city
# --------------------------------------------------------------------------------------------


def false_signals(
    nb: Neighbours, ids: tuple[str, ...], rates: list[float], seed: int, days: int
) -> dict[str, Any]:
    """Daily analyses over ``days`` days of null data per service: signals per service-year."""
    settings = DetectionSettings(recurrence_threshold_days=min(THRESHOLDS))
    window = settings.window_days
    city = City(len(ids), window + days, seed=seed)
    rng = np.random.default_rng(seed + 1)
    scan_ri: list[list[float]] = []  # per analysis day, RIs of the scan signals
    temporal_ri: list[float] = []
    analyses = 0
    t0 = time.perf_counter()
    for rate in rates:
        counts = city.counts(rate, rng)
        for d in range(window, window + days):
            study = counts[:, d - window + 1 : d + 1]
            found = scan_candidates(
                study, nb, service_code=f"null{rate:.0f}",
                study_start=START + timedelta(days=d - window + 1), settings=settings,
            )  # fmt: skip
            scan_ri.append([c.recurrence_interval_days or 0.0 for c in found])
            analyses += 1
        # EARS only looks back: one call evaluates every day of the period
        temporal = temporal_candidates(
            counts, ids, service_code=f"null{rate:.0f}", study_start=START, settings=settings,
            eval_days=days, farrington=False,
        )  # fmt: skip
        temporal_ri += [c.recurrence_interval_days or 0.0 for c in temporal]
    elapsed = time.perf_counter() - t0
    years = analyses / 365.0
    r = settings.replications
    rows = []
    for t in THRESHOLDS:
        scan_days = sum(1 for ris in scan_ri if any(x >= t - 1e-9 for x in ris))
        scan_all = sum(sum(1 for x in ris if x >= t - 1e-9) for ris in scan_ri)
        rows.append(
            {
                "threshold_days": t,
                "nominal_per_year": round(365.0 / t, 2),
                "scan_exact_per_year": round(365.0 * max_signal_rank(r, t) / (r + 1), 2),
                "scan_signal_days_per_year": round(scan_days / years, 2),
                "scan_signals_per_year": round(scan_all / years, 2),
                "temporal_signals_per_year": round(
                    sum(1 for x in temporal_ri if x >= t) / years, 2
                ),
            }
        )
    return {"service_years": round(years, 2), "seconds": round(elapsed, 1), "rows": rows}


# --------------------------------------------------------------------------------------------
# 3. Injected clusters
# --------------------------------------------------------------------------------------------


def injected(
    nb: Neighbours,
    ids: tuple[str, ...],
    *,
    per_year: float,
    sizes: tuple[int, ...],
    lengths: tuple[int, ...],
    extras: tuple[int, ...],
    replicates: int,
    grace_days: int,
    seed: int,
) -> list[dict[str, Any]]:
    """Plant ``extra`` reports in ``size`` neighbouring quartiers over ``length`` days and run
    the daily analyses from the first planted day: detected or not, and after how many days."""
    settings = DetectionSettings()
    window = settings.window_days
    rng = np.random.default_rng(seed)
    results = []
    for size in sizes:
        for length in lengths:
            for extra in extras:
                scan_delays: list[int | None] = []
                temporal_delays: list[int | None] = []
                for rep in range(replicates):
                    city = City(len(ids), window + length + grace_days, seed=seed + 97 * rep)
                    counts = city.counts(per_year, rng)
                    centre = int(rng.integers(len(ids)))
                    members = [int(i) for i in nb.order[centre, :size]]
                    s = window  # first planted day (the study before it is a full year)
                    cells_l = rng.choice(members, size=extra)
                    cells_d = rng.integers(s, s + length, size=extra)
                    np.add.at(counts, (cells_l, cells_d), 1)
                    planted = {ids[i] for i in members}
                    scan_delays.append(
                        _scan_delay(counts, nb, planted, s, length + grace_days, settings)
                    )
                    temporal_delays.append(
                        _temporal_delay(counts, ids, planted, s, length + grace_days, settings)
                    )
                results.append(
                    {
                        "quartiers": size,
                        "days": length,
                        "extra_reports": extra,
                        "scan": _summary(scan_delays),
                        "temporal": _summary(temporal_delays),
                    }
                )
                print(json.dumps(results[-1]), flush=True)
    return results


def _scan_delay(
    counts: np.ndarray,
    nb: Neighbours,
    planted: set[str],
    first: int,
    horizon: int,
    settings: DetectionSettings,
) -> int | None:
    window = settings.window_days
    for d in range(first, first + horizon):
        study = counts[:, d - window + 1 : d + 1]
        start = START + timedelta(days=d - window + 1)
        for c in scan_candidates(
            study, nb, service_code="inj", study_start=start, settings=settings
        ):
            if planted & set(c.area_codes):
                return d - first + 1
    return None


def _temporal_delay(
    counts: np.ndarray,
    ids: tuple[str, ...],
    planted: set[str],
    first: int,
    horizon: int,
    settings: DetectionSettings,
) -> int | None:
    last = first + horizon - 1
    found = temporal_candidates(
        counts[:, : last + 1], ids, service_code="inj", study_start=START, settings=settings,
        eval_days=horizon, farrington=False,
    )  # fmt: skip
    days = [(c.end - START).days - first + 1 for c in found if planted & set(c.area_codes)]
    return min(days) if days else None


def _summary(delays: list[int | None]) -> dict[str, Any]:
    hits = [d for d in delays if d is not None]
    return {
        "detected": len(hits),
        "runs": len(delays),
        "rate": round(len(hits) / len(delays), 2),
        "median_days": statistics.median(hits) if hits else None,
    }


# --------------------------------------------------------------------------------------------


def main() -> None:
    """Run the three evaluations and print their tables."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer runs, for a smoke test")
    parser.add_argument("--timing-runs", type=int, default=3)
    parser.add_argument("--null-services", type=int, default=3)
    parser.add_argument("--null-days", type=int, default=365)
    parser.add_argument("--replicates", type=int, default=3)
    args = parser.parse_args()
    if args.quick:
        args.timing_runs, args.null_services, args.null_days, args.replicates = 1, 1, 60, 1

    print(json.dumps({"cpus": os.cpu_count(), "load_avg": os.getloadavg()}))
    coords = quartier_centroids()
    nb = build_neighbours(coords)
    ids = nb.ids
    d = DetectionSettings()
    print(
        f"Synthetic city: {len(ids)} quartiers; settings: window {d.window_days} d, max "
        f"temporal {d.max_temporal_days} d, max spatial {d.max_spatial_pct} % / "
        f"{d.max_radius_km} km, min {d.min_cases} cases, {d.replications} replications, "
        f"signal when recurrence >= {d.recurrence_threshold_days:.0f} d"
    )

    t = timing(nb, ids, args.timing_runs)
    print("\n1. Daily detection, 13 services x 111 quartiers x 365 days, 999 replications")
    print(f"   reports in the year: {t['reports_per_year']}")
    for label in ("early_stop", "all_999"):
        v = t[label]
        print(f"   {label:<10}  median {v['median_s']:6.2f} s  runs {v['runs_s']}  "
              f"(first call {v['first_s']} s)")  # fmt: skip

    rates = list(np.geomspace(1000, 8000, args.null_services)) if args.null_services > 1 else [2000]
    fs = false_signals(nb, ids, rates, seed=11, days=args.null_days)
    print(
        f"\n2. False signals on a quiet city ({fs['service_years']} service-years of daily "
        f"analyses, {fs['seconds']} s)"
    )
    print("   threshold | expected 365/T | scan exact | scan days/yr | scan signals/yr | "
          "temporal/yr")  # fmt: skip
    for row in fs["rows"]:
        print(
            f"   {row['threshold_days']:>7.0f} d | {row['nominal_per_year']:>14} | "
            f"{row['scan_exact_per_year']:>10} | {row['scan_signal_days_per_year']:>12} | "
            f"{row['scan_signals_per_year']:>15} | {row['temporal_signals_per_year']:>11}"
        )

    print("\n3. Injected clusters (street-light-like service, 2,000 reports a year)")
    inj = injected(
        nb,
        ids,
        per_year=2000,
        sizes=(1, 3, 8) if not args.quick else (3,),
        lengths=(1, 3, 7) if not args.quick else (3,),
        extras=(6, 12) if not args.quick else (12,),
        replicates=args.replicates,
        grace_days=3,
        seed=31,
    )
    print("   quartiers | days | extra | scan rate | scan median days | temporal rate | "
          "temporal median days")  # fmt: skip
    for r in inj:
        print(
            f"   {r['quartiers']:>9} | {r['days']:>4} | {r['extra_reports']:>5} | "
            f"{r['scan']['rate']:>9} | {str(r['scan']['median_days']):>16} | "
            f"{r['temporal']['rate']:>13} | {str(r['temporal']['median_days']):>20}"
        )
    scan_rate = np.mean([r["scan"]["rate"] for r in inj])
    temporal_rate = np.mean([r["temporal"]["rate"] for r in inj])
    print(f"   overall detection rate: scan {scan_rate:.2f}, temporal {temporal_rate:.2f}")
    print(json.dumps({"timing": t, "false_signals": fs, "injected": inj}))


if __name__ == "__main__":
    main()
