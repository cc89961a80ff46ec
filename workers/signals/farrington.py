"""The (improved) Farrington method: Farrington et al. (1996) and Noufaily et al. (2013).

:func:`farrington_flexible` is a pure function on one weekly count series: a quasi-Poisson GLM
with an optional linear trend and a 10-level seasonal factor, past outbreaks down-weighted
through Anscombe residuals, and a threshold from the negative binomial (Noufaily) or from a
2/3-power transformation with the delta method (Farrington). It reproduces the R package
``surveillance`` (``farringtonFlexible``, version 1.20.3) to the last digit on its
``salmNewport`` example, including the package's conventions where they differ from the
papers (documented where they occur, and in ``docs/signals-temporal.md``).
"""

from __future__ import annotations

import datetime as dt
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import statsmodels.api as sm
from scipy import stats

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.intp]
ThresholdMethod = Literal["delta", "nbPlugin", "muan"]
PowerTransform = Literal["none", "1/2", "2/3"]

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


def reference_dates(day: dt.date, b: int) -> list[dt.date]:
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
            refs = reference_dates(date_list[k], b)
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
