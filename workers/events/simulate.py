"""A seeded city of events and incidents whose event effects are KNOWN, to test the profile.

Four venues of Marseille hold a year of events (matches at the Vélodrome, concerts at the
Dôme, a weekly market on the Cours Julien, demonstrations on the Vieux-Port). Around each
venue, incidents of three families (public order, noise, waste) and waste reports arrive as
counts per hour:

* a **background** rate per family and zone that follows the hour of the day and the day of
  the week, times a Gamma noise of mean 1 per hour (shape :data:`NOISE_SHAPE`): counts are
  overdispersed, as real ones are;
* during an event's hours, the background is multiplied by the **true rate ratio**
  ``1 + amplitude[kind][family] * (attendance / reference[kind]) ** SIZE_EXPONENT * shape(hour)``
  (``shape`` rises through the event, peaks in the hour after the end, then fades; the ring
  gets :data:`RING_SHARE` of the effect). :func:`true_rate_ratio` gives it, so a test can
  check what the model recovered.

The effect is *not* of the model's form (it is additive in the size, smooth in the hour):
the backtest measures the model on data it was not written for.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from workers.events.data import HOUR, WEEK, EventSpec, Place, Record

NOISE_SHAPE = 3.0
"""Shape of the hourly Gamma noise (variance of the rate multiplier = 1 / shape)."""
SIZE_EXPONENT = 0.5
RING_SHARE = 0.4
RADIUS_M = 300.0
RING_M = 500.0


@dataclass(frozen=True)
class Venue:
    """Where events of one kind take place, and its background rates per hour."""

    name: str
    lat: float
    lon: float
    kind: str
    background: dict[str, float]  # family -> mean count per hour inside (ring: twice it)


VENUES = (
    Venue(
        "Vélodrome", 43.2698, 5.3959, "match", {"public_order": 0.25, "noise": 0.15, "waste": 0.2}
    ),
    Venue(
        "Le Dôme", 43.3103, 5.3947, "concert", {"public_order": 0.15, "noise": 0.25, "waste": 0.1}
    ),
    Venue(
        "Cours Julien", 43.2944, 5.3836, "market", {"public_order": 0.2, "noise": 0.1, "waste": 0.3}
    ),
    Venue(
        "Vieux-Port",
        43.2951,
        5.3740,
        "demonstration",
        {"public_order": 0.3, "noise": 0.2, "waste": 0.2},
    ),
)

# Per kind: events a year, attendance range, start hour (UTC), duration in hours, weekdays.
KINDS: dict[str, dict[str, Any]] = {
    "match": {
        "n": 26,
        "attendance": (15_000, 65_000),
        "start_h": 19,
        "duration_h": 2,
        "days": (2, 5, 6),
    },
    "concert": {
        "n": 30,
        "attendance": (2_000, 8_000),
        "start_h": 19,
        "duration_h": 3,
        "days": (3, 4, 5),
    },
    "market": {"n": 52, "attendance": (400, 3_000), "start_h": 7, "duration_h": 5, "days": (5,)},
    "demonstration": {
        "n": 18,
        "attendance": (500, 20_000),
        "start_h": 13,
        "duration_h": 3,
        "days": (1, 3, 5),
    },
}
REFERENCE = {"match": 35_000.0, "concert": 4_000.0, "market": 1_200.0, "demonstration": 4_000.0}
AMPLITUDE: dict[str, dict[str, float]] = {
    "match": {"public_order": 6.0, "noise": 3.0, "waste": 2.0, "reports:waste": 1.5},
    "concert": {"public_order": 2.0, "noise": 4.0, "waste": 1.0, "reports:waste": 1.0},
    "market": {"public_order": 0.5, "noise": 0.5, "waste": 3.0, "reports:waste": 2.0},
    "demonstration": {"public_order": 4.0, "noise": 2.0, "waste": 1.5, "reports:waste": 1.0},
}
REPORTS_BACKGROUND = 0.2  # waste reports per hour inside, every venue


def hour_shape(offset_h: int, duration_h: int) -> float:
    """How much of the effect an hour carries, by its offset from the start hour."""
    if offset_h <= -3:
        return 0.0
    if offset_h < 0:
        return 0.3 if offset_h == -1 else 0.1
    if offset_h < duration_h:
        return 0.6 + 0.4 * offset_h / max(1, duration_h - 1)
    return {0: 1.0, 1: 0.5, 2: 0.2}.get(offset_h - duration_h, 0.0)


def true_rate_ratio(
    kind: str, series: str, zone: str, offset_h: int, duration_h: int, attendance: float
) -> float:
    """The simulation's rate ratio over background (``series``: a family or ``reports:waste``)."""
    size = (attendance / REFERENCE[kind]) ** SIZE_EXPONENT
    effect = AMPLITUDE[kind][series] * size * hour_shape(offset_h, duration_h)
    return 1.0 + effect * (RING_SHARE if zone == "ring" else 1.0)


