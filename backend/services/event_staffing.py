"""Staffing suggestion for an event: agents and barriers per hour, with the reasons.

From the stored hourly risk profile (``EventProfile``) through the city's ratios
(``event_staffing.toml`` beside this module, or the file named by
``LANTERNE_EVENT_STAFFING_RULES``):

* **agents** in an hour = the larger of (a) the planned excess of incidents of the listed
  families over the normal (the expected excess, or the upper end of the 90 % interval minus
  the baseline, per ``plan_for``), divided by the incidents one agent handles in an hour,
  rounded up; and (b) the minimum for the expected attendance, from an hour before the start
  to an hour after the end;
* **barriers** = the fenced share of the place's perimeter divided by the metres one barrier
  holds, from ``hours_before`` before the start to the end, when the attendance reaches
  ``min_attendance``;
* what was **deployed at past similar events** (the profile's training events with
  ``event_resource`` rows): the median agents and barriers at the same hour from the start.

Pure arithmetic on stored numbers: nothing statistical runs in the web.
"""

from __future__ import annotations

import math
import statistics
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from backend.models import Event, EventProfile, EventResource
from backend.services.event_families import family_label

DEFAULT_RULES_PATH = Path(__file__).resolve().parent / "event_staffing.toml"


class StaffingRulesError(ValueError):
    """The staffing ratios file is missing or wrong."""


@dataclass(frozen=True)
class StaffingRules:
    """The city's ratios (see ``event_staffing.toml``)."""

    families: tuple[str, ...]
    zones: tuple[str, ...]
    incidents_per_agent_hour: float
    plan_for: str
    mention_from: float
    minimum_hours_before: int
    minimum_hours_after: int
    minimum: tuple[tuple[int, int], ...]  # (attendance threshold, agents), ascending
    barrier_min_attendance: int
    metres_per_barrier: float
    share_of_perimeter: float
    barrier_hours_before: int

    def minimum_agents(self, attendance: int | None) -> int:
        """The minimum agents for an attendance (the largest threshold reached)."""
        agents = 0
        for threshold, value in self.minimum:
            if (attendance or 0) >= threshold:
                agents = value
        return agents


