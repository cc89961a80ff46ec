"""An event's hourly risk profile, from past events of its kind and its place's baseline.

``build_profile`` is pure: it takes the event, the candidate past events, and a function that
gives the counts around any event; the job (``workers.events.jobs``) feeds it from the
database, the backtest (``bench/events_backtest.py``) from the simulation.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np

from workers.events.data import (
    EventSpec,
    SeriesCounts,
    SeriesKey,
    Settings,
    baselines,
)
from workers.events.model import (
    MODEL_VERSION,
    Rows,
    fit_series,
    phase_of,
    poisson_interval,
    predict,
)

MIN_SERIES_TOTAL = 3.0
"""A series whose training events saw fewer counts than this is shown as its baseline only."""

CountsFor = Callable[[EventSpec], SeriesCounts]


def finite(value: Any) -> Any:
    """``value`` with every non-finite float (NaN, infinity) replaced by None.

    PostgreSQL's JSON refuses NaN and Infinity; a degenerate fit must not lose the profile.
    """
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite(v) for v in value]
    return value


def similar_events(
    target: EventSpec, candidates: Sequence[EventSpec], settings: Settings
) -> list[EventSpec]:
    """Past events of the same kind to learn from, the closest in size first.

    Same kind, not the event itself, and over (its last profiled hour passed) before
    ``target`` starts or before now, whichever the caller filtered; within a factor
    ``size_factor`` of its attendance when both are known, unless that leaves fewer than
    ``min_events`` (then every event of the kind). At most ``max_training_events``.
    """
    same = [e for e in candidates if e.kind == target.kind and e.id != target.id]

    def gap(e: EventSpec) -> float:
        if target.attendance and e.attendance:
            return abs(math.log(e.attendance / target.attendance))
        return math.log(settings.size_factor)  # unknown size: neither near nor far

    near = [e for e in same if gap(e) <= math.log(settings.size_factor) + 1e-9]
    chosen = near if len(near) >= settings.min_events else same
    chosen = sorted(chosen, key=lambda e: (gap(e), -e.starts_at.timestamp()))
    return chosen[: settings.max_training_events]


def reference_attendance(events: Sequence[EventSpec]) -> float:
    """The geometric mean attendance of the training events (1 when none is known)."""
    known = [e.attendance for e in events if e.attendance]
    return float(math.exp(np.mean(np.log(known)))) if known else 1.0


def _log_attendance(event: EventSpec, reference: float) -> float:
    return math.log(event.attendance / reference) if event.attendance else 0.0


def event_rows(
    event: EventSpec,
    counts: SeriesCounts,
    key: SeriesKey,
    settings: Settings,
    exclude: frozenset[datetime],
) -> tuple[list[float], list[float], list[str]]:
    """Observed counts, baselines and phases of one series over an event's hours."""
    hours = event.hours(settings)
    series = counts.get(key, {})
    own = frozenset(hours)
    base = baselines(series, hours, weeks=settings.baseline_weeks, exclude=exclude - own)
    phases = [phase_of(o, event.duration_h) for o in event.offsets(settings)]
    return [series.get(h, 0.0) for h in hours], base, phases


@dataclass
class Profile:
    """The result: ``status`` and the JSON ``data`` stored in ``EventProfile.profile``."""

    status: str
    data: dict[str, Any]


def build_profile(
    target: EventSpec,
    candidates: Sequence[EventSpec],
    counts_for: CountsFor,
    *,
    settings: Settings,
    exclude_for: Callable[[EventSpec], frozenset[datetime]] = lambda e: frozenset(),
    fitted_at: datetime | None = None,
    seed: int = 0,
) -> Profile:
    """Fit one count model per series on the training events and predict ``target``'s hours.

    Parameters
    ----------
    target : EventSpec
        The event to profile.
    candidates : sequence of EventSpec
        Past events whose outcome is known (the caller keeps only those over).
    counts_for : callable
        ``counts_for(event)`` gives the counts per series and hour around that event's place,
        from ``baseline_weeks`` weeks before it to its last profiled hour.
    settings : Settings
        Hours, ring, baseline weeks, minimum number of past events, interval level.
    exclude_for : callable
        ``exclude_for(event)`` gives the hours of other events at that place (left out of its
        baselines).
    fitted_at : datetime or None
        Stored with the result.
    seed : int
        Seed of the interval draws.

    Returns
    -------
    Profile
        ``status`` is ``"ok"`` or ``"insufficient_history"`` (with the number of past events
        found); ``data`` the JSON-ready profile.
    """
    training = similar_events(target, candidates, settings)
    hours = target.hours(settings)
    header: dict[str, Any] = {
        "model_version": MODEL_VERSION,
        "fitted_at": fitted_at.isoformat() if fitted_at else None,
        "kind": target.kind,
        "perimeter_m": target.place.perimeter_m,
        "settings": settings.to_dict(),
        "training_event_ids": [e.id for e in training],
        "n_training": len(training),
        "hours": [h.isoformat() for h in hours],
        "offsets": target.offsets(settings),
        "phases": [phase_of(o, target.duration_h) for o in target.offsets(settings)],
    }
    if len(training) < settings.min_events:
        return Profile(
            "insufficient_history", {**header, "status": "insufficient_history", "series": []}
        )
    reference = reference_attendance(training)
    target_counts = counts_for(target)
    training_counts = {e.id: counts_for(e) for e in training}
    keys = sorted(
        {k for c in training_counts.values() for k in c} | set(target_counts),
    )
    # No extrapolation in size: an event bigger (smaller) than every training event is
    # predicted as the biggest (smallest) of them.
    known = [_log_attendance(e, reference) for e in training if e.attendance]
    target_log_att = _log_attendance(target, reference)
    if known:
        target_log_att = min(max(target_log_att, min(known)), max(known))
    series_out = []
    for key in keys:
        ys: list[float] = []
        bs: list[float] = []
        ps: list[str] = []
        atts: list[float] = []
        for event in training:
            y, b, p = event_rows(
                event, training_counts[event.id], key, settings, exclude_for(event)
            )
            ys += y
            bs += b
            ps += p
            atts += [_log_attendance(event, reference)] * len(y)
        _, target_base, target_phases = event_rows(
            target, target_counts, key, settings, exclude_for(target)
        )
        base = np.asarray(target_base)
        if sum(ys) < MIN_SERIES_TOTAL:
            if base.sum() <= 0.0 and sum(ys) == 0:
                continue
            low, median, high = poisson_interval(base, settings.level)
            expected, fit_info = base, {"distribution": "baseline_only", "total": sum(ys)}
        else:
            fitted = fit_series(Rows(np.asarray(ys), np.asarray(bs), ps, np.asarray(atts)))
            pred = predict(
                fitted,
                baseline=base,
                phases=target_phases,
                log_attendance=target_log_att,
                level=settings.level,
                draws=settings.draws,
                seed=seed,
            )
            expected, median, low, high = pred.expected, pred.median, pred.low, pred.high
            fit_info = fitted.to_dict()
        source, family, zone = key
        series_out.append(
            {
                "source": source,
                "family": family,
                "zone": zone,
                "model": finite(fit_info),
                "expected": [round(float(v), 4) for v in expected],
                "median": [float(v) for v in median],
                "low": [float(v) for v in low],
                "high": [float(v) for v in high],
                "baseline": [round(float(v), 4) for v in base],
            }
        )
    return Profile(
        "ok",
        {
            **header,
            "status": "ok",
            "reference_attendance": reference,
            "attendance": target.attendance,
            "series": series_out,
        },
    )