def _diurnal(hour: int, weekday: int) -> float:
    """Background rhythm: quiet at dawn, busy in the evening, more on Friday and Saturday."""
    day = (
        0.6
        + 0.8 * math.exp(-(((hour - 20) % 24 - 0) ** 2) / 30.0)
        + 0.3 * math.sin(math.pi * max(0, hour - 6) / 18)
    )
    return day * (1.25 if weekday in (4, 5) else 1.0)


@dataclass(frozen=True)
class World:
    """The simulated events (with their venue) and every record around the venues."""

    events: list[EventSpec]
    venue_of: dict[int, Venue]
    records: list[Record]
    start: datetime
    end: datetime


def _events(
    rng: np.random.Generator, start: datetime, days: int, scale: float
) -> tuple[list[EventSpec], dict[int, Venue]]:
    events: list[EventSpec] = []
    venue_of: dict[int, Venue] = {}
    for venue in VENUES:
        spec = KINDS[venue.kind]
        n = max(1, round(spec["n"] * scale))
        candidates = [
            d for d in range(days) if (start + timedelta(days=d)).weekday() in spec["days"]
        ]
        chosen = sorted(rng.choice(candidates, size=min(n, len(candidates)), replace=False))
        lo, hi = spec["attendance"]
        for d in chosen:
            begins = start + timedelta(days=int(d), hours=spec["start_h"])
            attendance = int(math.exp(rng.uniform(math.log(lo), math.log(hi))))
            event_id = len(events) + 1
            place = Place(lat=venue.lat, lon=venue.lon, radius_m=RADIUS_M, ring_m=RING_M)
            events.append(
                EventSpec(
                    id=event_id,
                    kind=venue.kind,
                    starts_at=begins,
                    ends_at=begins + spec["duration_h"] * HOUR,
                    attendance=attendance,
                    place=place,
                )
            )
            venue_of[event_id] = venue
    return events, venue_of


