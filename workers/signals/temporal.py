"""Temporal aberration detection: EARS C1, C2, C3 and the (improved) Farrington method.

Both detectors are pure functions on one count series. They reproduce the R package
``surveillance`` (``earsC`` and ``farringtonFlexible``, version 1.20.3) to the last digit on
its ``salmNewport`` example, including the package's conventions where they differ from the
papers (they are documented where they occur, and in ``docs/signals-temporal.md``).

* :func:`ears` -- the CDC's Early Aberration Reporting System statistics (Hutwagner et al.
  2003) on daily (or any equally spaced) counts.
* :func:`farrington_flexible` -- the Farrington et al. (1996) algorithm and its improved
  version by Noufaily et al. (2013) on weekly counts: a quasi-Poisson GLM with an optional
  linear trend and a 10-level seasonal factor, past outbreaks down-weighted through Anscombe
  residuals, and a threshold from the negative binomial (Noufaily) or from a 2/3-power
  transformation with the delta method (Farrington).
* :func:`detect_temporal` -- the thin helper the daily job calls for every (area, service)
  series.
"""

from __future__ import annotations

import datetime as dt
import math
import warnings
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import statsmodels.api as sm
from numpy.lib.stride_tricks import sliding_window_view
from scipy import stats

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.intp]
EarsMethod = Literal["C1", "C2", "C3"]
ThresholdMethod = Literal["delta", "nbPlugin", "muan"]
PowerTransform = Literal["none", "1/2", "2/3"]

# surveillance's own defaults when ``alpha`` is not given to earsC (C1 and C2: 0.001, C3: 0.025).
EARS_DEFAULT_ALPHA: dict[str, float] = {"C1": 0.001, "C2": 0.001, "C3": 0.025}

#: Settings of the improved method (Noufaily et al. 2013), as in Salmon et al. (2016, JSS):
#: ten seasonal periods, outbreaks down-weighted above 2.58, the last 26 weeks left out of the
#: fit, a trend always kept when it does not extrapolate, negative binomial quantile threshold.
NOUFAILY_2013: dict[str, Any] = {
    "no_periods": 10,
    "weights_threshold": 2.58,
    "past_weeks_not_included": 26,
    "p_threshold_trend": 1.0,
    "trend": True,
    "threshold_method": "nbPlugin",
}

#: Settings of the original algorithm (Farrington et al. 1996) expressed for farringtonFlexible.
FARRINGTON_1996: dict[str, Any] = {
    "no_periods": 1,
    "weights_threshold": 1.0,
    "past_weeks_not_included": 3,
    "p_threshold_trend": 0.05,
    "trend": True,
    "threshold_method": "delta",
}


# ----------------------------------------------------------------------------------------------
# EARS
# ----------------------------------------------------------------------------------------------


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


# ----------------------------------------------------------------------------------------------
# Farrington (flexible)
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FarringtonResult:
    """Output of :func:`farrington_flexible`, one value per evaluated time point.

    Attributes
    ----------
    index
        Positions in the input series that were evaluated.
    observed
        The counts at those positions.
    expected
        The GLM's expected count ``mu0`` (``exp(eta0)`` for the negative binomial methods),
        also where the bound is withheld (surveillance masks it there; we keep it).
    upper_bound
        The threshold; NaN where fewer than ``limit54[0]`` cases were seen in the last
        ``limit54[1]`` periods (current one included) or where no model could be fitted,
        exactly as surveillance reports it.
    alarm
        surveillance's rule: enough cases, ``score > 1`` and a non-zero count.
    score
        surveillance's exceedance score ``(y - f) / (U - f)``, with ``f`` the prediction on
        the scale the threshold method uses (the response for ``"delta"``, the *linear
        predictor* for ``"nbPlugin"``/``"muan"``: a surveillance convention kept for parity).
    p_value
        Probability of a count at least as large as observed under the predictive
        distribution (normal on the power scale for ``"delta"``; negative binomial or
        Poisson for the others).
    phi
        Dispersion used for the threshold (``max(1, Pearson estimate)`` of the final fit).
    trend
        Whether the final model kept the linear time trend.
    enough_cases
        Whether the ``limit54`` rule allowed an alarm.
    """

    index: IntArray
    observed: FloatArray
    expected: FloatArray
    upper_bound: FloatArray
    alarm: BoolArray
    score: FloatArray
    p_value: FloatArray
    phi: FloatArray
    trend: BoolArray
    enough_cases: BoolArray


@dataclass
class _Fit:
    params: FloatArray
    cov: FloatArray  # scaled by the raw Pearson dispersion, as predict.glm's se.fit
    mu: FloatArray
    phi: float  # max(1, raw dispersion)
    df_resid: float
    has_trend: bool


