"""Events in the city: the closed list of kinds, the rules of a place, and their CRUD.

One home for what an event may be, so that the calendar import (``workers/importers/events``),
the API and the staff pages refuse the same things with the same words. Times are stored in
UTC; a calendar's local times are read in the city's time zone (``PUBLIC_TIMEZONE``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from shapely.errors import ShapelyError
from shapely.geometry import shape
from shapely.validation import explain_validity
from sqlalchemy import String, cast, delete, func
from sqlmodel import Session, col, select

from backend.db import utcnow
from backend.models import Event, EventResource
from backend.models.staff import StaffUser
from backend.services import audit, event_analysis

# The closed list of kinds (docs/events.md); the analysis learns per kind, so a typo would
# make an event of a kind of its own.
EVENT_KINDS: tuple[str, ...] = (
    "concert",
    "match",
    "market",
    "demonstration",
    "neighbourhood_meeting",
    "festival",
    "other",
)
# A point's radius: a café terrace is ~10 m, the Vélodrome's surroundings ~1.5 km.
MIN_RADIUS_M = 10.0
MAX_RADIUS_M = 5_000.0
# A fair or a Christmas market lasts weeks; a year would be a typo in the end date.
MAX_DURATION = timedelta(days=62)
MAX_ATTENDANCE = 5_000_000
# Past events are history to learn from; a year outside these is a typo.
FIRST_YEAR, LAST_YEAR = 1990, 2100
PLACE_FIELDS = ("lat", "lon", "radius_m", "geometry", "area_codes")
EDITABLE_FIELDS = (
    "name",
    "kind",
    "starts_at",
    "ends_at",
    "lat",
    "lon",
    "radius_m",
    "geometry",
    "area_codes",
    "expected_attendance",
    "notes",
)


class EventError(ValueError):
    """An event that breaks a rule; ``field`` names the field to fix."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def local_to_utc(value: datetime, tz: str, field: str = "time") -> datetime:
    """A time as UTC: an aware time converted, a naive one read as the city's local time."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo(tz))
    try:
        return value.astimezone(ZoneInfo("UTC"))
    except OverflowError as exc:  # the first or last hours of year 1 or 9999
        raise EventError(field, f"{field} {value.isoformat()} is out of range") from exc


def parse_time(text: str, field: str, tz: str) -> datetime:
    """An ISO 8601 time (``2026-05-02T21:00+02:00`` or local ``2026-05-02 21:00``) in UTC."""
    value = text.strip()
    if not value:
        raise EventError(field, f"{field} is empty; give an ISO 8601 time like 2026-05-02T21:00")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise EventError(
            field,
            f"{field} {text!r} is not an ISO 8601 time (2026-05-02T21:00+02:00, or "
            "2026-05-02 21:00 in local time)",
        ) from exc
    return local_to_utc(parsed, tz, field)


def check_times(starts_at: datetime, ends_at: datetime) -> None:
    """End after start, a plausible duration, and years a city's calendar can hold."""
    for field, value in (("start", starts_at), ("end", ends_at)):
        if not FIRST_YEAR <= value.year <= LAST_YEAR:
            raise EventError(field, f"the {field} must be between {FIRST_YEAR} and {LAST_YEAR}")
    if ends_at <= starts_at:
        raise EventError("end", "the end must come after the start")
    if ends_at - starts_at > MAX_DURATION:
        raise EventError(
            "end", f"the event lasts more than {MAX_DURATION.days} days; check the end date"
        )


def _in_degrees(lon: float, lat: float) -> bool:
    return math.isfinite(lon) and math.isfinite(lat) and -180 <= lon <= 180 and -90 <= lat <= 90


def check_geometry(geometry: Any) -> dict[str, Any]:
    """A valid GeoJSON Polygon or MultiPolygon in WGS84 degrees, returned as given."""
    if not isinstance(geometry, dict) or geometry.get("type") not in ("Polygon", "MultiPolygon"):
        kind = geometry.get("type") if isinstance(geometry, dict) else type(geometry).__name__
        raise EventError("geometry", f"the geometry must be a Polygon or MultiPolygon, not {kind}")
    try:
        polygon = shape(geometry)
    except (ValueError, TypeError, AttributeError, IndexError, KeyError, ShapelyError) as exc:
        raise EventError("geometry", f"the polygon's coordinates are not readable ({exc})") from exc
    if polygon.is_empty:
        raise EventError("geometry", "the polygon is empty")
    min_x, min_y, max_x, max_y = polygon.bounds
    if not (_in_degrees(min_x, min_y) and _in_degrees(max_x, max_y)):
        raise EventError(
            "geometry", "the polygon's coordinates are not [longitude, latitude] in degrees"
        )
    if not polygon.is_valid:
        raise EventError("geometry", f"the polygon is not valid: {explain_validity(polygon)}")
    # Only what GeoJSON defines for a geometry is kept (no foreign members).
    return {"type": geometry["type"], "coordinates": geometry["coordinates"]}


