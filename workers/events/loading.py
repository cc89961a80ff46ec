"""Reading events, incidents and reports from the database into the profile's plain records."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from backend.models import Area, Event, Incident, Report, ReportStatus
from backend.services.event_families import incident_family, report_family
from workers.events.data import (
    HOUR,
    EventSpec,
    Place,
    Record,
    SeriesCounts,
    Settings,
    count_hours,
)


class EventData:
    """Specs, records and exclusions of events, read once per event (one job's cache)."""

    def __init__(self, session: Session, settings: Settings) -> None:
        self.session = session
        self.settings = settings
        self._areas: dict[str, dict[str, Any]] | None = None
        self._specs: dict[int, EventSpec] = {}
        self._counts: dict[int, SeriesCounts] = {}

    def _area_geometries(self, codes: list[str]) -> dict[str, dict[str, Any]]:
        if self._areas is None:
            self._areas = {}
        missing = [c for c in codes if c not in self._areas]
        if missing:
            rows = self.session.exec(select(Area).where(col(Area.code).in_(missing))).all()
            for area in rows:
                self._areas[area.code] = json.loads(area.geometry)
        return {c: self._areas[c] for c in codes if c in self._areas}

    def spec(self, event: Event) -> EventSpec:
        """The profile's view of an event row."""
        assert event.id is not None
        if event.id not in self._specs:
            place = Place(
                lat=event.lat,
                lon=event.lon,
                radius_m=event.radius_m,
                geometry=event.geometry,
                area_codes=list(event.area_codes or []),
                area_geometries=self._area_geometries(list(event.area_codes or [])),
                ring_m=self.settings.ring_m,
            )
            self._specs[event.id] = EventSpec(
                id=event.id,
                kind=event.kind,
                starts_at=event.starts_at,
                ends_at=max(event.ends_at, event.starts_at),
                attendance=event.expected_attendance,
                place=place,
            )
        return self._specs[event.id]

    def records(self, place: Place, lo: datetime, hi: datetime) -> list[Record]:
        """Incidents and reports of the place's box (or areas) between ``lo`` and ``hi``."""
        found: list[Record] = []
        where_incident = []
        where_report = []
        if place.bbox is not None:
            lat0, lon0, lat1, lon1 = place.bbox
            where_incident.append(
                and_(
                    col(Incident.lat).between(lat0, lat1),
                    col(Incident.lon).between(lon0, lon1),
                )
            )
            where_report.append(
                and_(col(Report.lat).between(lat0, lat1), col(Report.lon).between(lon0, lon1))
            )
        if place.area_codes:
            where_incident.append(col(Incident.area_code).in_(sorted(place.area_codes)))
            where_report.append(col(Report.area_code).in_(sorted(place.area_codes)))
        connection = self.session.connection()
        incidents = connection.execute(
            sa_select(
                col(Incident.occurred_at),
                col(Incident.lat),
                col(Incident.lon),
                col(Incident.area_code),
                col(Incident.kind),
                col(Incident.count),
            ).where(
                col(Incident.occurred_at) >= lo,
                col(Incident.occurred_at) < hi,
                or_(*where_incident),
            )
        ).all()
        for at, lat, lon, area, kind, count in incidents:
            family = incident_family(kind)
            if family:
                found.append(Record(at, lat, lon, area, "incidents", family, float(count)))
        reports = connection.execute(
            sa_select(
                col(Report.created_at),
                col(Report.lat),
                col(Report.lon),
                col(Report.area_code),
                col(Report.service_code),
            ).where(
                col(Report.created_at) >= lo,
                col(Report.created_at) < hi,
                col(Report.status).not_in([ReportStatus.REJECTED, ReportStatus.DUPLICATE]),
                or_(*where_report),
            )
        ).all()
        for at, lat, lon, area, service in reports:
            family = report_family(service)
            if family:
                found.append(Record(at, lat, lon, area, "reports", family))
        return found

    def counts_for(self, spec: EventSpec) -> SeriesCounts:
        """Counts per series and hour around the event, over its counting span."""
        if spec.id not in self._counts:
            lo, hi = spec.counting_span(self.settings)
            self._counts[spec.id] = count_hours(self.records(spec.place, lo, hi), spec.place)
        return self._counts[spec.id]

    def exclude_for(self, spec: EventSpec) -> frozenset[datetime]:
        """Hours of other events held in this event's place or ring during its span."""
        lo, hi = spec.counting_span(self.settings)
        others = self.session.exec(
            select(Event).where(
                col(Event.starts_at) < hi,
                col(Event.ends_at) >= lo - self.settings.after_h * HOUR,
                col(Event.id) != spec.id,
            )
        ).all()
        hours: set[datetime] = set()
        for other in others:
            near = bool(set(other.area_codes or []) & spec.place.area_codes) or (
                spec.place.zone(other.lat, other.lon, None) is not None
            )
            if near:
                hours.update(self.spec(other).hours(self.settings))
        return frozenset(hours)

    def candidates(self, target: Event, now: datetime) -> list[EventSpec]:
        """Past events of the same kind whose profiled hours are all over by ``now``."""
        cutoff = now - self.settings.after_h * HOUR
        rows = self.session.exec(
            select(Event).where(
                Event.kind == target.kind,
                col(Event.id) != target.id,
                col(Event.ends_at) <= cutoff,
            )
        ).all()
        return [self.spec(e) for e in rows]