def _years_back(day: dt.date, years: int) -> dt.date:
    """``seq(day, by = "-1 year")`` in R: same month and day, 29 Feb rolling to 1 Mar."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return dt.date(day.year - years, 3, 1)


def _reference_dates(day: dt.date, b: int) -> list[dt.date]:
    """Same calendar date 0..b years back, moved to the closest day of ``day``'s weekday."""
    out = []
    want = day.isoweekday() % 7  # R's format(, "%w"): Sunday = 0
    for i in range(b + 1):
        ref = _years_back(day, i)
        a = ref - dt.timedelta(days=(ref.isoweekday() % 7) - want)
        other = a + dt.timedelta(days=-7 if a > ref else 7)
        # ties go to the first candidate, as in surveillance
        out.append(a if abs((a - ref).days) <= abs((other - ref).days) else other)
    return out


def _season_blocks(ref_idx: Sequence[int], n: int, k: int, b: int, w: int, p: int) -> FloatArray:
    """Seasonal factor levels (surveillance's ``blocks``), NaN outside the modelled weeks.

    Windows of ``2w+1`` weeks around each past reference week (and the ``w`` weeks up to the
    current one) get level ``p``; with ``p > 1`` the weeks between two windows are cut into
    ``p - 1`` blocks of near-equal length, the first ones one week longer.
    """
    levels = np.full(n, np.nan)
    levels[k - w : k + 1] = p
    desc = sorted(ref_idx, reverse=True)  # current week first
    for i in range(1, b + 1):
        ref = desc[i]
        levels[ref - w : ref + w + 1] = p
        if p != 1:
            period = desc[i - 1] - 2 * w - 1 - ref
            if period < p - 1:
                raise ValueError("no_periods is too large for the gap between windows")
            length, rest = divmod(period, p - 1)
            lengths = [length + (1 if j < rest else 0) for j in range(p - 1)]
            start = ref + w + 1
            for j, ln in enumerate(lengths, start=1):
                levels[start : start + ln] = j
                start += ln
    return levels


def _glm(
    y: FloatArray, x: FloatArray, weights: FloatArray | None, offset: FloatArray | None
) -> Any:
    """Quasi-Poisson log-link GLM via statsmodels (IRLS; Pearson dispersion)."""
    with warnings.catch_warnings():
        # like surveillance's glmWarnings = FALSE: non-convergence is checked below instead
        warnings.simplefilter("ignore")
        model = sm.GLM(y, x, family=sm.families.Poisson(), var_weights=weights, offset=offset)
        return model.fit(scale="X2", maxiter=100, tol=1e-10)


def _hat_values(x: FloatArray, mu: FloatArray, weights: FloatArray | None) -> FloatArray:
    """Diagonal of the IRLS hat matrix (R's ``hatvalues`` for a GLM)."""
    wt = mu if weights is None else mu * weights
    q, _ = np.linalg.qr(x * np.sqrt(wt)[:, None])
    return np.asarray((q**2).sum(axis=1), dtype=np.float64)


def _fit_flexible(
    y: FloatArray,
    x_full: FloatArray,
    trend: bool,
    reweight: bool,
    weights_threshold: float,
    offset: FloatArray | None,
    surveillance_variance: bool,
) -> _Fit | None:
    """surveillance's ``algo.farrington.fitGLM.flexible``: fit, then refit with weights."""
    x = x_full if trend else np.delete(x_full, 1, axis=1)
    res = _glm(y, x, None, offset)
    if not res.converged and trend:
        trend = False
        x = np.delete(x_full, 1, axis=1)
        res = _glm(y, x, None, offset)
    if not res.converged:
        return None
    phi = max(float(res.scale), 1.0)
    if reweight:
        mu = np.asarray(res.mu, dtype=np.float64)
        h = _hat_values(x, mu, None)
        with np.errstate(divide="ignore", invalid="ignore"):
            # standardised Anscombe residuals (McCullagh and Nelder 1989, p. 38)
            s = 1.5 * (y ** (2 / 3) * mu ** (-1 / 6) - np.sqrt(mu)) / np.sqrt(phi * (1 - h))
            big = s > weights_threshold
            omega = np.where(big, s**-2.0, 1.0)
        omega = omega * (y.size / omega.sum())
        res = _glm(y, x, omega, offset)
        phi = max(float(res.scale), 1.0)
        if surveillance_variance:
            # surveillance stores the prior weights in the model's ``weights`` slot, which
            # holds the IRLS working weights (omega * mu) that summary.glm and predict.glm
            # read; its dispersion for standard errors is therefore
            # sum(omega * ((y - mu) / mu)^2) / df instead of the Pearson statistic.
            mu = np.asarray(res.mu, dtype=np.float64)
            disp = float(np.sum(omega * ((y - mu) / mu) ** 2) / res.df_resid)
        else:
            disp = float(res.scale)
    else:
        disp = float(res.scale)
    params = np.asarray(res.params, dtype=np.float64)
    cov = np.asarray(res.normalized_cov_params, dtype=np.float64) * disp
    if trend:
        return _Fit(params, cov, np.asarray(res.mu), phi, float(res.df_resid), True)
    # keep the column layout of x_full (trend coefficient 0) so predictions share one row
    full = np.insert(params, 1, 0.0)
    cov = np.insert(np.insert(cov, 1, 0.0, axis=0), 1, 0.0, axis=1)
    return _Fit(full, cov, np.asarray(res.mu), phi, float(res.df_resid), False)


