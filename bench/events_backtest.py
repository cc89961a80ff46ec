"""Backtest of the events' hourly risk profile on the simulated city (known effects).

For each seed: simulate a year of matches, concerts, markets and demonstrations with their
incidents (``workers.events.simulate``), fit on the events of the first 60 % of the calendar,
predict every later event from them alone, and score each (event, series, hour):

* **coverage** of the 90 % prediction intervals (target 85-95 %);
* **MAE** per hour of the model's point forecast (the predictive median, the best point
  under absolute loss) against the naive forecast, the mean of the same weekday and hour
  over the previous 8 weeks; and the RMSE of the model's expected count (the mean, the
  best point under squared loss) against the same naive forecast.

Prints one line per seed, then the medians over seeds, and the per-kind table of the median
seed (JSON with ``--json``).

    .venv/bin/python bench/events_backtest.py --seeds 0 1 2 3 4
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
import warnings

from workers.events.backtest import run_backtest


def main() -> None:
    """Run the backtest for each seed and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--scale", type=float, default=1.0, help="share of the yearly events")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    results = []
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    print("seed  train  test  hours  coverage  MAE model  MAE naive  RMSE model  RMSE naive  s")
    for seed in args.seeds:
        started = time.perf_counter()
        r = run_backtest(seed, scale=args.scale)
        took = time.perf_counter() - started
        results.append(r)
        print(
            f"{seed:>4}  {r.n_train:>5}  {r.n_test:>4}  {r.n_hours:>5}  {r.coverage:>8.3f}  "
            f"{r.mae_model:>9.3f}  {r.mae_naive:>9.3f}  {r.rmse_model:>10.3f}  "
            f"{r.rmse_naive:>10.3f}  {took:.0f}"
        )
    med = {
        key: statistics.median(getattr(r, key) for r in results)
        for key in ("coverage", "mae_model", "mae_naive", "rmse_model", "rmse_naive")
    }
    print(
        f"median over {len(results)} seeds: coverage {med['coverage']:.3f}, MAE model "
        f"{med['mae_model']:.3f} vs naive {med['mae_naive']:.3f} "
        f"(ratio {med['mae_model'] / med['mae_naive']:.2f}), RMSE model {med['rmse_model']:.3f} "
        f"vs naive {med['rmse_naive']:.3f} (ratio {med['rmse_model'] / med['rmse_naive']:.2f})"
    )
    middle = sorted(results, key=lambda r: r.coverage)[len(results) // 2]
    print(f"per kind, seed {middle.seed}:")
    for kind, figures in middle.by_kind.items():
        print(
            f"  {kind:<14} coverage {figures['coverage']:.3f}  MAE {figures['mae_model']:.3f} "
            f"vs {figures['mae_naive']:.3f}  ({figures['hours']:.0f} hours)"
        )
    if args.json:
        print(json.dumps([r.to_dict() for r in results], indent=1, default=str))


if __name__ == "__main__":
    main()
