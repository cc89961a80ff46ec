"""The count model of an event's hourly risk profile: a GLM on past events, with offsets.

For one series (a family of incidents or reports, in one zone: inside the event's place or in
the ring around it), every hour of every training event is a row:

* ``y``: the count observed that hour;
* ``baseline``: the expected count of that place at the same weekday and hour without an
  event (the mean of the previous weeks, see ``workers.events.data``), entered as an
  **offset** ``log(baseline)``, so the coefficients are rate ratios over the normal;
* the **phase** of the hour relative to the event (before, first hour, during, last hour,
  first hour after, later), one indicator each (no intercept);
* ``log(attendance / reference)`` as a covariate: its slope says how the effect grows with
  the crowd (0 = not at all, 1 = proportionally).

``log E[y] = log(baseline) + beta[phase] + gamma * log(attendance / reference)``

A Poisson GLM is fitted first (statsmodels). Counts of incidents are usually overdispersed
(a fight brings three reports, not one), so a negative binomial (NB2, ``Var = mu + alpha
mu^2``, alpha estimated by maximum likelihood, ``statsmodels.discrete.NegativeBinomial``) is
fitted too and kept when the likelihood-ratio test of ``alpha = 0`` rejects at 5 % (the null
is on the boundary: half a chi-square with one degree of freedom, Self & Liang 1987).

Weak priors, as pseudo-observations (``_with_prior``): every phase gets one pseudo-count for
one expected at baseline (about a Gamma(1, 1) prior on its rate ratio, centred on "no
effect"), so a phase where past events saw nothing gets a small finite rate ratio instead of
minus infinity and a series with little data is pulled towards its baseline; the attendance
slope is held near 0 (about a normal prior of SD 0.4) because a dozen past events cannot pin
it down, and an unchecked slope blows up the forecasts of the biggest events.

**Prediction intervals** (90 % by default) are for the count that will be observed, not for
its mean: draw the coefficients (and alpha) from their estimated normal distribution
(parameter uncertainty), compute the mean of each draw, then draw a count from the fitted
distribution (Poisson, or the Gamma-Poisson mixture that is the NB); the interval runs from
about the 5th to about the 95th percentile of those counts, its whole-count ends chosen so
that its probability is the closest to 90 % (:func:`closest_interval`). The draws are seeded.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import statsmodels.api as sm
from scipy import stats
from statsmodels.discrete.discrete_model import NegativeBinomial
from statsmodels.tools.sm_exceptions import (
    ConvergenceWarning,
    HessianInversionWarning,
    PerfectSeparationWarning,
)

PHASES = ("before", "start", "during", "end", "after1", "after")
"""Phases of an hour relative to the event (see :func:`phase_of`)."""

MODEL_VERSION = "event-profile-nb-1"
"""Changes when the model's form changes, so stored profiles can be told apart."""

NB_TEST_LEVEL = 0.05
"""The negative binomial is kept when the LR test of alpha = 0 has a p-value below this."""

BASELINE_FLOOR = 1e-3
"""An expected baseline is never below this (a log offset of zero counts is minus infinity)."""


def phase_of(offset_h: int, duration_h: int) -> str:
    """The phase of hour ``offset_h`` (0 = the event's first hour) of a ``duration_h`` event.

    Parameters
    ----------
    offset_h : int
        Hours since the start (negative: before it).
    duration_h : int
        Length of the event in whole hours (at least 1).

    Returns
    -------
    str
        One of :data:`PHASES`.
    """
    duration_h = max(1, duration_h)
    if offset_h < 0:
        return "before"
    if offset_h == 0:
        return "start"
    if offset_h < duration_h - 1:
        return "during"
    if offset_h == duration_h - 1:
        return "end"
    if offset_h == duration_h:
        return "after1"
    return "after"


@dataclass(frozen=True)
class Rows:
    """The hourly rows of one series: counts, baselines, phases and log attendance ratios."""

    y: np.ndarray
    baseline: np.ndarray
    phase: Sequence[str]
    log_attendance: np.ndarray

    def __post_init__(self) -> None:
        n = len(self.y)
        if not (len(self.baseline) == len(self.phase) == len(self.log_attendance) == n):
            raise ValueError("rows must all have the same length")


def design(phases: Sequence[str], log_attendance: np.ndarray) -> np.ndarray:
    """The design matrix: one indicator per phase, then the log attendance ratio."""
    x = np.zeros((len(phases), len(PHASES) + 1))
    index = {p: i for i, p in enumerate(PHASES)}
    for row, phase in enumerate(phases):
        x[row, index[phase]] = 1.0
    x[:, -1] = log_attendance
    return x


