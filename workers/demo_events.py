"""The demo's events, official incidents and report clusters (``lanterne demo``'s second step).

``backend/demo.py`` writes a year of reports; this step, found through the ``lanterne.demo``
entry point (the web never imports ``workers``), adds what the events, signals and linked
incidents pages need, in the same period and with known effects (docs/events.md, "Demo data"):

1. the project's own calendar, ``backend/demo_data/events.csv`` (and what was deployed,
   ``events_resources.csv``), imported by the calendar importer as source "demo", moved by
   whole weeks (weekdays kept) so that it covers the demo's year;
2. official incidents of source "demo" (police logbook, transport, hospital, road accidents,
   lighting outages) with a baseline by hour of day, plus an excess in and around events'
   places and hours, by kind of event and per attendee;
3. reports caused by events (noise, litter, public order...) and a few clusters of reports in
   the last days, so that ``signals detect`` finds signals;
4. incidents next to some reports, so that reports get linked incidents (the linking rules of
   ``backend/services/linking_rules.toml``), linked at once.

Pure ``random`` with a seed: the same seed gives the same data.
"""

from __future__ import annotations

import json
import math
import random
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app
from shapely.geometry import Point, shape
from sqlmodel import Session, col, select

from backend.demo import TEXTS
from backend.jobs import DETECT_SIGNALS
from backend.models import Area, Event, Incident, Report, ReportStatus, ReportUpdate
from backend.services import assignment, event_analysis, outbox
from backend.services.areas import OutsideCityError, area_for_position
from workers.demo_calendar import SOURCE, import_calendar
from workers.importers.positions import CitySettings, Locator
from workers.importers.writers import IncidentWriter

# Baseline official incidents a day, city-wide, and their hours (weights by hour 0-23).
_NIGHT = [6, 5, 4, 3, 2, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 3, 3, 4, 5, 6, 7, 7]
_DAY = [1, 1, 1, 1, 1, 2, 3, 6, 8, 6, 5, 5, 6, 5, 5, 6, 7, 8, 7, 5, 3, 2, 2, 1]
_EVENING = [3, 2, 2, 1, 1, 1, 1, 2, 3, 3, 3, 4, 4, 4, 4, 4, 5, 5, 6, 6, 6, 5, 4, 4]
BASELINE: dict[str, tuple[float, list[int]]] = {
    "main_courante:tapage": (6.0, _NIGHT),
    "main_courante:rixe": (3.0, _NIGHT),
    "main_courante:degradation": (3.0, _EVENING),
    "transport:incident": (4.0, _DAY),
    "hospital:admission": (5.0, _EVENING),
    "road_accident": (3.0, _DAY),
    "lighting_outage": (2.0, _DAY),
}

# The events' effects: extra incidents and reports an hour, per 10,000 attendees, from an
# hour before the start to two hours after the end ("after": only the hours after the end).
# A neighbourhood meeting has none: it is the control.
EFFECTS: dict[str, dict[str, float]] = {
    "match": {
        "main_courante:rixe": 0.8,
        "main_courante:tapage": 0.4,
        "transport:incident": 0.8,
        "hospital:admission": 0.3,
        "road_accident": 0.1,
        "report:public_order": 0.3,
        "report:noise": 0.3,
        "after:report:waste_bins": 0.8,
    },
    "concert": {
        "main_courante:tapage": 0.6,
        "main_courante:rixe": 0.4,
        "transport:incident": 0.5,
        "hospital:admission": 0.4,
        "report:noise": 1.5,
    },
    "market": {"after:report:waste_bins": 3.0, "after:report:illegal_dumping": 1.0},
    "demonstration": {
        "main_courante:degradation": 1.2,
        "main_courante:rixe": 0.8,
        "transport:incident": 2.0,
        "after:report:street_furniture": 1.0,
        "after:report:graffiti": 1.0,
    },
    "festival": {
        "main_courante:tapage": 0.8,
        "main_courante:rixe": 0.7,
        "hospital:admission": 0.8,
        "report:noise": 1.0,
        "after:report:waste_bins": 1.0,
    },
    "neighbourhood_meeting": {},
    "other": {"transport:incident": 1.0, "hospital:admission": 0.3},
}
# Attendance counted for the effects: a crowd of more than 60,000 in one place does not
# multiply incidents further, and a fair of several weeks spreads its visitors over its days.
MAX_CROWD = 60_000
EARTH_M = 6_371_000.0


