"""EARS and Farrington detectors against R surveillance 1.20.3 on the salmNewport data."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from workers.signals.temporal import (
    FARRINGTON_1996,
    NOUFAILY_2013,
    EarsMethod,
    detect_temporal,
    ears,
    farrington_flexible,
)

REFERENCE = Path(__file__).resolve().parents[3] / ".." / "shared" / "reference"
SALM = REFERENCE / "surveillance_salmNewport"

pytestmark = pytest.mark.skipif(not SALM.is_dir(), reason="shared reference data not available")


def _na(value: str) -> float:
    return np.nan if value == "NA" else float(value)


@pytest.fixture(scope="module")
def salm() -> dict[str, object]:
    with (SALM / "salmNewport_germany_weekly.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    with (SALM / "salmNewport_2011_reference_outputs.csv").open() as fh:
        ref = list(csv.DictReader(fh))
    dates = [dt.date.fromisoformat(r["week_start"]) for r in rows]
    first = dates.index(dt.date.fromisoformat(ref[0]["week_start"]))
    positions = list(range(first, first + len(ref)))
    assert [str(dates[p]) for p in positions] == [r["week_start"] for r in ref]
    return {
        "dates": dates,
        "counts": np.array([float(r["observed"]) for r in rows]),
        "positions": positions,
        "ref": {k: np.array([_na(r[k]) for r in ref]) for k in ref[0] if k.endswith("_ub")},
        "alarms": {k: np.array([r[k] == "TRUE" for r in ref]) for k in ref[0] if "alarm" in k},
    }


@pytest.mark.parametrize(("method", "n_alarms"), [("C1", 6), ("C2", 8), ("C3", 6)])
def test_ears_matches_surveillance(salm: dict, method: EarsMethod, n_alarms: int) -> None:
    res = ears(salm["counts"], method, alpha=0.05)
    pos = salm["positions"]
    expected_ub = salm["ref"][f"ears_{method}_ub"]
    # absolute difference (the bounds are of order 1-50)
    np.testing.assert_allclose(res.upper_bound[pos], expected_ub, rtol=0, atol=1e-6)
    np.testing.assert_array_equal(res.alarm[pos], salm["alarms"][f"ears_{method}_alarm"])
    assert res.alarm[pos].sum() == n_alarms


@pytest.mark.parametrize(
    ("name", "settings", "n_alarms"),
    [("noufaily", NOUFAILY_2013, 8), ("farrington", FARRINGTON_1996, 14)],
)
def test_farrington_matches_surveillance(
    salm: dict, name: str, settings: dict, n_alarms: int
) -> None:
    res = farrington_flexible(
        salm["counts"], salm["dates"], evaluate=salm["positions"], b=4, w=3, alpha=0.05, **settings
    )
    expected_ub = salm["ref"][f"{name}_ub"]
    # surveillance withholds the bound (NA) when fewer than 5 cases in 4 weeks
    np.testing.assert_array_equal(np.isnan(res.upper_bound), np.isnan(expected_ub))
    np.testing.assert_allclose(res.upper_bound, expected_ub, rtol=1e-3)
    np.testing.assert_array_equal(res.alarm, salm["alarms"][f"{name}_alarm"])
    assert res.alarm.sum() == n_alarms


def test_textbook_variance_departs_from_surveillance(salm: dict) -> None:
    """The surveillance-compatible variance is what makes the original settings match."""
    res = farrington_flexible(
        salm["counts"],
        salm["dates"],
        evaluate=salm["positions"],
        b=4,
        w=3,
        alpha=0.05,
        surveillance_variance=False,
        **FARRINGTON_1996,
    )
    expected_ub = salm["ref"]["farrington_ub"]
    rel = np.nanmax(np.abs(res.upper_bound / expected_ub - 1))
    assert rel > 1e-2


def test_ears_c1_by_hand() -> None:
    counts = [2, 4, 3, 5, 1, 2, 4, 12]
    res = ears(counts, "C1", alpha=0.01)
    base = np.array(counts[:7], dtype=float)
    z = stats.norm.ppf(0.99)
    assert res.upper_bound[7] == pytest.approx(base.mean() + z * base.std(ddof=1))
    assert res.alarm[7]
    assert np.isnan(res.upper_bound[:7]).all()
    assert res.p_value[7] == pytest.approx(stats.norm.sf((12 - base.mean()) / base.std(ddof=1)))


def test_ears_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="method"):
        ears([1, 2, 3], "C4")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="baseline"):
        ears([1, 2, 3], "C1", baseline=2)


def test_farrington_needs_history(salm: dict) -> None:
    with pytest.raises(ValueError, match="reference week"):
        farrington_flexible(salm["counts"], salm["dates"], evaluate=[60], b=4, **NOUFAILY_2013)


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
