"""EARS C1, C2 and C3: the CDC's Early Aberration Reporting System (Hutwagner et al. 2003).

:func:`ears` is a pure function on one daily (or any equally spaced) count series. It
reproduces the R package ``surveillance`` (``earsC``, version 1.20.3) to the last digit on its
``salmNewport`` example, including the package's conventions where they differ from the
papers (documented where they occur, and in ``docs/signals-temporal.md``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import sliding_window_view
from scipy import stats

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
EarsMethod = Literal["C1", "C2", "C3"]

# surveillance's own defaults when ``alpha`` is not given to earsC (C1 and C2: 0.001, C3: 0.025).
EARS_DEFAULT_ALPHA: dict[str, float] = {"C1": 0.001, "C2": 0.001, "C3": 0.025}


@dataclass(frozen=True)
class EarsResult:
    """Output of :func:`ears`, one value per time point of the input (NaN before enough history).

    Attributes
    ----------
    method, alpha, threshold
        The method, the type-I error and the normal quantile ``z = qnorm(1 - alpha)``.
    baseline_mean, baseline_sd
        Mean and standard deviation (``ddof=1``) of the reference values of each time point.
    upper_bound
        The alarm threshold on the count scale, as ``surveillance::earsC`` computes it.
    alarm
        ``observed > upper_bound`` (False where the bound is undefined).
    statistic
        C1/C2: the standardised count ``(y - mean) / max(sd, min_sigma)``; C3: the classical
        C3 statistic, the sum over the current and two previous points of ``max(0, C2 - 1)``.
    p_value
        C1/C2: the one-sided normal tail of the statistic (the approximation EARS rests on);
        NaN for C3, whose statistic has no simple reference distribution.
    """

    method: str
    alpha: float
    threshold: float
    observed: FloatArray
    baseline_mean: FloatArray
    baseline_sd: FloatArray
    upper_bound: FloatArray
    alarm: BoolArray
    statistic: FloatArray
    p_value: FloatArray


def _window_mean_sd(x: FloatArray, width: int, lag: int) -> tuple[FloatArray, FloatArray]:
    """Mean and sd of ``x[t-lag-width+1 .. t-lag]`` at every ``t`` (NaN where undefined)."""
    n = x.size
    mean = np.full(n, np.nan)
    sd = np.full(n, np.nan)
    first = width + lag - 1  # first t whose window is complete
    if n > first:
        win = sliding_window_view(x, width)  # win[i] = x[i : i + width]
        # window of t ends at t - lag, so it starts at t - lag - width + 1
        sel = win[: n - first]
        mean[first:] = sel.mean(axis=1)
        sd[first:] = sel.std(axis=1, ddof=1)
    return mean, sd


def ears(
    counts: npt.ArrayLike,
    method: EarsMethod = "C1",
    alpha: float | None = 0.05,
    baseline: int = 7,
    min_sigma: float = 0.0,
) -> EarsResult:
    """EARS C1, C2 or C3 upper bounds and alarms on an equally spaced count series.

    Reproduces ``surveillance::earsC`` (Fricker et al. 2008 notation):

    * C1 compares ``y_t`` with the mean and sd of the ``baseline`` previous values
      ``y_{t-7..t-1}``; bound ``mean + z * max(sd, min_sigma)``.
    * C2 does the same with a two-point guard band, ``y_{t-9..t-3}``.
    * C3 combines the C2 statistics ``C2_s = (y_s - mean_s) / sd_s`` of ``s = t-2, t-1``
      through ``l_s = max(0, C2_s - 1)``. ``surveillance`` sets the bound to
      ``max(0, y_t + sd_t * (z - l_{t-2} - l_{t-1}))``, so that (for ``sd_t > 0``) C3 alarms
      when ``y_t > 0`` and the two preceding lagged terms alone exceed ``z``; we reproduce this
      rule exactly, and report the classical C3 sum (which also includes ``l_t``) as the
      statistic.

    The threshold is the standard normal quantile ``z = qnorm(1 - alpha)`` (not a t quantile).

    Parameters
    ----------
    counts
        Counts at equally spaced time points (days for the CDC's design, any unit works).
    method
        ``"C1"``, ``"C2"`` or ``"C3"``.
    alpha
        One-sided type-I error; ``None`` takes surveillance's defaults (0.001 for C1 and C2,
        0.025 for C3).
    baseline
        Number of reference values (7 in EARS), at least 3.
    min_sigma
        Floor on the reference standard deviation, which avoids a zero bound (and infinite
        statistics) after a run of identical counts. 0 reproduces surveillance's default.

    Returns
    -------
    EarsResult
        Arrays aligned on ``counts``; the first ``baseline`` (C1), ``baseline + 2`` (C2) or
        ``baseline + 4`` (C3) points are NaN / no alarm.
    """
    if method not in ("C1", "C2", "C3"):
        raise ValueError(f"unknown EARS method {method!r}; expected C1, C2 or C3")
    if baseline < 3:
        raise ValueError("baseline must be at least 3")
    if min_sigma < 0:
        raise ValueError("min_sigma must be non-negative")
    a = EARS_DEFAULT_ALPHA[method] if alpha is None else float(alpha)
    if not 0.0 < a < 1.0:
        raise ValueError("alpha must lie in (0, 1)")
    y = np.asarray(counts, dtype=np.float64).ravel()
    z = float(stats.norm.ppf(1.0 - a))
    n = y.size

    with np.errstate(divide="ignore", invalid="ignore"):
        if method == "C1":
            mean, sd = _window_mean_sd(y, baseline, lag=1)
            sigma = np.maximum(sd, min_sigma)
            upper = mean + z * sigma
            statistic = (y - mean) / sigma
            p_value = stats.norm.sf(statistic)
        else:
            mean, sd = _window_mean_sd(y, baseline, lag=3)
            sigma = np.maximum(sd, min_sigma)
            c2 = (y - mean) / sigma
            if method == "C2":
                upper = mean + z * sigma
                statistic = c2
                p_value = stats.norm.sf(statistic)
            else:
                # max(0, NaN) stays NaN, as R's pmax does
                lagged = np.maximum(0.0, c2 - 1.0)
                l1 = np.full(n, np.nan)
                l2 = np.full(n, np.nan)
                l1[1:] = lagged[:-1]
                l2[2:] = lagged[:-2]
                upper = np.maximum(0.0, y + sigma * (z - (l2 + l1)))
                statistic = l2 + l1 + lagged
                p_value = np.full(n, np.nan)
                # the first defined C3 point needs two defined C2 points before it
                upper[: baseline + 4] = np.nan
                statistic[: baseline + 4] = np.nan

    alarm = np.asarray(y > upper, dtype=bool)  # NaN compares False
    return EarsResult(
        method=method,
        alpha=a,
        threshold=z,
        observed=y,
        baseline_mean=mean,
        baseline_sd=sd,
        upper_bound=upper,
        alarm=alarm,
        statistic=statistic,
        p_value=np.asarray(p_value, dtype=np.float64),
    )