@dataclass
class Place:
    """Samples positions in an event's place (disk, polygon, or its areas)."""

    sample: Callable[[random.Random], tuple[float, float]]


def _disk(lat: float, lon: float, radius: float) -> Callable[[random.Random], tuple[float, float]]:
    def sample(rng: random.Random) -> tuple[float, float]:
        r = radius * math.sqrt(rng.random())
        a = rng.uniform(0, 2 * math.pi)
        dlat = r * math.cos(a) / EARTH_M
        dlon = r * math.sin(a) / (EARTH_M * math.cos(math.radians(lat)))
        return lat + math.degrees(dlat), lon + math.degrees(dlon)

    return sample


def _polygon(geometry: dict[str, Any]) -> Callable[[random.Random], tuple[float, float]]:
    polygon = shape(geometry)
    min_x, min_y, max_x, max_y = polygon.bounds

    def sample(rng: random.Random) -> tuple[float, float]:
        for _ in range(500):
            x, y = rng.uniform(min_x, max_x), rng.uniform(min_y, max_y)
            if polygon.contains(Point(x, y)):
                return y, x
        centre = polygon.representative_point()
        return centre.y, centre.x

    return sample


def _place(event: Event, areas: dict[str, Area]) -> Place | None:
    if event.lat is not None and event.lon is not None:
        return Place(_disk(event.lat, event.lon, (event.radius_m or 200) * 1.2))
    if event.geometry is not None:
        return Place(_polygon(event.geometry))
    known = [areas[c] for c in event.area_codes if c in areas]
    if known:
        samplers = [_polygon(json.loads(a.geometry)) for a in known]
        return Place(lambda rng: rng.choice(samplers)(rng))
    return None  # areas not loaded: nowhere to put its effects


def _poisson(rng: random.Random, mean: float) -> int:
    """A Poisson draw (Knuth's method for small means, a rounded normal for large ones)."""
    if mean <= 0:
        return 0
    if mean > 30:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def _hours(start: datetime, end: datetime) -> Iterator[datetime]:
    hour = start.replace(minute=0, second=0, microsecond=0)
    while hour < end:
        yield hour
        hour += timedelta(hours=1)


class DemoData:
    """Collects the demo's incidents and reports before writing them in batches."""

    def __init__(self, session: Session, rng: random.Random, now: datetime, city: CitySettings):
        self.session = session
        self.rng = rng
        self.now = now
        self.city = city
        self.incidents: list[dict[str, Any]] = []
        self.reports = 0
        self.outside = 0

    def area(self, lat: float, lon: float) -> str | None:
        """The area of a position, or None outside the city."""
        try:
            return area_for_position(
                session=self.session,
                lat=lat,
                lon=lon,
                bbox=self.city.bbox,
                h3_resolution=self.city.h3_resolution,
            )
        except OutsideCityError:
            self.outside += 1
            return None

    def incident(self, kind: str, when: datetime, lat: float, lon: float, **attrs: Any) -> None:
        """Queue one incident (dropped when outside the city)."""
        if when >= self.now:
            return
        area = self.area(lat, lon)
        if area is None:
            return
        attributes = dict(attrs)
        if kind == "road_accident":
            night = when.astimezone(ZoneInfo("Europe/Paris")).hour in (21, 22, 23, 0, 1, 2, 3, 4, 5)
            attributes.setdefault("lum", "5" if night else "1")
            attributes.setdefault("int", self.rng.choice(["1", "1", "2", "3"]))
        self.incidents.append(
            {
                "external_id": f"demo-{len(self.incidents)}",
                "kind": kind,
                "occurred_at": when.replace(microsecond=0),
                "lat": round(lat, 6),
                "lon": round(lon, 6),
                "address": None,
                "area_code": area,
                "count": 1,
                "attributes": attributes,
            }
        )

    def report(self, code: str, when: datetime, lat: float, lon: float, tag: str) -> Report | None:
        """Add one report of a service (with its history), like the demo's own."""
        if when >= self.now:
            return None
        area = self.area(lat, lon)
        if area is None:
            return None
        _share, fr_texts, en_texts, _night = TEXTS[code]
        english = self.rng.random() < 0.15
        template = self.rng.choice(en_texts if english else fr_texts)
        text = template.format(n=self.rng.randint(2, 9), place="", place_en="").strip()
        text = " ".join(text.split())
        report = Report(
            tracking_id=secrets.token_urlsafe(18),
            description=text,
            description_public=text,
            lat=lat,
            lon=lon,
            area_code=area,
            service_code=code,
            predicted_code=code,
            confidence=round(self.rng.uniform(0.6, 0.99), 3),
            language="en" if english else "fr",
            status=ReportStatus.OPEN,
            source="demo",
            external_id=f"demo-{tag}-{self.reports}",
            created_at=when,
            updated_at=when,
        )
        history: list[tuple[ReportStatus, datetime, str | None]] = [
            (ReportStatus.RECEIVED, when, None),
            (ReportStatus.OPEN, when, None),
        ]
        fixed_at = when + timedelta(days=self.rng.expovariate(1 / 6))
        if fixed_at < self.now and self.rng.random() < 0.8:
            history.append((ReportStatus.FIXED, fixed_at, "Réparé par les services de la Ville."))
            report.status = ReportStatus.FIXED
            report.closed_at = fixed_at
            report.updated_at = fixed_at
        # Routed as intake routes every report: its team and due date (the queues show it).
        assignment.apply_routing(
            session=self.session, report=report, settings=assignment.deadline_settings()
        )
        self.session.flush()
        for status, at, note in history:
            self.session.add(
                ReportUpdate(
                    report_id=report.id or 0,
                    status=status,
                    public_note=note,
                    public_note_published=note,
                    public_note_removed=[] if note else None,
                    created_at=at,
                )
            )
        self.reports += 1
        return report