def check_place(
    *,
    lat: float | None,
    lon: float | None,
    radius_m: float | None,
    geometry: Any,
    area_codes: list[str] | None,
) -> None:
    """Exactly one kind of place: a point with a radius, a polygon, or a list of area codes."""
    kinds = [
        name
        for name, given in (
            ("a point (lat, lon, radius_m)", lat is not None or lon is not None),
            ("a polygon (geometry)", geometry is not None),
            ("areas (area_codes)", bool(area_codes)),
        )
        if given
    ]
    if not kinds and radius_m is not None:
        raise EventError("radius_m", "radius_m needs a point: give lat and lon too")
    if not kinds:
        raise EventError(
            "place", "no place: give lat, lon and radius_m, or a polygon geometry, or area_codes"
        )
    if len(kinds) > 1:
        raise EventError("place", f"give one kind of place, not {' and '.join(kinds)}")
    if lat is not None or lon is not None:
        if lat is None or lon is None:
            raise EventError("lat" if lat is None else "lon", "a point needs both lat and lon")
        if not _in_degrees(lon, lat):
            raise EventError("lat", f"({lat}, {lon}) is not a latitude, longitude in degrees")
        if radius_m is None:
            raise EventError("radius_m", "a point needs radius_m (metres around it)")
        if not (MIN_RADIUS_M <= radius_m <= MAX_RADIUS_M):
            raise EventError(
                "radius_m",
                f"radius_m {radius_m:g} is out of bounds "
                f"({MIN_RADIUS_M:g} to {MAX_RADIUS_M:g} metres)",
            )
    elif radius_m is not None:
        raise EventError("radius_m", "radius_m goes with a point only")
    if geometry is not None:
        check_geometry(geometry)


def check_event(values: dict[str, Any]) -> None:
    """Every rule of an event's fields (kind, times, place, attendance); a polygon given is
    kept as its type and coordinates only (``values`` is changed in place)."""
    name = (values.get("name") or "").strip()
    if not name:
        raise EventError("name", "the name is empty")
    if values.get("kind") not in EVENT_KINDS:
        raise EventError(
            "kind", f"kind {values.get('kind')!r} is not one of {', '.join(EVENT_KINDS)}"
        )
    check_times(values["starts_at"], values["ends_at"])
    check_place(**{k: values.get(k) for k in PLACE_FIELDS})
    if values.get("geometry") is not None:
        values["geometry"] = check_geometry(values["geometry"])
    attendance = values.get("expected_attendance")
    if attendance is not None and not (0 <= attendance <= MAX_ATTENDANCE):
        raise EventError(
            "expected_attendance", f"expected_attendance must be 0 to {MAX_ATTENDANCE:,}"
        )


def place_label(event: Event) -> str:
    """The place in a few words, for tables: ``43.2698, 5.3959 (r 800 m)``, ``polygon``..."""
    if event.lat is not None and event.lon is not None:
        return f"{event.lat:.4f}, {event.lon:.4f} (r {event.radius_m or 0:g} m)"
    if event.geometry is not None:
        return str(event.geometry.get("type", "polygon")).lower()
    return ", ".join(event.area_codes)


# --- reading ------------------------------------------------------------------------------


@dataclass(frozen=True)
class EventFilters:
    """What a list keeps (None: no filter). ``start``/``end`` keep events overlapping them."""

    kind: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    area_code: str | None = None


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _filtered(filters: EventFilters) -> Any:
    stmt = select(Event)
    if filters.kind is not None:
        stmt = stmt.where(Event.kind == filters.kind)
    if filters.start is not None:
        stmt = stmt.where(col(Event.ends_at) >= filters.start)
    if filters.end is not None:
        stmt = stmt.where(col(Event.starts_at) < filters.end)
    if filters.area_code is not None:
        # The JSON list as text holds '"code"': portable across SQLite and PostgreSQL.
        pattern = f'%"{_escape_like(filters.area_code)}"%'
        stmt = stmt.where(cast(Event.area_codes, String).like(pattern, escape="\\"))
    return stmt


def list_events(
    *,
    session: Session,
    filters: EventFilters,
    page: int = 1,
    page_size: int = 50,
    upcoming_first: bool = False,
    now: datetime | None = None,
) -> tuple[list[Event], int]:
    """One page of events by start time (or the coming ones first), and how many match."""
    stmt = _filtered(filters)
    total = int(session.exec(select(func.count()).select_from(stmt.subquery())).one())
    offset = (page - 1) * page_size
    if offset >= total:
        return [], total
    if upcoming_first:
        now = now or utcnow()
        # Coming events (not ended yet) soonest first, then past ones, latest first: a
        # city's calendar holds hundreds of events a year, so two ordered reads are cheap.
        coming = session.exec(
            stmt.where(col(Event.ends_at) >= now).order_by(col(Event.starts_at), col(Event.id))
        ).all()
        past = session.exec(
            stmt.where(col(Event.ends_at) < now).order_by(
                col(Event.starts_at).desc(), col(Event.id).desc()
            )
        ).all()
        return (list(coming) + list(past))[offset : offset + page_size], total
    rows = session.exec(
        stmt.order_by(col(Event.starts_at), col(Event.id)).offset(offset).limit(page_size)
    ).all()
    return list(rows), total