@dataclass(frozen=True)
class FittedSeries:
    """A fitted count model of one series.

    Attributes
    ----------
    family : {"poisson", "negative_binomial"}
        The distribution kept.
    params : ndarray
        Phase log rate ratios, then the attendance slope (then alpha for the NB).
    cov : ndarray
        Their estimated covariance.
    alpha : float
        NB2 dispersion (0 for Poisson).
    dispersion : float
        Pearson chi-square over residual degrees of freedom of the Poisson fit (1 when the
        Poisson is right; much above 1 means overdispersion).
    lr_p_value : float or None
        p-value of the test of alpha = 0 (None when the NB could not be fitted).
    n_obs : int
        Hourly rows used (pseudo-observations not counted).
    total : float
        Sum of the observed counts.
    """

    family: str
    params: np.ndarray
    cov: np.ndarray
    alpha: float
    dispersion: float
    lr_p_value: float | None
    n_obs: int
    total: float
    notes: list[str] = field(default_factory=list)

    def rate_ratios(self) -> dict[str, float]:
        """Each phase's rate ratio over baseline at the reference attendance."""
        return {p: float(math.exp(self.params[i])) for i, p in enumerate(PHASES)}

    @property
    def attendance_slope(self) -> float:
        """How the log rate grows with log attendance."""
        return float(self.params[len(PHASES)])

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary of the fit."""
        return {
            "distribution": self.family,
            "rate_ratios": self.rate_ratios(),
            "attendance_slope": self.attendance_slope,
            "alpha": self.alpha,
            "dispersion": self.dispersion,
            "lr_p_value": self.lr_p_value,
            "n_obs": self.n_obs,
            "total": self.total,
            "notes": list(self.notes),
        }


SLOPE_PRIOR_WEIGHT = 3.0
"""Pseudo-counts that hold the attendance slope near 0 (about a normal prior of SD 0.4)."""


def _with_prior(rows: Rows) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Design, counts and offsets with the pseudo-observations of the priors appended.

    One pseudo-count per phase at baseline (rate ratio 1), and two rows of
    :data:`SLOPE_PRIOR_WEIGHT` counts for as many expected, at log attendance ratios +1
    and -1 and no phase: their likelihood peaks at a slope of 0.
    """
    n_phases = len(PHASES)
    x = design(
        list(rows.phase) + list(PHASES),
        np.concatenate([rows.log_attendance, np.zeros(n_phases)]),
    )
    slope_rows = np.zeros((2, n_phases + 1))
    slope_rows[:, -1] = [1.0, -1.0]
    x = np.vstack([x, slope_rows])
    y = np.concatenate(
        [
            np.asarray(rows.y, dtype=float),
            np.ones(n_phases),
            np.full(2, SLOPE_PRIOR_WEIGHT),
        ]
    )
    baseline = np.maximum(np.asarray(rows.baseline, dtype=float), BASELINE_FLOOR)
    offset = np.concatenate(
        [np.log(baseline), np.zeros(n_phases), np.full(2, np.log(SLOPE_PRIOR_WEIGHT))]
    )
    return x, y, offset


def fit_series(rows: Rows) -> FittedSeries:
    """Fit the Poisson GLM, then the NB; keep the NB when the data are overdispersed.

    Parameters
    ----------
    rows : Rows
        Every hour of every training event for one series.

    Returns
    -------
    FittedSeries
        The distribution kept, its parameters and covariance, and the diagnostics.
    """
    x, y, offset = _with_prior(rows)
    notes: list[str] = []
    with warnings.catch_warnings():
        for category in (
            ConvergenceWarning,
            HessianInversionWarning,
            PerfectSeparationWarning,
            RuntimeWarning,
        ):
            warnings.simplefilter("ignore", category)
        poisson = sm.GLM(y, x, family=sm.families.Poisson(), offset=offset).fit()
        dispersion = float(poisson.pearson_chi2 / max(1, poisson.df_resid))
        nb_result = None
        try:
            nb = NegativeBinomial(y, x, offset=offset, loglike_method="nb2")
            start = np.append(poisson.params, 0.1)
            nb_result = nb.fit(start_params=start, method="bfgs", maxiter=500, disp=0)
            if not np.all(np.isfinite(nb_result.params)) or not np.all(
                np.isfinite(nb_result.cov_params())
            ):
                nb_result = None
        except (np.linalg.LinAlgError, ValueError):
            nb_result = None
    lr_p: float | None = None
    if nb_result is not None:
        lr = max(0.0, 2.0 * (float(nb_result.llf) - float(poisson.llf)))
        lr_p = float(0.5 * stats.chi2.sf(lr, 1)) if lr > 0 else 1.0
        alpha = float(nb_result.params[-1])
        if lr_p < NB_TEST_LEVEL and alpha > 0:
            return FittedSeries(
                family="negative_binomial",
                params=np.asarray(nb_result.params, dtype=float),
                cov=np.asarray(nb_result.cov_params(), dtype=float),
                alpha=alpha,
                dispersion=dispersion,
                lr_p_value=lr_p,
                n_obs=len(rows.y),
                total=float(np.sum(rows.y)),
                notes=notes,
            )
    else:
        notes.append("negative binomial did not converge; Poisson kept")
    return FittedSeries(
        family="poisson",
        params=np.asarray(poisson.params, dtype=float),
        cov=np.asarray(poisson.cov_params(), dtype=float),
        alpha=0.0,
        dispersion=dispersion,
        lr_p_value=lr_p,
        n_obs=len(rows.y),
        total=float(np.sum(rows.y)),
        notes=notes,
    )


