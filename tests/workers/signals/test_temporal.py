"""The daily job's temporal helper: EARS and Noufaily on many series at once."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from workers.signals.temporal import detect_temporal


def _daily_series(rng: np.random.Generator, start: dt.date, n_days: int, rate: float) -> dict:
    counts = rng.poisson(rate, n_days)
    return {start + dt.timedelta(days=i): int(c) for i, c in enumerate(counts) if c}


def test_detect_temporal_flags_planted_outbreak_only() -> None:
    rng = np.random.default_rng(20240611)
    start = dt.date(2020, 1, 1)
    as_of = dt.date(2024, 3, 31)
    n_days = (as_of - start).days + 1
    quiet = _daily_series(rng, start, n_days, 2.0)
    outbreak = _daily_series(rng, start, n_days, 2.0)
    for back in range(7):  # a week at five times the usual rate, ending today
        day = as_of - dt.timedelta(days=back)
        outbreak[day] = outbreak.get(day, 0) + 8
    sparse = {as_of: 1}
    alarms = detect_temporal(
        {("q1", "streetlight"): quiet, ("q2", "streetlight"): outbreak, ("q3", "noise"): sparse},
        as_of,
        history_start=start,
    )
    keys = {a.key for a in alarms}
    assert ("q2", "streetlight") in keys
    assert ("q3", "noise") not in keys
    methods = {a.method for a in alarms if a.key == ("q2", "streetlight")}
    assert "farrington_noufaily" in methods
    far = next(a for a in alarms if a.method == "farrington_noufaily")
    assert far.period_end == as_of and far.period_start == as_of - dt.timedelta(days=6)
    assert far.observed > far.upper_bound > far.expected
    assert far.expected == pytest.approx(14.0, rel=0.35)
    assert far.p_value is not None and far.p_value < 0.005
    # on the quiet series nothing reaches Farrington's 0.5 % level
    assert not any(a.key == ("q1", "streetlight") and a.method.startswith("far") for a in alarms)