def parse_rules(data: dict[str, Any], origin: str) -> StaffingRules:
    """Check and build the rules from a parsed TOML document."""
    try:
        agents, barriers = data["agents"], data["barriers"]
        rules = StaffingRules(
            families=tuple(agents["families"]),
            zones=tuple(agents.get("zones", ["inside", "ring"])),
            incidents_per_agent_hour=float(agents["incidents_per_agent_hour"]),
            plan_for=str(agents.get("plan_for", "expected")),
            mention_from=float(agents.get("mention_from", 0.5)),
            minimum_hours_before=int(agents.get("minimum_hours_before", 1)),
            minimum_hours_after=int(agents.get("minimum_hours_after", 1)),
            minimum=tuple(
                sorted((int(m["attendance"]), int(m["agents"])) for m in agents.get("minimum", []))
            ),
            barrier_min_attendance=int(barriers["min_attendance"]),
            metres_per_barrier=float(barriers["metres_per_barrier"]),
            share_of_perimeter=float(barriers["share_of_perimeter"]),
            barrier_hours_before=int(barriers.get("hours_before", 2)),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise StaffingRulesError(f"{origin}: {exc!r}") from exc
    if rules.incidents_per_agent_hour <= 0 or rules.metres_per_barrier <= 0:
        raise StaffingRulesError(f"{origin}: ratios must be positive")
    if rules.plan_for not in {"high", "expected"}:
        raise StaffingRulesError(f"{origin}: plan_for must be 'high' or 'expected'")
    if not 0 <= rules.share_of_perimeter <= 1:
        raise StaffingRulesError(f"{origin}: share_of_perimeter must be between 0 and 1")
    return rules


@lru_cache(maxsize=8)
def _load(path: str, _mtime: float) -> StaffingRules:
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise StaffingRulesError(f"{path}: {exc}") from exc
    return parse_rules(data, path)


def load_rules(path: Path | str | None = None) -> StaffingRules:
    """The rules of ``path`` (the config's ``EVENT_STAFFING_RULES``), else the shipped ones."""
    chosen = Path(path or DEFAULT_RULES_PATH)
    try:
        mtime = chosen.stat().st_mtime
    except OSError as exc:
        raise StaffingRulesError(f"{chosen}: no such staffing rules file") from exc
    return _load(str(chosen), mtime)


def _number(value: float, lang: str, digits: int = 1) -> str:
    text = f"{value:.{digits}f}"
    return text.replace(".", ",") if lang == "fr" else text


def _count(value: float) -> str:
    return str(int(round(value)))


def reason_text(
    *, hour_label: str, family: str, excess: float, low: float, high: float, lang: str
) -> str:
    """One reason, as an analyst reads it ("heure 23 : +4,2 incidents d'ordre public...")."""
    label = family_label(family, lang)
    sign = "+" if excess >= 0 else "−"
    if lang == "en":
        return (
            f"hour {hour_label}: {sign}{_number(abs(excess), lang)} expected {label} incidents "
            f"over baseline, 90 % interval {_count(low)}–{_count(high)}"
        )
    return (
        f"heure {hour_label} : {sign}{_number(abs(excess), lang)} incidents ({label}) attendus "
        f"au-dessus de la normale, intervalle à 90 % {_count(low)}–{_count(high)}"
    )


def _perimeter_m(event: Event, profile: dict[str, Any]) -> float | None:
    stored = profile.get("perimeter_m")
    if stored:
        return float(stored)
    if event.radius_m:
        return 2 * math.pi * event.radius_m
    return None


def past_deployments(session: Session, training_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """Median agents and barriers deployed at past events, by hour offset from their start."""
    if not training_ids:
        return {}
    starts = {
        e.id: e.starts_at
        for e in session.exec(select(Event).where(col(Event.id).in_(list(training_ids)))).all()
    }
    rows = session.exec(
        select(EventResource).where(col(EventResource.event_id).in_(list(training_ids)))
    ).all()
    agents: dict[int, list[int]] = {}
    barriers: dict[int, list[int]] = {}
    events: dict[int, set[int]] = {}
    for row in rows:
        start = starts.get(row.event_id)
        if start is None:
            continue
        first = _naive(start).replace(minute=0, second=0, microsecond=0)
        offset = int((_naive(row.hour) - first) / timedelta(hours=1))
        events.setdefault(offset, set()).add(row.event_id)
        if row.agents is not None:
            agents.setdefault(offset, []).append(row.agents)
        if row.barriers is not None:
            barriers.setdefault(offset, []).append(row.barriers)
    return {
        offset: {
            "events": len(ids),
            "agents": statistics.median(agents[offset]) if offset in agents else None,
            "barriers": statistics.median(barriers[offset]) if offset in barriers else None,
        }
        for offset, ids in events.items()
    }


def _naive(moment: datetime) -> datetime:
    return moment.replace(tzinfo=None) if moment.tzinfo else moment


def suggest(
    *,
    session: Session,
    event: Event,
    row: EventProfile,
    rules: StaffingRules,
    timezone: str = "Europe/Paris",
) -> dict[str, Any]:
    """Agents and barriers per hour with their reasons, and what past similar events had.

    Parameters
    ----------
    session : Session
        To read past deployments.
    event : Event
        The event.
    row : EventProfile
        Its stored profile (status ``ok``; otherwise no hour is suggested).
    rules : StaffingRules
        The city's ratios.
    timezone : str
        The hours shown in the reasons are local to this zone.

    Returns
    -------
    dict
        ``hours`` (one entry per profiled hour), the ratios used, and the totals.
    """
    profile = row.profile
    base = {
        "event_id": event.id,
        "status": row.status,
        "model_version": row.model_version,
        "fitted_at": row.fitted_at,
        "n_training": profile.get("n_training", 0),
        "rules": {
            "families": list(rules.families),
            "zones": list(rules.zones),
            "incidents_per_agent_hour": rules.incidents_per_agent_hour,
            "plan_for": rules.plan_for,
            "metres_per_barrier": rules.metres_per_barrier,
            "share_of_perimeter": rules.share_of_perimeter,
            "barrier_min_attendance": rules.barrier_min_attendance,
        },
    }
    if row.status != "ok":
        return {**base, "hours": [], "perimeter_m": None}
    zone = ZoneInfo(timezone)
    hours = [datetime.fromisoformat(h) for h in profile["hours"]]
    offsets: list[int] = profile["offsets"]
    duration = sum(1 for p in profile["phases"] if p in {"start", "during", "end"})
    attendance = event.expected_attendance
    minimum = rules.minimum_agents(attendance)
    perimeter = _perimeter_m(event, profile)
    fenced = (
        perimeter is not None
        and attendance is not None
        and attendance >= rules.barrier_min_attendance
    )
    barriers_needed = (
        math.ceil(perimeter * rules.share_of_perimeter / rules.metres_per_barrier)
        if fenced and perimeter is not None
        else 0
    )
    past = past_deployments(session, row.training_event_ids)
    selected = [
        s
        for s in profile["series"]
        if s["source"] == "incidents" and s["family"] in rules.families and s["zone"] in rules.zones
    ]
    out = []
    for i, (hour, offset) in enumerate(zip(hours, offsets, strict=True)):
        local = hour.astimezone(zone)
        label = f"{local.hour}"
        planned = 0.0
        by_family: dict[str, list[float]] = {}
        for s in selected:
            top = s["high"][i] if rules.plan_for == "high" else s["expected"][i]
            planned += max(0.0, top - s["baseline"][i])
            agg = by_family.setdefault(s["family"], [0.0, 0.0, 0.0])
            agg[0] += s["expected"][i] - s["baseline"][i]
            agg[1] += s["low"][i]
            agg[2] += s["high"][i]
        from_incidents = math.ceil(planned / rules.incidents_per_agent_hour - 1e-9)
        in_minimum = -rules.minimum_hours_before <= offset < duration + rules.minimum_hours_after
        agents = max(from_incidents, minimum if in_minimum else 0)
        barriers = barriers_needed if -rules.barrier_hours_before <= offset < duration else 0
        reasons_fr: list[str] = []
        reasons_en: list[str] = []
        for family, (excess, low, high) in sorted(by_family.items()):
            if excess >= rules.mention_from:
                for lang, bucket in (("fr", reasons_fr), ("en", reasons_en)):
                    bucket.append(
                        reason_text(
                            hour_label=label,
                            family=family,
                            excess=excess,
                            low=low,
                            high=high,
                            lang=lang,
                        )
                    )
        if in_minimum and minimum and agents == minimum and minimum > from_incidents:
            reasons_fr.append(
                f"minimum pour {attendance or 0:,} personnes attendues : {minimum} agents".replace(
                    ",", "\u202f"
                )
            )
            reasons_en.append(f"minimum for {attendance or 0:,} expected people: {minimum} agents")
        if barriers:
            reasons_fr.append(
                f"barrières : {rules.share_of_perimeter * 100:.0f} % de {perimeter:.0f} m de "
                f"périmètre, {rules.metres_per_barrier:g} m par barrière".replace(".", ",")
            )
            reasons_en.append(
                f"barriers: {rules.share_of_perimeter:.0%} of a {perimeter:.0f} m perimeter, "
                f"{rules.metres_per_barrier:g} m per barrier"
            )
        seen = past.get(offset)
        out.append(
            {
                "hour": hour,
                "local_hour": local.isoformat(),
                "offset": offset,
                "phase": profile["phases"][i],
                "agents": agents,
                "agents_from_incidents": from_incidents,
                "agents_minimum": minimum if in_minimum else 0,
                "planned_excess": round(planned, 3),
                "barriers": barriers,
                "reasons_fr": reasons_fr,
                "reasons_en": reasons_en,
                "past_events": seen["events"] if seen else 0,
                "past_agents": seen["agents"] if seen else None,
                "past_barriers": seen["barriers"] if seen else None,
            }
        )
    return {
        **base,
        "attendance": attendance,
        "perimeter_m": perimeter,
        "hours": out,
        "peak_agents": max((h["agents"] for h in out), default=0),
        "peak_barriers": max((h["barriers"] for h in out), default=0),
    }
