"""Farrington detector against R surveillance 1.20.3 on the salmNewport data."""

from __future__ import annotations

import numpy as np
import pytest

from tests.workers.signals.conftest import SALM
from workers.signals.farrington import FARRINGTON_1996, NOUFAILY_2013, farrington_flexible

pytestmark = pytest.mark.skipif(not SALM.is_dir(), reason="shared reference data not available")


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


def test_farrington_needs_history(salm: dict) -> None:
    with pytest.raises(ValueError, match="reference week"):
        farrington_flexible(salm["counts"], salm["dates"], evaluate=[60], b=4, **NOUFAILY_2013)
