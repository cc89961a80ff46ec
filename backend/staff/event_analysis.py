"""The analysis block of an event's staff page: hourly chart, staffing table, after the event.

The events page includes ``staff/events/_analysis.html`` with ``event`` in its context; the
partial calls the template global ``event_analysis(event)`` (registered by :func:`register`),
which returns the view-model built by :func:`analysis_view`. The chart is server-drawn SVG
(no script, no library) with a table of the same numbers beside it for screen readers and
for copying.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import Flask, current_app
from sqlmodel import Session

from backend.extensions import db
from backend.models import Event
from backend.services import event_analysis, event_staffing
from backend.services.event_families import family_label
from backend.staff.pages import N_, staff_language, translated

TEXT: dict[str, str] = {
    "heading": N_("Hourly risk profile"),
    "pending": N_("The profile of this event is being computed; reload the page shortly."),
    "insufficient": N_(
        "Not enough past events of this kind: %(n)s (at least %(min)s are needed). "
        "No figure is given rather than a made-up one."
    ),
    "stale": N_("The event changed after this profile was computed; a new one is on its way."),
    "fitted": N_("Model %(version)s, fitted on %(n)s past events on %(date)s."),
    "chart_desc": N_(
        "Bars: expected count per hour; shaded band: 90 % prediction interval; line: "
        "baseline (same place, weekday and hour, no event); dots: observed."
    ),
    "incidents": N_("incidents"),
    "reports": N_("reports"),
    "inside": N_("in the place"),
    "ring": N_("around it"),
    "hour": N_("Hour"),
    "expected": N_("Expected"),
    "interval": N_("Interval (90 %)"),
    "baseline": N_("Baseline"),
    "observed": N_("Observed"),
    "table": N_("The numbers of the chart"),
    "staffing": N_("Staffing suggestion"),
    "agents": N_("Agents"),
    "barriers": N_("Barriers"),
    "reasons": N_("Why"),
    "past": N_("Past similar events (median)"),
    "no_past": N_("no record"),
    "ratios": N_(
        "Ratios: %(rate)s incidents per agent-hour (%(families)s), %(metres)s m per barrier; "
        "the city edits them in the staffing ratios file."
    ),
    "after": N_("After the event"),
    "signal_yes": N_(
        "Weak signal: the space-time scan finds a significant cluster in the place during "
        "the event (p = %(p)s, %(obs)s observed for %(exp)s expected)."
    ),
    "signal_no": N_(
        "No weak signal: the space-time scan finds no significant cluster in the place during "
        "the event (strongest cluster p = %(p)s)."
    ),
    "scan_not_run": N_("The space-time scan could not run (too few located cases)."),
    "not_over": N_("The observed side comes once the event is over."),
    "totals": N_("Totals over the profiled hours"),
    "series": N_("Series"),
}

WIDTH = 640
HEIGHT = 200
PAD_LEFT = 36
PAD_BOTTOM = 24
PAD_TOP = 10
MAX_CHARTS = 4


def _fmt(value: float | None, lang: str, digits: int = 1) -> str:
    if value is None:
        return "–"
    text = f"{value:.{digits}f}"
    return text.replace(".", ",") if lang == "fr" else text


def _chart(
    series: dict[str, Any],
    observed: list[float] | None,
    labels: list[str],
    title: str,
) -> dict[str, Any]:
    """Coordinates of one hourly chart (the template draws them)."""
    n = len(labels)
    top = max([*series["high"], *series["expected"], *(observed or []), 1.0])
    plot_w = WIDTH - PAD_LEFT - 8
    plot_h = HEIGHT - PAD_BOTTOM - PAD_TOP
    step = plot_w / max(1, n)

    def y(value: float) -> float:
        return round(PAD_TOP + plot_h * (1 - value / top), 1)

    hours = []
    for i in range(n):
        x = PAD_LEFT + i * step
        hours.append(
            {
                "label": labels[i],
                "x": round(x + step * 0.2, 1),
                "w": round(step * 0.6, 1),
                "cx": round(x + step / 2, 1),
                "bar_y": y(series["expected"][i]),
                "bar_h": round(y(0) - y(series["expected"][i]), 1),
                "band_y": y(series["high"][i]),
                "band_h": round(y(series["low"][i]) - y(series["high"][i]), 1),
                "obs_y": y(observed[i]) if observed is not None else None,
            }
        )
    baseline = " ".join(
        f"{round(PAD_LEFT + (i + 0.5) * step, 1)},{y(b)}" for i, b in enumerate(series["baseline"])
    )
    return {
        "title": title,
        "width": WIDTH,
        "height": HEIGHT,
        "left": PAD_LEFT,
        "bottom": HEIGHT - PAD_BOTTOM,
        "top_value": round(top, 1),
        "top_y": PAD_TOP,
        "hours": hours,
        "baseline_points": baseline,
    }


def analysis_view(
    *,
    session: Session,
    event: Event,
    lang: str,
    timezone: str = "Europe/Paris",
    rules_path: str | None = None,
) -> dict[str, Any]:
    """The view-model of the analysis block for one event.

    Parameters
    ----------
    session : Session
        To read the stored profile and past deployments.
    event : Event
        The event shown.
    lang : str
        ``fr`` or ``en``.
    timezone : str
        Hours are shown local to this zone.
    rules_path : str or None
        The staffing ratios file (the shipped one when None).

    Returns
    -------
    dict
        ``status`` (``pending``, ``insufficient_history``, ``ok``), the texts, the charts,
        the tables, the staffing rows and the after-event verdict.
    """
    text = translated(TEXT, lang)
    assert event.id is not None
    row = event_analysis.stored_profile(session, event.id)
    if row is None:
        return {"status": "pending", "text": text, "message": text["pending"]}
    profile = row.profile
    view: dict[str, Any] = {
        "status": row.status,
        "text": text,
        "stale": event_analysis.is_stale(event, row),
        "fitted": text["fitted"]
        % {
            "version": row.model_version,
            "n": len(row.training_event_ids),
            "date": row.fitted_at.strftime("%Y-%m-%d"),
        },
    }
    if row.status != "ok":
        view["message"] = text["insufficient"] % {
            "n": profile.get("n_training", 0),
            "min": profile.get("settings", {}).get("min_events", "?"),
        }
        return view
    zone = ZoneInfo(timezone)
    labels = [
        f"{datetime.fromisoformat(h).astimezone(zone).hour}h" for h in profile.get("hours", [])
    ]
    observed_by_key: dict[tuple[str, str, str], list[float]] = {}
    if row.observed:
        for s in row.observed.get("series", []):
            observed_by_key[(s["source"], s["family"], s["zone"])] = s["observed"]

    def name(s: dict[str, Any]) -> str:
        return (
            f"{family_label(s['family'], lang).capitalize()} ({text[s['source']]}, "
            f"{text[s['zone']]})"
        )

    inside = [s for s in profile["series"] if s["zone"] == "inside"]
    inside.sort(key=lambda s: -(sum(s["expected"]) - sum(s["baseline"])))
    charts = []
    for s in inside[:MAX_CHARTS]:
        key = (s["source"], s["family"], s["zone"])
        seen = observed_by_key.get(key)
        chart = _chart(s, seen, labels, name(s))
        chart["rows"] = [
            {
                "hour": labels[i],
                "expected": _fmt(s["expected"][i], lang),
                "interval": f"{int(s['low'][i])}–{int(s['high'][i])}",
                "baseline": _fmt(s["baseline"][i], lang),
                "observed": _fmt(seen[i], lang, 0) if seen is not None else "–",
            }
            for i in range(len(labels))
        ]
        charts.append(chart)
    view["charts"] = charts
    view["has_observed"] = row.observed is not None
    view["totals"] = [
        {
            "name": name(s),
            "expected": _fmt(sum(s["expected"]), lang),
            "baseline": _fmt(sum(s["baseline"]), lang),
            "observed": _fmt(sum(observed_by_key[(s["source"], s["family"], s["zone"])]), lang, 0)
            if (s["source"], s["family"], s["zone"]) in observed_by_key
            else "–",
        }
        for s in profile["series"]
    ]
    rules = event_staffing.load_rules(rules_path)
    staffing = event_staffing.suggest(
        session=session, event=event, row=row, rules=rules, timezone=timezone
    )
    view["staffing"] = [
        {
            "hour": labels[i],
            "agents": h["agents"],
            "barriers": h["barriers"],
            "reasons": h["reasons_en"] if lang == "en" else h["reasons_fr"],
            "past": (
                f"{_fmt(h['past_agents'], lang, 0)} / {_fmt(h['past_barriers'], lang, 0)} "
                f"({h['past_events']})"
                if h["past_events"]
                else text["no_past"]
            ),
        }
        for i, h in enumerate(staffing["hours"])
    ]
    view["ratios"] = text["ratios"] % {
        "rate": _fmt(rules.incidents_per_agent_hour, lang),
        "families": ", ".join(family_label(f, lang) for f in rules.families),
        "metres": _fmt(rules.metres_per_barrier, lang),
    }
    if row.observed is None:
        view["after"] = text["not_over"]
    else:
        scan = row.observed.get("scan", {})
        cluster = scan.get("cluster")
        if not scan.get("ran") or not cluster:
            view["after"] = text["scan_not_run"]
        else:
            values = {
                "p": _fmt(cluster["p_value"], lang, 3),
                "obs": cluster["observed"],
                "exp": _fmt(cluster["expected"], lang),
            }
            view["after"] = text["signal_yes" if scan.get("signal") else "signal_no"] % values
            view["signal"] = bool(scan.get("signal"))
    return view


def _for_template(event: Event) -> dict[str, Any]:
    """The template global: the view-model for the current request's language."""
    return analysis_view(
        session=db.session,
        event=event,
        lang=staff_language(),
        timezone=current_app.config["PUBLIC_TIMEZONE"],
        rules_path=current_app.config.get("EVENT_STAFFING_RULES"),
    )


def register(app: Flask) -> None:
    """Make ``event_analysis(event)`` available to the staff templates."""
    app.jinja_env.globals["event_analysis"] = _for_template
