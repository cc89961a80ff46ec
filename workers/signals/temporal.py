"""Temporal aberrations of many series: the helper the daily job calls.

:func:`detect_temporal` runs EARS (:mod:`workers.signals.ears`) on the last days and the
improved Farrington method (:mod:`workers.signals.farrington`) on the last week of every
(area, service) series, and returns the alarms.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from workers.signals.ears import EarsMethod, ears
from workers.signals.farrington import NOUFAILY_2013, farrington_flexible, reference_dates


@dataclass(frozen=True)
class TemporalAlarm:
    """One alarm raised by :func:`detect_temporal` for one series.

    ``expected`` is the baseline mean (EARS) or the GLM expectation (Farrington);
    ``p_value`` is the one-sided normal tail (EARS C1/C2), the predictive tail probability
    (Farrington), or None (EARS C3).
    """

    key: Hashable
    method: str
    period_start: dt.date
    period_end: dt.date
    observed: float
    expected: float
    upper_bound: float
    statistic: float
    p_value: float | None


def _finite_or_none(value: float) -> float | None:
    return None if math.isnan(value) else float(value)


def detect_temporal(
    daily_counts_by_key: Mapping[Hashable, Mapping[dt.date, int]],
    as_of: dt.date,
    *,
    history_start: dt.date | None = None,
    ears_methods: Sequence[EarsMethod] = ("C1", "C2", "C3"),
    ears_alpha: float | None = None,
    ears_min_sigma: float = 1.0,
    ears_days: int = 1,
    farrington: bool = True,
    farrington_alpha: float = 0.005,
    farrington_max_years: int = 5,
) -> list[TemporalAlarm]:
    """Run EARS on the last days and Noufaily's method on the last week of every series.

    Parameters
    ----------
    daily_counts_by_key
        For each series key (e.g. ``(area_code, service_code)``), counts per day; missing
        days count 0.
    as_of
        Last day of data (included).
    history_start
        First day of the observation period (default: the earliest day in any series); the
        days before it are unknown, not zero.
    ears_methods, ears_alpha, ears_min_sigma, ears_days
        EARS statistics to run, their level (None: surveillance's 0.001 for C1/C2, 0.025 for
        C3), the floor on the reference sd (1 avoids alarms on a single report after a week of
        zeros), and how many of the last days to evaluate.
    farrington, farrington_alpha, farrington_max_years
        Run Noufaily's method on 7-day periods ending on ``as_of``, with ``b`` the number of
        complete past years available (at most ``farrington_max_years``; skipped below 3).
        Only series with at least 5 cases in the last 4 periods are fitted: the others cannot
        alarm (surveillance's ``limit54`` rule).

    Returns
    -------
    list of TemporalAlarm
        The alarms, in key then method order.
    """
    if not daily_counts_by_key:
        return []
    if history_start is None:
        days = [d for counts in daily_counts_by_key.values() for d in counts]
        if not days:
            return []
        history_start = min(days)
    n_days = (as_of - history_start).days + 1
    if n_days <= 0:
        return []
    n_weeks = n_days // 7
    # weekly periods end on as_of; the oldest (possibly partial) days are left out
    week_starts = [as_of - dt.timedelta(days=7 * (n_weeks - i) - 1) for i in range(n_weeks)]
    alarms: list[TemporalAlarm] = []

    for key, by_day in daily_counts_by_key.items():
        daily = np.zeros(n_days)
        for day, count in by_day.items():
            pos = (day - history_start).days
            if 0 <= pos < n_days:
                daily[pos] += count

        for method in ears_methods:
            res = ears(daily, method, alpha=ears_alpha, min_sigma=ears_min_sigma)
            for pos in range(max(n_days - ears_days, 0), n_days):
                if res.alarm[pos]:
                    day = history_start + dt.timedelta(days=pos)
                    alarms.append(
                        TemporalAlarm(
                            key=key,
                            method=f"ears_{method.lower()}",
                            period_start=day,
                            period_end=day,
                            observed=float(daily[pos]),
                            expected=float(res.baseline_mean[pos]),
                            upper_bound=float(res.upper_bound[pos]),
                            statistic=float(res.statistic[pos]),
                            p_value=_finite_or_none(float(res.p_value[pos])),
                        )
                    )

        if not farrington or n_weeks == 0:
            continue
        weekly = daily[n_days - 7 * n_weeks :].reshape(n_weeks, 7).sum(axis=1)
        if weekly[-4:].sum() < 5:
            continue
        b = 0
        for years in range(farrington_max_years, 2, -1):
            oldest = reference_dates(week_starts[-1], years)[-1]
            if (oldest - week_starts[0]).days // 7 >= 3:  # room for the window's w = 3 weeks
                b = years
                break
        if b < 3:
            continue
        fres = farrington_flexible(
            weekly,
            week_starts,
            evaluate=[n_weeks - 1],
            b=b,
            w=3,
            alpha=farrington_alpha,
            **NOUFAILY_2013,
        )
        if fres.alarm[0]:
            alarms.append(
                TemporalAlarm(
                    key=key,
                    method="farrington_noufaily",
                    period_start=week_starts[-1],
                    period_end=as_of,
                    observed=float(fres.observed[0]),
                    expected=float(fres.expected[0]),
                    upper_bound=float(fres.upper_bound[0]),
                    statistic=float(fres.score[0]),
                    p_value=_finite_or_none(float(fres.p_value[0])),
                )
            )
    return alarms