@dataclass(frozen=True)
class Prediction:
    """Expected counts per hour with their prediction interval."""

    expected: np.ndarray
    median: np.ndarray
    low: np.ndarray
    high: np.ndarray
    baseline: np.ndarray

    @property
    def excess(self) -> np.ndarray:
        """Expected count above the baseline (negative: below)."""
        return self.expected - self.baseline


def predict(
    fitted: FittedSeries,
    *,
    baseline: np.ndarray,
    phases: Sequence[str],
    log_attendance: float,
    level: float = 0.90,
    draws: int = 4000,
    seed: int = 0,
) -> Prediction:
    """Expected counts and prediction intervals for the hours of one event.

    Parameters
    ----------
    fitted : FittedSeries
        From :func:`fit_series`.
    baseline : ndarray
        The place's baseline count for each hour.
    phases : sequence of str
        Each hour's phase.
    log_attendance : float
        ``log(attendance / reference)`` of the event.
    level : float
        Coverage of the prediction interval.
    draws : int
        Monte Carlo draws (parameters, then counts).
    seed : int
        Seed of the draws.

    Returns
    -------
    Prediction
        ``expected`` at the estimated parameters; ``low``/``high`` the equal-tailed
        ``level`` interval of the simulated counts.
    """
    baseline = np.maximum(np.asarray(baseline, dtype=float), BASELINE_FLOOR)
    x = design(phases, np.full(len(phases), log_attendance))
    k = x.shape[1]
    beta = fitted.params[:k]
    expected = baseline * np.exp(np.clip(x @ beta, -30, 30))
    rng = np.random.default_rng(seed)
    # Parameter uncertainty: the asymptotic normal of the estimates (alpha included for NB).
    cov = (fitted.cov + fitted.cov.T) / 2
    sample = rng.multivariate_normal(fitted.params, cov, size=draws, method="eigh")
    mu = baseline[None, :] * np.exp(np.clip(sample[:, :k] @ x.T, -30, 30))
    if fitted.family == "negative_binomial":
        alpha = np.maximum(sample[:, k], 1e-8)[:, None]
        # NB2 as a Gamma-Poisson mixture: lambda ~ Gamma(shape 1/alpha, scale alpha mu).
        lam = rng.gamma(shape=1.0 / alpha, scale=alpha * mu)
    else:
        lam = mu
    counts = rng.poisson(np.minimum(lam, 1e9))
    tail = (1.0 - level) / 2.0
    low, median, high = np.quantile(counts, [tail, 0.5, 1.0 - tail], axis=0, method="inverted_cdf")
    low, high = closest_interval(counts, low, high, level)
    return Prediction(
        expected=expected,
        median=median.astype(float),
        low=low.astype(float),
        high=high.astype(float),
        baseline=baseline,
    )


def closest_interval(
    counts: np.ndarray, low: np.ndarray, high: np.ndarray, level: float
) -> tuple[np.ndarray, np.ndarray]:
    """Whole-count end points whose probability is the closest to ``level``.

    Counts are whole numbers, so the equal-tailed percentiles give an interval of probability
    at least ``level``, often far more for small counts (0-1 holds 95 % of a mean of 0.3):
    such intervals would be conservative by construction. Of the intervals with the lower end
    at the lower percentile or one above, and the upper end at the upper percentile or one
    below, the one whose simulated probability is the closest to ``level`` is kept.

    Parameters
    ----------
    counts : ndarray, shape (draws, hours)
        Simulated counts.
    low, high : ndarray, shape (hours,)
        The equal-tailed percentiles.
    level : float
        Target probability.

    Returns
    -------
    (low, high)
        The chosen end points.
    """
    best_low, best_high = low.copy(), high.copy()
    best_gap = np.full(low.shape, np.inf)
    for dl in (0, 1):
        for dh in (0, -1):
            lo, hi = low + dl, high + dh
            prob = np.mean((counts >= lo) & (counts <= hi), axis=0)
            gap = np.where(lo <= hi, np.abs(prob - level), np.inf)
            better = gap < best_gap - 1e-12
            best_low = np.where(better, lo, best_low)
            best_high = np.where(better, hi, best_high)
            best_gap = np.where(better, gap, best_gap)
    return best_low, best_high


def poisson_interval(
    mean: np.ndarray, level: float = 0.90
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Equal-tailed interval and median of Poisson counts of these means (baseline only)."""
    tail = (1.0 - level) / 2.0
    mean = np.maximum(np.asarray(mean, dtype=float), BASELINE_FLOOR)
    return (
        stats.poisson.ppf(tail, mean),
        stats.poisson.ppf(0.5, mean),
        stats.poisson.ppf(1.0 - tail, mean),
    )