def _threshold(
    method: ThresholdMethod,
    eta0: float,
    se_eta0: float,
    phi: float,
    powertrans: PowerTransform,
    alpha: float,
    y: float,
) -> tuple[float, float, float, float]:
    """Upper bound, score, p-value and expected count (surveillance's threshold functions)."""
    if method == "delta":
        mu0 = math.exp(eta0)
        se_mu0 = mu0 * se_eta0  # predict.glm(type = "response") uses the delta method
        tau = phi + se_mu0**2 / mu0
        if powertrans == "none":
            se, expo = math.sqrt(mu0 * tau), 1.0
        elif powertrans == "1/2":
            se, expo = math.sqrt(tau / 4), 0.5
        else:
            se, expo = math.sqrt(4 / 9 * mu0 ** (1 / 3) * tau), 2 / 3
        z = float(stats.norm.ppf(1 - alpha))
        base = mu0**expo + z * se
        upper = base ** (1 / expo) if base >= 0 else math.nan
        p = float(stats.norm.sf(y**expo, loc=mu0**expo, scale=se))
        score = (y - mu0) / (upper - mu0) if not math.isnan(upper) else math.nan
        return upper, score, p, mu0
    # Noufaily: negative binomial with mean mu0 and variance phi * mu0
    mu_q = (
        math.exp(eta0)
        if method == "nbPlugin"
        else math.exp(float(stats.norm.ppf(1 - alpha, loc=eta0, scale=se_eta0)))
    )
    if math.isinf(mu_q):
        return math.nan, math.nan, math.nan, math.exp(eta0)
    # negative binomial with mean mu and variance phi * mu; Poisson when phi = 1
    dist = stats.nbinom(mu_q / (phi - 1), 1 / phi) if phi > 1 else stats.poisson(mu_q)
    upper = float(dist.ppf(1 - alpha))
    p = float(dist.sf(y - 1))
    # surveillance scores against the linear predictor here; kept for parity
    score = (y - eta0) / (upper - eta0)
    return upper, score, p, math.exp(eta0)