def _baseline(
    data: DemoData, first: datetime, days: int, points: list[tuple[float, float]]
) -> None:
    rng = data.rng
    for kind, (per_day, weights) in BASELINE.items():
        total = _poisson(rng, per_day * days)
        for _ in range(total):
            day = first + timedelta(days=rng.randrange(days))
            hour = rng.choices(range(24), weights=weights)[0]
            local = day.astimezone(ZoneInfo("Europe/Paris")).replace(
                hour=hour, minute=rng.randrange(60), second=rng.randrange(60)
            )
            lat, lon = rng.choice(points)
            lat, lon = _disk(lat, lon, 400)(rng)
            data.incident(kind, local.astimezone(UTC), lat, lon)


def _event_effects(data: DemoData, events: list[Event], areas: dict[str, Area]) -> None:
    rng = data.rng
    for event in events:
        effects = EFFECTS.get(event.kind, {})
        place = _place(event, areas)
        if not effects or place is None or not event.expected_attendance:
            continue
        start, end = event.starts_at, event.ends_at
        long_event = end - start > timedelta(hours=12)
        crowd = float(min(event.expected_attendance, MAX_CROWD))
        if long_event:
            crowd = min(crowd, event.expected_attendance / max(1, (end - start).days))
        for hour in _hours(start - timedelta(hours=1), end + timedelta(hours=2)):
            local_hour = hour.astimezone(ZoneInfo("Europe/Paris")).hour
            if long_event and not 10 <= local_hour < 20:
                continue
            after = hour >= end
            phase = 0.5 if hour < start else (0.7 if after else 1.0)
            for what, per_10k in effects.items():
                only_after = what.startswith("after:")
                if only_after and not after:
                    continue
                # "after:" effects come at full strength once the crowd leaves.
                mean = per_10k * crowd / 10_000 * (1.0 if only_after else phase)
                for _ in range(_poisson(rng, mean)):
                    when = hour + timedelta(seconds=rng.randrange(3600))
                    lat, lon = place.sample(rng)
                    name = what.removeprefix("after:")
                    if name.startswith("report:"):
                        data.report(name.split(":", 1)[1], when, lat, lon, "event")
                    else:
                        data.incident(name, when, lat, lon, event_id=event.external_id)


def _linked(data: DemoData, first: datetime) -> None:
    """Incidents next to some reports, so that the linking rules find them."""
    rng = data.rng
    near = {
        # service: (share of its reports, incident kind, metres, hours from, hours to)
        "streetlight": (0.3, "lighting_outage", 35.0, -100.0, 100.0),
        "public_order": (0.3, "main_courante:rixe", 150.0, -30.0, 30.0),
        "noise": (0.2, "main_courante:tapage", 150.0, -30.0, 30.0),
        "traffic_signal": (0.15, "road_accident", 35.0, 2.0, 60.0),
    }
    reports = data.session.exec(
        select(Report).where(
            col(Report.source) == "demo",
            col(Report.service_code).in_(list(near)),
            col(Report.created_at) >= first,
        )
    ).all()
    for report in reports:
        share, kind, metres, lo, hi = near[report.service_code or ""]
        if rng.random() >= share or report.lat is None or report.lon is None:
            continue
        lat, lon = _disk(report.lat, report.lon, metres)(rng)
        when = report.created_at + timedelta(hours=rng.uniform(lo, hi))
        data.incident(kind, when, lat, lon)


