"""Behaviour of the space-time permutation scan on small synthetic cities."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pytest

from workers.signals.scan import (
    build_neighbours,
    max_temporal_window_days,
    scan_count_matrix,
    space_time_permutation_scan,
)

START = date(2024, 1, 1)


def _grid_city(seed: int, n_side: int = 6, days: int = 60, rate: float = 0.6):
    """A square grid of quartiers about 1 km apart with Poisson background counts."""
    rng = np.random.default_rng(seed)
    coords = {
        f"Q{i:02d}{j:02d}": (43.25 + 0.009 * i, 5.37 + 0.0125 * j)
        for i in range(n_side)
        for j in range(n_side)
    }
    counts = rng.poisson(rate, size=(len(coords), days))
    return coords, counts


def _records(coords: dict[str, tuple[float, float]], counts: np.ndarray):
    ids = list(coords)
    return [
        (ids[i], START + timedelta(days=int(d)), int(counts[i, d]))
        for i, d in zip(*np.nonzero(counts), strict=True)
    ]


def test_an_injected_outbreak_is_found_where_and_when_it_was_put() -> None:
    coords, counts = _grid_city(seed=1)
    nb = build_neighbours(coords)
    hot = [nb.index[q] for q in ("Q0202", "Q0203", "Q0302")]
    counts[hot, 50:54] += 4  # 48 extra cases over 4 days in 3 neighbouring quartiers
    result = scan_count_matrix(counts, nb, study_start=START, replications=199, seed=3)
    mlc = result.clusters[0]
    assert {"Q0202", "Q0203", "Q0302"} <= set(mlc.locations)
    assert len(mlc.locations) <= 6
    assert START + timedelta(days=49) <= mlc.start <= START + timedelta(days=50)
    assert START + timedelta(days=53) <= mlc.end <= START + timedelta(days=54)
    assert mlc.observed > 2 * mlc.expected
    assert mlc.p_value == pytest.approx(1 / 200)


def test_without_an_outbreak_p_values_are_not_small() -> None:
    coords, counts = _grid_city(seed=7)
    result = space_time_permutation_scan(
        _records(coords, counts),
        coords,
        study_start=START,
        study_end=START + timedelta(days=59),
        replications=99,
        seed=5,
    )
    assert result.clusters[0].p_value is not None
    assert result.clusters[0].p_value > 0.05


def test_same_seed_same_answer_and_different_seed_other_replicates() -> None:
    coords, counts = _grid_city(seed=2)
    nb = build_neighbours(coords)
    a = scan_count_matrix(counts, nb, study_start=START, replications=60, seed=11)
    b = scan_count_matrix(counts, nb, study_start=START, replications=60, seed=11)
    c = scan_count_matrix(counts, nb, study_start=START, replications=60, seed=12)
    np.testing.assert_array_equal(a.simulated_llrs, b.simulated_llrs)
    assert not np.array_equal(a.simulated_llrs, c.simulated_llrs)
    assert a.clusters == b.clusters


def test_early_stopping_runs_fewer_replications_and_keeps_the_prefix() -> None:
    coords, counts = _grid_city(seed=4)
    nb = build_neighbours(coords)
    full = scan_count_matrix(counts, nb, study_start=START, replications=400, seed=9)
    early = scan_count_matrix(
        counts, nb, study_start=START, replications=400, seed=9, early_stop=10
    )
    top = full.clusters[0].llr
    assert full.clusters[0].p_value is not None and full.clusters[0].p_value > 0.05
    assert early.replications_run < 400
    # the replicates run are the first ones of the full run, cut at the 10th exceedance
    np.testing.assert_array_equal(
        early.simulated_llrs, full.simulated_llrs[: early.replications_run]
    )
    assert np.count_nonzero(early.simulated_llrs >= top - 1e-9) == 10
    assert early.clusters[0].p_value == pytest.approx(11 / (early.replications_run + 1))


def test_prospective_clusters_end_on_the_last_day_with_a_recurrence_interval() -> None:
    coords, counts = _grid_city(seed=5, days=40)
    nb = build_neighbours(coords)
    counts[nb.index["Q0404"], 36:] += 3
    result = scan_count_matrix(
        counts, nb, study_start=START, prospective=True, max_temporal_days=7,
        replications=99, seed=1,
    )  # fmt: skip
    end = START + timedelta(days=39)
    assert all(c.end == end for c in result.clusters)
    assert all((c.end - c.start).days < 7 for c in result.clusters)
    mlc = result.clusters[0]
    assert "Q0404" in mlc.locations
    assert mlc.p_value is not None and mlc.recurrence_interval_days == pytest.approx(
        1 / mlc.p_value
    )


def test_circle_limits_are_respected() -> None:
    coords, counts = _grid_city(seed=6)
    nb = build_neighbours(coords)
    total = counts.sum()
    result = scan_count_matrix(
        counts, nb, study_start=START, max_spatial_pct=10, max_radius_km=1.5, replications=0
    )
    loc_cases = dict(zip(nb.ids, counts.sum(axis=1), strict=True))
    for cluster in result.clusters:
        assert cluster.radius_km <= 1.5
        assert sum(loc_cases[q] for q in cluster.locations) <= 0.10 * total
        assert cluster.p_value is None


def test_max_temporal_window_follows_satscan() -> None:
    assert max_temporal_window_days(24, max_temporal_pct=50, max_temporal_days=None) == 12
    assert max_temporal_window_days(25, max_temporal_pct=50, max_temporal_days=None) == 12
    assert max_temporal_window_days(365, max_temporal_pct=None, max_temporal_days=30) == 30
    assert max_temporal_window_days(10, max_temporal_pct=None, max_temporal_days=30) == 10
    with pytest.raises(ValueError, match="not both"):
        max_temporal_window_days(24, max_temporal_pct=50, max_temporal_days=3)


def test_bad_inputs_are_refused_with_a_reason() -> None:
    coords = {"A": (43.3, 5.4), "B": (43.31, 5.41)}
    day = date(2024, 1, 2)
    with pytest.raises(ValueError, match="no coordinates"):
        space_time_permutation_scan(
            [("Z", day, 1)], coords, study_start=START, study_end=day, replications=0
        )
    with pytest.raises(ValueError, match="outside the study"):
        space_time_permutation_scan(
            [("A", date(2023, 12, 31), 1)], coords, study_start=START, study_end=day,
            replications=0,
        )  # fmt: skip
    with pytest.raises(ValueError, match="secondary"):
        space_time_permutation_scan(
            [], coords, study_start=START, study_end=day, secondary="hierarchical"
        )


def test_no_cases_no_clusters() -> None:
    coords = {"A": (43.3, 5.4), "B": (43.31, 5.41)}
    result = space_time_permutation_scan(
        [], coords, study_start=START, study_end=START + timedelta(days=9)
    )
    assert result.clusters == ()
    assert result.to_dict()["clusters"] == []