def farrington_flexible(
    counts: npt.ArrayLike,
    dates: Sequence[dt.date] | None = None,
    *,
    evaluate: Sequence[int] | None = None,
    b: int = 5,
    w: int = 3,
    reweight: bool = True,
    weights_threshold: float = 2.58,
    alpha: float = 0.05,
    trend: bool = True,
    p_threshold_trend: float = 0.05,
    limit54: tuple[int, int] = (5, 4),
    powertrans: PowerTransform = "2/3",
    no_periods: int = 1,
    past_weeks_not_included: int | None = None,
    threshold_method: ThresholdMethod = "delta",
    population: npt.ArrayLike | None = None,
    population_offset: bool = False,
    freq: int = 52,
    surveillance_variance: bool = True,
) -> FarringtonResult:
    """Farrington's algorithm with Noufaily's improvements (surveillance's farringtonFlexible).

    For every evaluated week ``k``:

    1. *Reference data*: the same date 1..b years back (moved to the closest same weekday),
       with ``w`` weeks either side, plus the ``w`` weeks up to ``k``; with ``no_periods > 1``
       every week between two such windows also enters, in ``no_periods - 1`` seasonal blocks
       (the windows forming the last level). The ``past_weeks_not_included`` weeks before
       ``k`` (and ``k``) are dropped so that a current outbreak does not inflate its baseline.
    2. *Model*: quasi-Poisson GLM ``log mu = a + beta t + season`` fitted by statsmodels
       (IRLS), refitted with weights ``gamma s^-2`` for points whose standardised Anscombe
       residual ``s`` exceeds ``weights_threshold`` (``gamma`` rescales the weights to sum
       to n). ``phi = max(1, Pearson dispersion)``.
    3. *Trend*: kept when its t-test p-value is below ``p_threshold_trend``, ``b >= 3`` and
       the prediction does not exceed the largest reference count; otherwise the model is
       refitted (with re-weighting) without it.
    4. *Threshold*: ``"nbPlugin"`` -- the ``1 - alpha`` quantile of a negative binomial with
       mean ``mu0 = exp(eta0)`` and variance ``phi mu0`` (Poisson when ``phi = 1``);
       ``"muan"`` -- the same with ``mu0`` replaced by the ``1 - alpha`` quantile of its
       estimate; ``"delta"`` -- ``(mu0^(2/3) + z sqrt(4/9 mu0^(1/3) (phi + var(mu0)/mu0)))
       ^(3/2)`` (Farrington's 2/3-power transformation and delta method).
    5. *Alarm*: at least ``limit54[0]`` cases in the last ``limit54[1]`` weeks (current one
       included), ``score > 1`` and a non-zero count.

    Parameters
    ----------
    counts
        Weekly counts (NaN for missing weeks, which are left out of fits).
    dates
        Start dates of the weeks, 7 days apart. Reference weeks are then found by calendar
        (as surveillance does with ``epochAsDate``); without dates they are ``k - i * freq``.
    evaluate
        Positions to evaluate; by default every position with ``freq * b + w`` earlier weeks.
    b, w
        Years back, and half-width of the windows in weeks.
    reweight, weights_threshold
        Down-weight past outbreaks, above this Anscombe residual (2.58 Noufaily, 1 original).
    alpha
        One-sided level of the threshold.
    trend, p_threshold_trend
        Allow a linear trend; significance level needed to keep it (1 keeps it always).
    limit54
        ``(cases, weeks)``: no alarm with fewer cases in the last weeks.
    powertrans
        Power transformation of the ``"delta"`` threshold.
    no_periods
        Levels of the seasonal factor (1: windows only, as in Farrington 1996; 10: Noufaily).
    past_weeks_not_included
        Weeks before the current one left out of the fit (default ``w``).
    threshold_method
        ``"delta"`` (Farrington 1996), ``"nbPlugin"`` (Noufaily 2013) or ``"muan"``.
    population, population_offset
        Optional population per week used as a ``log`` offset.
    freq
        Periods per year when ``dates`` is not given.
    surveillance_variance
        Reproduce surveillance's variance of the re-weighted fit (True, the default): the
        package overwrites the fitted model's working weights with the prior weights, so the
        dispersion behind the trend test and ``var(mu0)`` is ``sum(omega (y - mu)^2 / mu^2)
        / df`` rather than the Pearson ``sum(omega (y - mu)^2 / mu) / df``. False uses the
        textbook Pearson estimate. ``phi`` in the threshold is the Pearson estimate either way.

    Returns
    -------
    FarringtonResult
        One entry per evaluated position.
    """
    y_all = np.asarray(counts, dtype=np.float64).ravel()
    n = y_all.size
    if threshold_method not in ("delta", "nbPlugin", "muan"):
        raise ValueError(f"unknown threshold_method {threshold_method!r}")
    if powertrans not in ("none", "1/2", "2/3"):
        raise ValueError(f"unknown powertrans {powertrans!r}")
    if not (limit54[0] >= 0 and limit54[1] > 0):
        raise ValueError("limit54 must be (cases >= 0, weeks > 0)")
    pwni = w if past_weeks_not_included is None else past_weeks_not_included
    if population_offset:
        if population is None:
            raise ValueError("population_offset needs a population")
        pop = np.asarray(population, dtype=np.float64).ravel()
        if pop.size != n:
            raise ValueError("population must have the length of counts")
    date_index: dict[dt.date, int] | None = None
    step_days = 7
    if dates is not None:
        if len(dates) != n:
            raise ValueError("dates must have the length of counts")
        date_list = [d if isinstance(d, dt.date) else dt.date.fromisoformat(str(d)) for d in dates]
        date_index = {d: i for i, d in enumerate(date_list)}
        if n > 1:
            step_days = (date_list[1] - date_list[0]).days
    if evaluate is None:
        evaluate = range(freq * b + w, n)
    ks = np.asarray(list(evaluate), dtype=np.intp)

    m = ks.size
    expected = np.full(m, np.nan)
    upper_bound = np.full(m, np.nan)
    score = np.full(m, np.nan)
    p_value = np.full(m, np.nan)
    phi_out = np.full(m, np.nan)
    alarm = np.zeros(m, dtype=bool)
    trend_out = np.zeros(m, dtype=bool)
    enough = np.zeros(m, dtype=bool)

    for j, k in enumerate(ks):
        k = int(k)
        if not 0 <= k < n:
            raise ValueError(f"position {k} is outside the series")
        # 1. reference weeks
        if date_index is not None:
            refs = _reference_dates(date_list[k], b)
            missing = [d for d in refs if d not in date_index]
            if missing:
                raise ValueError(
                    f"reference week {missing[-1]} is not in the series; decrease b or "
                    "evaluate later weeks"
                )
            ref_idx = [date_index[d] for d in refs]
        else:
            ref_idx = [k - i * freq for i in range(b + 1)]
        if min(ref_idx) - w < 0:
            raise ValueError(f"not enough history before position {k} for b={b}, w={w}")
        levels = _season_blocks(ref_idx, n, k, b, w, no_periods)
        used = levels.copy()
        used[max(k - pwni, 0) : k + 1] = np.nan
        idx = np.flatnonzero(~np.isnan(used) & ~np.isnan(y_all))
        y = y_all[idx]
        if date_index is not None:
            t = np.array([(date_list[i] - date_list[idx[0]]).days for i in idx]) / step_days
            t0 = (date_list[k] - date_list[idx[0]]).days / step_days
        else:
            t = idx.astype(np.float64)
            t0 = float(k)
        season = levels[idx]
        present = np.unique(season)  # sorted: the first level is R's reference level
        cols = [np.ones(idx.size), t]
        x0 = [1.0, t0]
        if no_periods != 1:
            for lev in present[1:]:
                cols.append((season == lev).astype(np.float64))
                x0.append(1.0 if lev == no_periods else 0.0)
        x_full = np.column_stack(cols)
        x_new = np.asarray(x0)
        offset = 0.0
        fit_offset: FloatArray | None = None
        if population_offset:
            fit_offset = np.log(pop[idx])
            offset = float(np.log(pop[k]))

        enough[j] = float(np.nansum(y_all[k - limit54[1] + 1 : k + 1])) >= limit54[0]
        y_now = float(y_all[k])

        if y.sum() == 0:
            # every reference count is zero: the GLM has no finite solution; the limit of
            # surveillance's output is a zero mean, a zero bound and an alarm on any count
            expected[j], phi_out[j] = 0.0, 1.0
            upper_bound[j] = 0.0 if enough[j] else np.nan
            p_value[j] = 0.0 if y_now > 0 else 1.0
            alarm[j] = bool(enough[j] and y_now > 0)
            continue

        # 2.-3. model, with the trend test
        fit = _fit_flexible(
            y, x_full, trend, reweight, weights_threshold, fit_offset, surveillance_variance
        )
        if fit is None:
            continue
        if fit.has_trend:
            eta_t = float(x_new @ fit.params) + offset
            se_t = math.sqrt(float(fit.cov[1, 1]))
            tval = fit.params[1] / se_t if se_t > 0 else math.inf
            pval = 2 * float(stats.t.sf(abs(tval), fit.df_resid))
            keep = pval < p_threshold_trend and b >= 3 and math.exp(eta_t) <= y.max()
            if not keep:
                refit = _fit_flexible(
                    y, x_full, False, reweight, weights_threshold, fit_offset, surveillance_variance
                )
                if refit is None:
                    continue
                fit = refit
        eta0 = float(x_new @ fit.params) + offset
        se_eta0 = math.sqrt(max(float(x_new @ fit.cov @ x_new), 0.0))

        # 4.-5. threshold and alarm
        upper, sc, pv, mu0 = _threshold(
            threshold_method, eta0, se_eta0, fit.phi, powertrans, alpha, y_now
        )
        expected[j] = mu0
        phi_out[j] = fit.phi
        trend_out[j] = fit.has_trend
        score[j] = sc
        p_value[j] = pv
        upper_bound[j] = upper if enough[j] else np.nan
        alarm[j] = bool(enough[j] and not math.isnan(sc) and sc > 1 and y_now != 0)

    return FarringtonResult(
        index=ks,
        observed=y_all[ks],
        expected=expected,
        upper_bound=upper_bound,
        alarm=alarm,
        score=score,
        p_value=p_value,
        phi=phi_out,
        trend=trend_out,
        enough_cases=enough,
    )


# ----------------------------------------------------------------------------------------------
# The daily job's helper
# ----------------------------------------------------------------------------------------------


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
            oldest = _reference_dates(week_starts[-1], years)[-1]
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