def _clusters(data: DemoData, points: list[tuple[float, float]]) -> int:
    """A few clusters of reports in the last days: what ``signals detect`` should find."""
    rng = data.rng
    made = 0
    # (service, reports, over how many days before yesterday, metres)
    for code, count, span, metres in (
        ("streetlight", 16, 5, 250.0),  # a cable fault: a street goes dark
        ("illegal_dumping", 12, 3, 200.0),  # a building site dumping its rubble
        ("graffiti", 10, 6, 300.0),
    ):
        lat0, lon0 = rng.choice(points)
        end = data.now - timedelta(days=1)
        for _ in range(count):
            when = end - timedelta(hours=rng.uniform(0, 24 * span))
            lat, lon = _disk(lat0, lon0, metres)(rng)
            report = data.report(code, when, lat, lon, "cluster")
            if report is not None:
                made += 1
                if code == "streetlight" and rng.random() < 0.5:
                    data.incident("lighting_outage", when + timedelta(hours=3), lat, lon)
    return made


def load_demo_events(*, session: Session, seed: int, days: int, now: datetime) -> str:
    """The demo's events, incidents and report clusters over the demo's ``days`` to ``now``.

    Parameters
    ----------
    session
        The demo's session (committed here).
    seed, days, now
        The demo's own: the same seed gives the same data.

    Returns
    -------
    str
        One summary line.
    """
    from workers.linking import link_incidents

    rng = random.Random(seed * 7919 + 17)
    config = current_app.config
    tz = str(config["PUBLIC_TIMEZONE"])
    city = CitySettings.from_config(config)
    first = (now - timedelta(days=days)).replace(hour=0, minute=0, second=0, microsecond=0)
    locator = Locator(session=session, city=city)
    n_events, n_resources = import_calendar(
        session=session, locator=locator, tz=tz, first_day=first
    )
    positions = session.exec(
        select(Report.lat, Report.lon).where(col(Report.source) == "demo")
    ).all()
    points = [(lat, lon) for lat, lon in positions if lat is not None and lon is not None]
    if not points:
        return f"{n_events} demo events ({n_resources} hours of resources); no reports to place by."
    data = DemoData(session, rng, now, city)
    areas = {a.code: a for a in session.exec(select(Area))}
    events = list(
        session.exec(
            select(Event)
            .where(Event.source == SOURCE, col(Event.starts_at) >= first)
            .order_by(col(Event.starts_at))
        )
    )
    _baseline(data, first, days, points)
    _event_effects(data, events, areas)
    clusters = _clusters(data, points)
    session.commit()
    _linked(data, first)
    writer = IncidentWriter(session, SOURCE, link=False)
    for start in range(0, len(data.incidents), 5000):
        writer.write(data.incidents[start : start + 5000])
    ids = list(session.exec(select(Incident.id).where(Incident.source == SOURCE)))
    links = link_incidents(session, [i for i in ids if i is not None])
    # A first detection as soon as the worker runs, rather than at the nightly cron's hour:
    # the signals page has something to show on the demo's first start.
    outbox.add_job(
        session=session,
        job_path=DETECT_SIGNALS.path,
        args=[],
        job_id=f"detect-signals-demo-{now:%Y%m%d}",
        queue=DETECT_SIGNALS.queue,
    )
    # Every demo event's hourly profile (and, for past ones, observed against expected), so
    # that the events pages show their analysis on the first start; low-priority queue.
    for event_id in session.exec(select(Event.id).where(Event.source == SOURCE)):
        if event_id is not None:
            event_analysis.queue_profile(session, event_id)
    session.commit()
    return (
        f"{n_events} demo events ({n_resources} hours of resources), "
        f"{len(data.incidents)} demo incidents, {data.reports} more reports (around events, "
        f"and {clusters} in 3 recent clusters), {len(links)} report-incident links."
    )
