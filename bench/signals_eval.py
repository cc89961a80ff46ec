"""Evaluation of the daily weak-signal detection on a synthetic city.

The city: Marseille's 111 quartiers (centroids of ``../shared/reference/marseille/
quartiers.geojson``; a grid when the reference data is not there), reports with realistic
rhythms -- weekday (Monday busiest, Sunday quietest), seasonal (+/- 30 %), and uneven use of
the app across quartiers (gamma-distributed adoption) -- and nothing else: no space-time
interaction, so every signal on it is a false signal.

It runs exactly what the daily job runs (``workers.signals.candidates.scan_candidates`` and
``temporal_candidates``, same settings), on in-memory count matrices, and reports each
detector apart:

* **scan** -- the prospective space-time permutation scan on the last 365 days;
* **ears** -- EARS C1/C2/C3 on daily counts (the methods that alarm on a day are merged, as
  in the job), confirmed by the exact day p-value;
* **farrington** -- the improved Farrington method (Noufaily et al. 2013) on the 7 days
  ending on the analysis day, with the job's history (``farrington_history_days``, five
  years: ``b = 5`` reference years). Every series therefore starts
  ``farrington_history_days - window_days`` days (more than three years) before the scan's
  first window, drawn from the same :class:`City` rhythms; all detectors see the same draws.

The evaluations:

1. **timing**: one day's detection for 13 services × 111 quartiers × 365 days, 999
   replications (target: at most 60 s on the 2-core machine), scan and EARS; and, apart,
   one day of Noufaily for the same services with five years of history;
2. **false signals per year** on data with nothing injected, for several recurrence-interval
   thresholds, against ``365 / threshold`` (and its exact discrete value for the scan:
   ``365 × floor((R + 1) / T) / (R + 1)`` with R replications): one analysis per day, as the
   job, so a year of a service is 365 analyses for every detector;
3. **injected clusters** of varied size (quartiers), length (days) and strength (extra
   reports): detection rate and days to detection, per detector, on the same series and the
   same planted reports for every detector.

Run: ``.venv/bin/python bench/signals_eval.py [--quick] [--timing-runs 3] [--null-services 3]
[--null-days 365] [--replicates 3] [--detectors scan,ears,farrington]`` (a full run takes
several minutes; Noufaily on null data costs about 0.4 s per analysis day for the busiest
service). Prints tables and, last, one JSON line with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from workers.signals.candidates import max_signal_rank, scan_candidates, temporal_candidates
from workers.signals.scan import Neighbours, build_neighbours
from workers.signals.settings import DetectionSettings

REFERENCE = Path(__file__).resolve().parents[1] / ".." / "shared" / "reference"
START = date(2023, 1, 2)  # a Monday
WEEKLY = np.array([1.25, 1.1, 1.05, 1.0, 1.05, 0.8, 0.75])  # Monday .. Sunday
THRESHOLDS = (20.0, 100.0, 365.0)
DETECTORS = ("scan", "ears", "farrington")
#: Days of every synthetic series before the scan's first window: the Farrington history the
#: job loads (five years and five weeks), minus the scan's 365 days. The same for every
#: detector, so that they all see the same draws whichever are evaluated.
PRE_DAYS = DetectionSettings().farrington_history_days - DetectionSettings().window_days


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


def farrington_candidates(
    counts: np.ndarray,
    ids: tuple[str, ...],
    day: int,
    service_code: str,
    settings: DetectionSettings,
) -> list[Any]:
    """Noufaily's signals of the analysis of day ``day`` (a column of ``counts``), with the
    history the job loads (``farrington_history_days``) and no EARS."""
    first = max(0, day + 1 - settings.farrington_history_days)
    return temporal_candidates(
        counts[:, first : day + 1], ids, service_code=service_code,
        study_start=START + timedelta(days=first), settings=replace(settings, ears_methods=()),
        farrington=True,
    )  # fmt: skip


def timing(
    nb: Neighbours, ids: tuple[str, ...], runs: int, detectors: tuple[str, ...]
) -> dict[str, Any]:
    """13 services × 111 quartiers × 365 days, 999 replications, as the daily job; Noufaily
    apart, with five years of history."""
    settings0 = DetectionSettings()
    n_days = settings0.farrington_history_days
    city = City(len(ids), n_days, seed=2024)
    rng = np.random.default_rng(2025)
    full = [city.counts(r, rng) for r in np.geomspace(300, 8000, 13)]
    services = [c[:, -settings0.window_days :] for c in full]
    out: dict[str, Any] = {"reports_per_year": int(sum(s.sum() for s in services))}
    if "farrington" in detectors:
        times = []
        for _ in range(runs):
            t0 = time.perf_counter()
            for k, counts in enumerate(full):
                farrington_candidates(counts, ids, n_days - 1, f"s{k}", settings0)
            times.append(time.perf_counter() - t0)
        out["farrington"] = {
            "median_s": round(statistics.median(times), 2),
            "runs_s": [round(t, 2) for t in times],
        }
    if not {"scan", "ears"} & set(detectors):
        return out
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
    nb: Neighbours,
    ids: tuple[str, ...],
    rates: list[float],
    seed: int,
    days: int,
    detectors: tuple[str, ...],
) -> dict[str, Any]:
    """Daily analyses over ``days`` days of null data per service: signals per service-year,
    per detector. Every detector analyses the same days of the same draws."""
    settings = DetectionSettings(recurrence_threshold_days=min(THRESHOLDS))
    window = settings.window_days
    first = PRE_DAYS + window  # first analysis day: a full scan window and Noufaily history
    city = City(len(ids), first + days, seed=seed)
    rng = np.random.default_rng(seed + 1)
    scan_ri: list[list[float]] = []  # per analysis day, RIs of the scan signals
    ears_ri: list[float] = []
    farr_ri: list[list[float]] = []  # per analysis day, RIs of the Noufaily signals
    analyses = 0
    seconds = dict.fromkeys(detectors, 0.0)
    for rate in rates:
        counts = city.counts(rate, rng)
        code = f"null{rate:.0f}"
        analyses += days
        if "scan" in detectors:
            t0 = time.perf_counter()
            for d in range(first, first + days):
                study = counts[:, d - window + 1 : d + 1]
                found = scan_candidates(
                    study, nb, service_code=code,
                    study_start=START + timedelta(days=d - window + 1), settings=settings,
                )  # fmt: skip
                scan_ri.append([c.recurrence_interval_days or 0.0 for c in found])
            seconds["scan"] += time.perf_counter() - t0
        if "ears" in detectors:
            # EARS only looks back: one call evaluates every day of the period
            t0 = time.perf_counter()
            temporal = temporal_candidates(
                counts[:, first - window : first + days], ids, service_code=code,
                study_start=START + timedelta(days=first - window), settings=settings,
                eval_days=days, farrington=False,
            )  # fmt: skip
            ears_ri += [c.recurrence_interval_days or 0.0 for c in temporal]
            seconds["ears"] += time.perf_counter() - t0
        if "farrington" in detectors:
            # Noufaily evaluates the last 7 days only: one call per analysis day, as the job
            t0 = time.perf_counter()
            for d in range(first, first + days):
                found = farrington_candidates(counts, ids, d, code, settings)
                farr_ri.append([c.recurrence_interval_days or 0.0 for c in found])
            seconds["farrington"] += time.perf_counter() - t0
    years = analyses / 365.0
    r = settings.replications
    rows = []
    for t in THRESHOLDS:
        row: dict[str, Any] = {
            "threshold_days": t,
            "nominal_per_year": round(365.0 / t, 2),
        }
        if "scan" in detectors:
            scan_days = sum(1 for ris in scan_ri if any(x >= t - 1e-9 for x in ris))
            scan_all = sum(sum(1 for x in ris if x >= t - 1e-9) for ris in scan_ri)
            row["scan_exact_per_year"] = round(365.0 * max_signal_rank(r, t) / (r + 1), 2)
            row["scan_signal_days_per_year"] = round(scan_days / years, 2)
            row["scan_signals_per_year"] = round(scan_all / years, 2)
        if "ears" in detectors:
            row["ears_signals_per_year"] = round(sum(1 for x in ears_ri if x >= t) / years, 2)
        if "farrington" in detectors:
            farr_days = sum(1 for ris in farr_ri if any(x >= t for x in ris))
            farr_all = sum(sum(1 for x in ris if x >= t) for ris in farr_ri)
            row["farrington_signal_days_per_year"] = round(farr_days / years, 2)
            row["farrington_signals_per_year"] = round(farr_all / years, 2)
        rows.append(row)
    return {
        "service_years": round(years, 2),
        "seconds": {k: round(v, 1) for k, v in seconds.items()},
        "rows": rows,
    }


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
    detectors: tuple[str, ...],
) -> list[dict[str, Any]]:
    """Plant ``extra`` reports in ``size`` neighbouring quartiers over ``length`` days and run
    the daily analyses from the first planted day: detected or not, and after how many days.
    The series and the planted reports do not depend on which detectors are evaluated."""
    settings = DetectionSettings()
    window = settings.window_days
    rng = np.random.default_rng(seed)
    results = []
    for size in sizes:
        for length in lengths:
            for extra in extras:
                delays: dict[str, list[int | None]] = {k: [] for k in detectors}
                horizon = length + grace_days
                for rep in range(replicates):
                    s = PRE_DAYS + window  # first planted day: a full year and Noufaily history
                    city = City(len(ids), s + horizon, seed=seed + 97 * rep)
                    counts = city.counts(per_year, rng)
                    centre = int(rng.integers(len(ids)))
                    members = [int(i) for i in nb.order[centre, :size]]
                    cells_l = rng.choice(members, size=extra)
                    cells_d = rng.integers(s, s + length, size=extra)
                    np.add.at(counts, (cells_l, cells_d), 1)
                    planted = {ids[i] for i in members}
                    if "scan" in detectors:
                        delays["scan"].append(
                            _scan_delay(counts, nb, planted, s, horizon, settings)
                        )
                    if "ears" in detectors:
                        delays["ears"].append(
                            _ears_delay(counts, ids, planted, s, horizon, settings)
                        )
                    if "farrington" in detectors:
                        delays["farrington"].append(
                            _farrington_delay(counts, ids, planted, s, horizon, settings)
                        )
                results.append(
                    {
                        "quartiers": size,
                        "days": length,
                        "extra_reports": extra,
                        **{k: _summary(v) for k, v in delays.items()},
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


def _ears_delay(
    counts: np.ndarray,
    ids: tuple[str, ...],
    planted: set[str],
    first: int,
    horizon: int,
    settings: DetectionSettings,
) -> int | None:
    last = first + horizon - 1
    begin = first - settings.window_days  # EARS looks back 9 days at most
    start = START + timedelta(days=begin)
    found = temporal_candidates(
        counts[:, begin : last + 1], ids, service_code="inj", study_start=start,
        settings=settings, eval_days=horizon, farrington=False,
    )  # fmt: skip
    days = [(c.end - start).days + begin - first + 1 for c in found if planted & set(c.area_codes)]
    return min(days) if days else None


def _farrington_delay(
    counts: np.ndarray,
    ids: tuple[str, ...],
    planted: set[str],
    first: int,
    horizon: int,
    settings: DetectionSettings,
) -> int | None:
    for d in range(first, first + horizon):
        for c in farrington_candidates(counts, ids, d, "inj", settings):
            if planted & set(c.area_codes):
                return d - first + 1
    return None


def _summary(delays: list[int | None]) -> dict[str, Any]:
    hits = [d for d in delays if d is not None]
    return {
        "detected": len(hits),
        "runs": len(delays),
        "rate": round(len(hits) / len(delays), 2),
        "median_days": statistics.median(hits) if hits else None,
    }


# --------------------------------------------------------------------------------------------


def _detectors(text: str) -> tuple[str, ...]:
    chosen = tuple(d.strip() for d in text.split(",") if d.strip())
    unknown = set(chosen) - set(DETECTORS)
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(
            f"detectors: a comma-separated subset of {','.join(DETECTORS)}"
        )
    return tuple(d for d in DETECTORS if d in chosen)


def _cell(summary: dict[str, Any]) -> str:
    """``rate (median days)``, or ``0`` when nothing was detected."""
    if not summary["detected"]:
        return "0"
    return f"{summary['rate']:g} ({summary['median_days']:g})"


def main() -> None:
    """Run the three evaluations and print their tables."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer runs, for a smoke test")
    parser.add_argument("--timing-runs", type=int, default=3, help="0 skips the timing")
    parser.add_argument("--null-services", type=int, default=3)
    parser.add_argument("--null-days", type=int, default=365)
    parser.add_argument("--replicates", type=int, default=3)
    parser.add_argument(
        "--detectors",
        type=_detectors,
        default=DETECTORS,
        help="comma-separated subset of scan,ears,farrington (default: all three)",
    )
    args = parser.parse_args()
    if args.quick:
        args.timing_runs, args.null_services, args.null_days, args.replicates = 1, 1, 60, 1
    detectors: tuple[str, ...] = args.detectors

    print(json.dumps({"cpus": os.cpu_count(), "load_avg": os.getloadavg()}))
    coords = quartier_centroids()
    nb = build_neighbours(coords)
    ids = nb.ids
    d = DetectionSettings()
    print(
        f"Synthetic city: {len(ids)} quartiers; settings: window {d.window_days} d, max "
        f"temporal {d.max_temporal_days} d, max spatial {d.max_spatial_pct} % / "
        f"{d.max_radius_km} km, min {d.min_cases} cases, {d.replications} replications, "
        f"signal when recurrence >= {d.recurrence_threshold_days:.0f} d; Noufaily history "
        f"{d.farrington_history_days} d; detectors: {', '.join(detectors)}"
    )

    t: dict[str, Any] = {}
    if args.timing_runs > 0:
        t = timing(nb, ids, args.timing_runs, detectors)
        print("\n1. Daily detection, 13 services x 111 quartiers x 365 days, 999 replications")
        print(f"   reports in the year: {t['reports_per_year']}")
        for label in ("early_stop", "all_999"):
            if label in t:
                v = t[label]
                print(f"   scan+EARS {label:<10}  median {v['median_s']:6.2f} s  "
                      f"runs {v['runs_s']}  (first call {v['first_s']} s)")  # fmt: skip
        if "farrington" in t:
            v = t["farrington"]
            print(f"   Noufaily (5 years)    median {v['median_s']:6.2f} s  runs {v['runs_s']}")

    rates = list(np.geomspace(1000, 8000, args.null_services)) if args.null_services > 1 else [2000]
    fs = false_signals(nb, ids, rates, seed=11, days=args.null_days, detectors=detectors)
    print(
        f"\n2. False signals on a quiet city ({fs['service_years']} service-years of daily "
        f"analyses per detector; seconds {fs['seconds']})"
    )
    columns = [("threshold_days", "threshold"), ("nominal_per_year", "365/T")]
    if "scan" in detectors:
        columns += [
            ("scan_exact_per_year", "scan exact"),
            ("scan_signal_days_per_year", "scan days/yr"),
            ("scan_signals_per_year", "scan signals/yr"),
        ]
    if "ears" in detectors:
        columns += [("ears_signals_per_year", "EARS/yr")]
    if "farrington" in detectors:
        columns += [
            ("farrington_signal_days_per_year", "Noufaily days/yr"),
            ("farrington_signals_per_year", "Noufaily/yr"),
        ]
    print("   " + " | ".join(h for _k, h in columns))
    for row in fs["rows"]:
        print("   " + " | ".join(f"{row[k]:>{len(h)}g}" for k, h in columns))

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
        detectors=detectors,
    )
    print("   rate (median days to detection), day 1 = first planted day")
    print("   quartiers x days | extra | " + " | ".join(f"{k:<10}" for k in detectors))
    for r in inj:
        cells = " | ".join(f"{_cell(r[k]):<10}" for k in detectors)
        print(f"   {r['quartiers']:>9} x {r['days']:<4} | {r['extra_reports']:>5} | {cells}")
    overall = {k: round(float(np.mean([r[k]["rate"] for r in inj])), 2) for k in detectors}
    print(f"   overall detection rate: {overall}")
    print(
        json.dumps(
            {
                "detectors": detectors,
                "timing": t,
                "false_signals": fs,
                "injected": inj,
                "overall_detection_rate": overall,
            }
        )
    )


if __name__ == "__main__":
    main()
