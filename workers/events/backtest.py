"""Backtest of the hourly risk profile on a simulated city whose effects are known.

Events of the first part of the simulated year train the model; every later event is
predicted from them alone and compared with what the simulation then produced: the share of
hourly counts inside the 90 % prediction intervals (coverage), and the mean absolute error
per hour against a naive forecast, the mean of the same weekday and hour over the previous
weeks (what a planner would guess without the model).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np

from workers.events.data import WEEK, EventSpec, SeriesCounts, Settings, count_hours
from workers.events.profile import build_profile
from workers.events.simulate import World, simulate


@dataclass(frozen=True)
class BacktestResult:
    """Figures of one backtest."""

    seed: int
    n_train: int
    n_test: int
    n_hours: int
    coverage: float
    mae_model: float
    mae_naive: float
    rmse_model: float
    rmse_naive: float
    by_kind: dict[str, dict[str, float]]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return self.__dict__.copy()


class WorldCounts:
    """``counts_for`` and ``exclude_for`` over a simulated world (records indexed by time)."""

    def __init__(self, world: World, settings: Settings) -> None:
        self.world = world
        self.settings = settings
        self.records = sorted(world.records, key=lambda r: r.at)
        self.times = [r.at for r in self.records]
        self._cache: dict[int, SeriesCounts] = {}

    def counts_for(self, event: EventSpec) -> SeriesCounts:
        """Counts per series and hour around the event's place, over its counting span."""
        if event.id not in self._cache:
            lo, hi = event.counting_span(self.settings)
            i, j = bisect.bisect_left(self.times, lo), bisect.bisect_left(self.times, hi)
            self._cache[event.id] = count_hours(self.records[i:j], event.place)
        return self._cache[event.id]

    def exclude_for(self, event: EventSpec) -> frozenset[datetime]:
        """Hours of the other events at the same venue."""
        venue = self.world.venue_of[event.id]
        return frozenset(
            h
            for other in self.world.events
            if other.id != event.id and self.world.venue_of[other.id] is venue
            for h in other.hours(self.settings)
        )


def naive_baseline(series: dict[datetime, float], hours: list[datetime], weeks: int) -> list[float]:
    """Mean of the same weekday and hour over the previous weeks (nothing shrunk or left out)."""
    return [sum(series.get(h - w * WEEK, 0.0) for w in range(1, weeks + 1)) / weeks for h in hours]


def run_backtest(
    seed: int = 0, *, scale: float = 1.0, train_share: float = 0.6, settings: Settings | None = None
) -> BacktestResult:
    """Simulate, fit on the first events, predict the others; return coverage and errors.

    Parameters
    ----------
    seed : int
        Seed of the simulation (and of the interval draws).
    scale : float
        Share of the yearly events simulated (1 = the full calendar).
    train_share : float
        Share of the calendar whose events train the model.
    settings : Settings or None
        Profile settings (defaults otherwise).

    Returns
    -------
    BacktestResult
        Coverage of the prediction intervals and mean absolute errors per hour.
    """
    settings = settings or Settings(draws=2000)
    world = simulate(seed, scale=scale)
    counts = WorldCounts(world, settings)
    calendar = sorted(e.starts_at for e in world.events)
    cutoff = calendar[int(len(calendar) * train_share)]
    train = [e for e in world.events if e.hours(settings)[-1] < cutoff]
    test = [e for e in world.events if e.starts_at >= cutoff]
    covered = errors_model = errors_naive = n = 0.0
    squares_model = squares_naive = 0.0
    per_kind: dict[str, list[float]] = {}
    for event in test:
        profile = build_profile(
            event,
            train,
            counts.counts_for,
            settings=settings,
            exclude_for=counts.exclude_for,
            seed=seed,
        )
        if profile.status != "ok":
            continue
        observed = counts.counts_for(event)
        hours = event.hours(settings)
        for series in profile.data["series"]:
            key = (series["source"], series["family"], series["zone"])
            y = np.array([observed.get(key, {}).get(h, 0.0) for h in hours])
            naive = np.array(naive_baseline(observed.get(key, {}), hours, settings.baseline_weeks))
            low, high = np.array(series["low"]), np.array(series["high"])
            # MAE scores the predictive median: the best point forecast under absolute loss
            # (the mean is best under squared loss, scored by the RMSE below).
            expected = np.array(series["median"])
            mean = np.array(series["expected"])
            squares_model += float(((y - mean) ** 2).sum())
            squares_naive += float(((y - naive) ** 2).sum())
            inside = (y >= low) & (y <= high)
            covered += float(inside.sum())
            errors_model += float(np.abs(y - expected).sum())
            errors_naive += float(np.abs(y - naive).sum())
            n += len(y)
            stats = per_kind.setdefault(event.kind, [0.0, 0.0, 0.0, 0.0])
            stats[0] += float(inside.sum())
            stats[1] += float(np.abs(y - expected).sum())
            stats[2] += float(np.abs(y - naive).sum())
            stats[3] += len(y)
    by_kind = {
        kind: {
            "coverage": s[0] / s[3],
            "mae_model": s[1] / s[3],
            "mae_naive": s[2] / s[3],
            "hours": s[3],
        }
        for kind, s in sorted(per_kind.items())
    }
    return BacktestResult(
        seed=seed,
        n_train=len(train),
        n_test=len(test),
        n_hours=int(n),
        coverage=covered / n if n else float("nan"),
        mae_model=errors_model / n if n else float("nan"),
        mae_naive=errors_naive / n if n else float("nan"),
        rmse_model=(squares_model / n) ** 0.5 if n else float("nan"),
        rmse_naive=(squares_naive / n) ** 0.5 if n else float("nan"),
        by_kind=by_kind,
    )
