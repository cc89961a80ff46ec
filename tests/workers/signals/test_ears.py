"""EARS detector against R surveillance 1.20.3 on the salmNewport data."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from tests.workers.signals.conftest import SALM
from workers.signals.ears import EarsMethod, ears

pytestmark = pytest.mark.skipif(not SALM.is_dir(), reason="shared reference data not available")


@pytest.mark.parametrize(("method", "n_alarms"), [("C1", 6), ("C2", 8), ("C3", 6)])
def test_ears_matches_surveillance(salm: dict, method: EarsMethod, n_alarms: int) -> None:
    res = ears(salm["counts"], method, alpha=0.05)
    pos = salm["positions"]
    expected_ub = salm["ref"][f"ears_{method}_ub"]
    # absolute difference (the bounds are of order 1-50)
    np.testing.assert_allclose(res.upper_bound[pos], expected_ub, rtol=0, atol=1e-6)
    np.testing.assert_array_equal(res.alarm[pos], salm["alarms"][f"ears_{method}_alarm"])
    assert res.alarm[pos].sum() == n_alarms


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