def _offset_m(rng: np.random.Generator, zone: str, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Random points (metres east, north) uniform in the disc or in the ring."""
    lo, hi = (
        (0.0, RADIUS_M * 0.97)
        if zone == "inside"
        else (RADIUS_M * 1.03, (RADIUS_M + RING_M) * 0.97)
    )
    r = np.sqrt(rng.uniform(lo**2, hi**2, size=n))
    theta = rng.uniform(0, 2 * math.pi, size=n)
    return r * np.cos(theta), r * np.sin(theta)


def simulate(seed: int = 0, *, days: int = 365, scale: float = 1.0) -> World:
    """A seeded year of events at the four venues and the records around them.

    Parameters
    ----------
    seed : int
        Seed of everything drawn.
    days : int
        Length of the events calendar; the background starts 9 weeks earlier, so the first
        events have their baseline weeks.
    scale : float
        Fraction of each kind's yearly number of events (smaller worlds for tests).

    Returns
    -------
    World
        Events, their venues, the records, and the period simulated.
    """
    rng = np.random.default_rng(seed)
    calendar_start = datetime(2026, 1, 5, tzinfo=UTC)
    events, venue_of = _events(rng, calendar_start, days, scale)
    start = calendar_start - 9 * WEEK
    end = calendar_start + timedelta(days=days + 1)
    n_hours = int((end - start) / HOUR)
    hours = [start + i * HOUR for i in range(n_hours)]
    rhythm = np.array([_diurnal(h.hour, h.weekday()) for h in hours])
    records: list[Record] = []
    for venue in VENUES:
        series = {**venue.background, "reports:waste": REPORTS_BACKGROUND}
        at_venue = [e for e in events if venue_of[e.id] is venue]
        for name, rate in series.items():
            for zone in ("inside", "ring"):
                mean = rate * (2.0 if zone == "ring" else 1.0) * rhythm
                ratio = np.ones(n_hours)
                for event in at_venue:
                    first = int((event.starts_at.replace(minute=0) - start) / HOUR)
                    for offset in range(-3, event.duration_h + 4):
                        i = first + offset
                        if 0 <= i < n_hours:
                            ratio[i] = true_rate_ratio(
                                event.kind,
                                name,
                                zone,
                                offset,
                                event.duration_h,
                                event.attendance or 0,
                            )
                noise = rng.gamma(NOISE_SHAPE, 1.0 / NOISE_SHAPE, size=n_hours)
                counts = rng.poisson(mean * ratio * noise)
                idx = np.repeat(np.arange(n_hours), counts)
                east, north = _offset_m(rng, zone, len(idx))
                minutes = rng.integers(0, 60, size=len(idx))
                source, family = (
                    ("reports", "waste") if name == "reports:waste" else ("incidents", name)
                )
                cos_lat = math.cos(math.radians(venue.lat))
                for k, dx, dy, mi in zip(idx, east, north, minutes, strict=True):
                    records.append(
                        Record(
                            at=hours[int(k)] + timedelta(minutes=int(mi)),
                            lat=venue.lat + dy / 110_540.0,
                            lon=venue.lon + dx / (111_320.0 * cos_lat),
                            area_code=None,
                            source=source,
                            family=family,
                        )
                    )
    return World(events=events, venue_of=venue_of, records=records, start=start, end=end)


DEMO_KINDS = {
    "public_order": "main_courante:rixe",
    "noise": "main_courante:tapage",
    "waste": "main_courante:depot",
}


def demo_incidents(
    seed: int = 0, *, days: int = 365, start: datetime | None = None
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Events and incidents for the demo, as plain rows for ``Event`` and ``Incident``.

    Parameters
    ----------
    seed : int
        Seed of the simulation.
    days : int
        Length of the events calendar.
    start : datetime or None
        Shift everything so the calendar starts at this UTC date (the demo reports' period);
        the simulation's own start otherwise.

    Returns
    -------
    (events, incidents)
        Dicts of ``Event`` fields (``external_id`` ``sim-N``, source ``demo``) and of
        ``Incident`` fields (source ``demo_events``); incident rows are the simulated incident
        records (reports are left to the demo's own generator).
    """
    world = simulate(seed, days=days)
    shift = (start - world.start - 9 * WEEK) if start else timedelta(0)
    events = [
        {
            "name": f"{world.venue_of[e.id].name} — {e.kind} {e.starts_at.date().isoformat()}",
            "kind": e.kind,
            "starts_at": e.starts_at + shift,
            "ends_at": e.ends_at + shift,
            "lat": world.venue_of[e.id].lat,
            "lon": world.venue_of[e.id].lon,
            "radius_m": RADIUS_M,
            "expected_attendance": e.attendance,
            "source": "demo",
            "external_id": f"sim-{e.id}",
        }
        for e in world.events
    ]
    incidents = [
        {
            "source": "demo_events",
            "external_id": f"sim-{seed}-{i}",
            "kind": DEMO_KINDS[r.family],
            "occurred_at": r.at + shift,
            "lat": r.lat,
            "lon": r.lon,
            "count": 1,
            "attributes": {"simulated": True},
        }
        for i, r in enumerate(world.records)
        if r.source == "incidents"
    ]
    return events, incidents