def get_event(*, session: Session, event_id: int) -> Event | None:
    """The event with this id, or None."""
    return session.get(Event, event_id)


def resources_of(*, session: Session, event_id: int) -> list[EventResource]:
    """What was deployed for an event, hour by hour."""
    return list(
        session.exec(
            select(EventResource)
            .where(EventResource.event_id == event_id)
            .order_by(col(EventResource.hour))
        )
    )


# --- writing ------------------------------------------------------------------------------


def _snapshot(event: Event) -> dict[str, Any]:
    return {
        k: (v.isoformat() if isinstance(v, datetime) else v)
        for k, v in ((k, getattr(event, k)) for k in EDITABLE_FIELDS)
    }


# Resources recorded this far before the start or after the end belong to another event.
RESOURCE_MARGIN = timedelta(hours=12)


def _delete_resources(*, session: Session, event_id: int) -> None:
    # One statement, not ORM deletes: the rows have no relationship the flush could order.
    session.execute(delete(EventResource).where(col(EventResource.event_id) == event_id))


def _replace_resources(*, session: Session, event: Event, resources: list[dict[str, Any]]) -> None:
    """Replace what an event deployed by ``resources`` (hours on the hour, near the event)."""
    hours = [r["hour"] for r in resources]
    if len(set(hours)) != len(hours):
        raise EventError("resources", "an hour appears twice in the resources")
    for hour in hours:
        if not (event.starts_at - RESOURCE_MARGIN <= hour <= event.ends_at + RESOURCE_MARGIN):
            raise EventError(
                "resources",
                f"the hour {hour.isoformat()} is more than 12 hours away from the event",
            )
    _delete_resources(session=session, event_id=event.id or 0)
    for item in resources:
        session.add(
            EventResource(
                event_id=event.id or 0,
                hour=item["hour"],
                agents=item.get("agents"),
                barriers=item.get("barriers"),
            )
        )


def create_event(*, session: Session, data: dict[str, Any], staff: StaffUser) -> Event:
    """Check and store a new event (source "staff") with its audit row; commits."""
    values: dict[str, Any] = {k: data.get(k) for k in EDITABLE_FIELDS}
    values["area_codes"] = list(values.get("area_codes") or [])
    check_event(values)
    event = Event(**values, source="staff")
    session.add(event)
    session.flush()
    if data.get("resources") is not None:
        try:
            _replace_resources(session=session, event=event, resources=data["resources"])
        except EventError:
            session.rollback()
            raise
    audit.record(
        session=session,
        actor=staff,
        action="event.created",
        target=f"event:{event.id}",
        details={"name": event.name, "kind": event.kind},
    )
    assert event.id is not None
    event_analysis.queue_profile(session, event.id)
    session.commit()
    return event


def update_event(
    *, session: Session, event: Event, data: dict[str, Any], staff: StaffUser
) -> Event:
    """Apply a partial change, check the whole event again, audit what changed; commits.

    Giving one kind of place replaces the other kinds (a point given clears a polygon).
    """
    changes = {k: v for k, v in data.items() if k in EDITABLE_FIELDS}
    merged = {k: getattr(event, k) for k in EDITABLE_FIELDS}
    if any(k in changes for k in PLACE_FIELDS):
        for key in PLACE_FIELDS:
            merged[key] = [] if key == "area_codes" else None
    merged.update(changes)
    merged["area_codes"] = list(merged.get("area_codes") or [])
    check_event(merged)
    before = _snapshot(event)
    for key, value in merged.items():
        setattr(event, key, value)
    after = _snapshot(event)
    changed = {k: {"from": before[k], "to": after[k]} for k in after if before[k] != after[k]}
    if data.get("resources") is not None:
        try:
            _replace_resources(session=session, event=event, resources=data["resources"])
        except EventError:
            session.rollback()
            raise
        changed["resources"] = {"from": None, "to": len(data["resources"])}
    if changed:
        event.updated_at = utcnow()
        session.add(event)
        audit.record(
            session=session,
            actor=staff,
            action="event.updated",
            target=f"event:{event.id}",
            details={"changed": sorted(changed)},
        )
        assert event.id is not None
        event_analysis.queue_profile(session, event.id)
        session.commit()
    return event


def delete_event(*, session: Session, event: Event, staff: StaffUser) -> None:
    """Delete an event and what it deployed, with an audit row; commits."""
    audit.record(
        session=session,
        actor=staff,
        action="event.deleted",
        target=f"event:{event.id}",
        details={"name": event.name, "kind": event.kind, "source": event.source},
    )
    _delete_resources(session=session, event_id=event.id or 0)
    session.delete(event)
    session.commit()
