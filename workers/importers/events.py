"""A city's events calendar (CSV or GeoJSON) and what was deployed (a resources CSV).

The rows go through the same validate-then-commit engine as incidents (``engine.run_import``):
a file with a bad row writes nothing unless ``--skip-bad``. An event is keyed on
(source, external id); a row without an id gets a stable hash of its name, start and place, so
importing the same file twice changes nothing. The rules of an event (kinds, times, place)
are ``backend.services.events``' own, shared with the API.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session, SQLModel, col, select

from backend.db import dialect_insert, utcnow
from backend.models import Event, EventResource
from backend.services.events import (
    EVENT_KINDS,
    RESOURCE_MARGIN,
    EventError,
    check_event,
    parse_time,
)
from workers.importers.csv_files import CsvFile, check_file
from workers.importers.geojson import iter_features
from workers.importers.positions import Locator
from workers.importers.rows import (
    ImportFileError,
    Progress,
    Row,
    RowError,
    parse_number,
    row_hash,
)
from workers.importers.writers import existing_keys

REQUIRED_COLUMNS = ("name", "kind", "start", "end")
PLACE_COLUMNS = ("lat", "lon", "radius_m", "geometry", "area_codes")
OPTIONAL_COLUMNS = ("external_id", "expected_attendance", "notes")
KNOWN_COLUMNS = frozenset(REQUIRED_COLUMNS + PLACE_COLUMNS + OPTIONAL_COLUMNS)
STORED_FIELDS = (
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
HINTS = {
    "name": "give the event's name",
    "kind": f"use one of {', '.join(EVENT_KINDS)}",
    "start": "give an ISO 8601 time, e.g. 2026-05-02T21:00+02:00 (or local 2026-05-02 21:00)",
    "end": "give an end later than the start",
    "place": "give lat, lon and radius_m, or a Polygon geometry, or area_codes",
}


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _area_codes(value: Any) -> list[str]:
    """Area codes from a list, or a text separated by spaces, commas, semicolons or bars."""
    if isinstance(value, list):
        return [_text(v) for v in value if _text(v)]
    text = _text(value)
    for sep in (";", "|", ","):
        text = text.replace(sep, " ")
    return text.split()


def _optional_number(props: dict[str, Any], key: str) -> float | None:
    value = props.get(key)
    if value is None or _text(value) == "":
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return parse_number(str(value), key)


def _count(props: dict[str, Any], key: str) -> int | None:
    number = _optional_number(props, key)
    if number is None:
        return None
    if number != int(number) or number < 0:
        raise RowError(f"{key} {props[key]!r} is not a whole number of 0 or more")
    return int(number)


class EventRows:
    """Turns one calendar entry (CSV columns or GeoJSON properties) into an event's values."""

    def __init__(self, locator: Locator, tz: str) -> None:
        self.locator = locator
        self.tz = tz

    def values(
        self, props: dict[str, Any], geometry: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """The stored values of one entry, or a RowError that says which field and what to do."""
        try:
            return self._values(props, geometry)
        except EventError as exc:
            hint = HINTS.get(exc.field)
            raise RowError(f"{exc.field}: {exc.message}" + (f" ({hint})" if hint else "")) from exc

    def _values(self, props: dict[str, Any], geometry: dict[str, Any] | None) -> dict[str, Any]:
        kind = _text(props.get("kind")).lower().replace(" ", "_").replace("-", "_")
        values: dict[str, Any] = {
            "name": _text(props.get("name")),
            "kind": kind,
            "starts_at": parse_time(_text(props.get("start")), "start", self.tz),
            "ends_at": parse_time(_text(props.get("end")), "end", self.tz),
            "lat": _optional_number(props, "lat"),
            "lon": _optional_number(props, "lon"),
            "radius_m": _optional_number(props, "radius_m"),
            "geometry": geometry,
            "area_codes": _area_codes(props.get("area_codes")),
            "expected_attendance": _count(props, "expected_attendance"),
            "notes": _text(props.get("notes")) or None,
        }
        if len(values["name"]) > 300:
            raise EventError("name", "the name is longer than 300 characters")
        if values["notes"] and len(values["notes"]) > 2000:
            raise EventError("notes", "the notes are longer than 2000 characters")
        check_event(values)
        if values["lat"] is not None and values["lon"] is not None:
            self.locator.area_of(values["lat"], values["lon"])  # inside the city, or RowError
        for code in values["area_codes"]:
            self.locator.area_centroid(code)  # a known area (when areas are loaded)
        external = _text(props.get("external_id"))
        if len(external) > 128:
            raise RowError("external_id is longer than 128 characters")
        values["external_id"] = external or row_hash(
            [
                values["name"],
                values["starts_at"].isoformat(),
                values["lat"],
                values["lon"],
                values["radius_m"],
                json.dumps(geometry, sort_keys=True) if geometry else "",
                " ".join(values["area_codes"]),
            ]
        )
        return values


class EventCsv:
    """A calendar as CSV: one event a row (``geometry`` may hold a GeoJSON polygon as text)."""

    def __init__(
        self,
        path: Path,
        locator: Locator,
        *,
        tz: str,
        encoding: str | None = None,
        delimiter: str | None = None,
    ) -> None:
        self.csv = CsvFile(path, encoding=encoding, delimiter=delimiter)
        self.size = self.csv.size
        self.name = path.name
        self.skipped: Counter[str] = Counter()
        self.parser = EventRows(locator, tz)
        header = set(self.csv.header)
        missing = [c for c in REQUIRED_COLUMNS if c not in header]
        if missing:
            raise ImportFileError(
                f"{path}: the header lacks the columns {', '.join(missing)} "
                f"(found: {', '.join(self.csv.header)}; see docs/data-formats.md)"
            )
        if not header & set(PLACE_COLUMNS):
            raise ImportFileError(
                f"{path}: no place columns; give lat, lon and radius_m, or geometry, or "
                "area_codes (see docs/data-formats.md)"
            )
        unknown = sorted(header - KNOWN_COLUMNS)
        self.notes = [f"Columns ignored: {', '.join(unknown)}."] if unknown else []

    def rows(self, progress: Progress | None = None) -> Iterator[Row]:
        """Parse every row into an event, or a rejection."""
        for line, record, problem in self.csv.dict_rows(progress):
            if record is None:
                yield Row(self.name, line, reason=problem)
                continue
            try:
                geometry = None
                if _text(record.get("geometry")):
                    try:
                        geometry = json.loads(record["geometry"])
                    except ValueError as exc:
                        raise RowError(
                            "geometry: not GeoJSON text (give a Polygon as "
                            '{"type": "Polygon", "coordinates": [...]})'
                        ) from exc
                values = self.parser.values(record, geometry)
            except RowError as exc:
                yield Row(self.name, line, reason=str(exc))
                continue
            yield Row(self.name, line, values=values)


class EventGeoJson:
    """A calendar as GeoJSON: a Point (with ``radius_m``), a Polygon, or no geometry and
    ``area_codes`` in the properties."""

    def __init__(self, path: Path, locator: Locator, *, tz: str) -> None:
        self.size = check_file(path)
        self.path = path
        self.name = path.name
        self.skipped: Counter[str] = Counter()
        self.parser = EventRows(locator, tz)
        self.notes: list[str] = []

    def rows(self, progress: Progress | None = None) -> Iterator[Row]:
        """Parse every feature into an event, or a rejection."""
        try:
            for number, line, feature in iter_features(self.path, progress):
                yield self._row(number, line, feature)
        except ImportFileError as exc:
            raise ImportFileError(f"{self.path}: {exc}") from exc

    def _row(self, number: int, line: int, feature: Any) -> Row:
        if not isinstance(feature, dict) or feature.get("type") != "Feature":
            return Row(self.name, line, reason=f"feature {number} is not a GeoJSON Feature")
        props = feature.get("properties") or {}
        if not isinstance(props, dict):
            return Row(self.name, line, reason=f"feature {number}: properties is not an object")
        props = dict(props)
        geometry = feature.get("geometry")
        polygon = None
        try:
            if isinstance(geometry, dict) and geometry.get("type") == "Point":
                coords = geometry.get("coordinates")
                if not isinstance(coords, list) or len(coords) < 2:
                    raise RowError("geometry: point coordinates are not [longitude, latitude]")
                props["lon"], props["lat"] = coords[0], coords[1]
            elif geometry is not None:
                polygon = geometry
            if "external_id" not in props and feature.get("id") not in (None, ""):
                props["external_id"] = feature["id"]
            values = self.parser.values(props, polygon)
        except RowError as exc:
            return Row(self.name, line, reason=f"feature {number}: {exc}")
        return Row(self.name, line, values=values)


def _same(stored: Any, new: Any) -> bool:
    if isinstance(stored, float) and isinstance(new, float):
        return abs(stored - new) < 1e-9
    return bool(stored == new)


class EventWriter:
    """Upserts events of one source; an entry identical to the stored one is left alone."""

    def __init__(self, session: Session, source: str) -> None:
        if not source or len(source) > 64:
            raise ImportFileError("--source must be a name of 1 to 64 characters")
        self.session = session
        self.source = source
        self.table = SQLModel.metadata.tables["event"]
        self.unchanged = 0

    def existing(self, keys: Sequence[str]) -> set[str]:
        """Which external ids of this source are stored."""
        return existing_keys(self.session, self.table, "source", self.source, keys)

    def write(self, batch: list[dict[str, Any]]) -> tuple[int, int, int]:
        """Insert new events, update changed ones, commit; return (inserted, updated, 0)."""
        keys = [r["external_id"] for r in batch]
        stored = {
            e.external_id: e
            for e in self.session.exec(
                select(Event).where(Event.source == self.source, col(Event.external_id).in_(keys))
            )
        }
        now = utcnow()
        rows = []
        for values in batch:
            old = stored.get(values["external_id"])
            if old is not None and all(_same(getattr(old, k), values[k]) for k in STORED_FIELDS):
                self.unchanged += 1
                continue
            rows.append(
                {
                    "source": self.source,
                    "external_id": values["external_id"],
                    "created_at": now,
                    "updated_at": now,
                    **{k: values[k] for k in STORED_FIELDS},
                }
            )
        if rows:
            stmt = dialect_insert(self.session, self.table)
            stmt = stmt.on_conflict_do_update(
                index_elements=["source", "external_id"],
                set_={name: stmt.excluded[name] for name in (*STORED_FIELDS, "updated_at")},
            )
            try:
                self.session.execute(stmt, rows)
                self.session.commit()
            except BaseException:
                self.session.rollback()
                raise
        inserted = sum(1 for r in rows if r["external_id"] not in stored)
        return inserted, len(rows) - inserted, 0


# --- resources --------------------------------------------------------------------------


def read_resources(path: Path, *, tz: str, encoding: str | None = None) -> list[Row]:
    """Parse a resources CSV (event_id, hour, agents, barriers): one Row a line."""
    table = CsvFile(path, encoding=encoding)
    missing = [c for c in ("event_id", "hour") if c not in table.header]
    if missing or not {"agents", "barriers"} & set(table.header):
        raise ImportFileError(
            f"{path}: a resources file has the columns event_id, hour, agents, barriers "
            f"(found: {', '.join(table.header)}; see docs/data-formats.md)"
        )
    rows = []
    for line, record, problem in table.dict_rows():
        if record is None:
            rows.append(Row(path.name, line, reason=problem))
            continue
        try:
            event_id = _text(record.get("event_id"))
            if not event_id:
                raise RowError("event_id is empty (give the event's external id)")
            try:
                hour = parse_time(_text(record.get("hour")), "hour", tz)
            except EventError as exc:
                raise RowError(exc.message) from exc
            if hour.minute or hour.second or hour.microsecond:
                raise RowError(f"hour {record['hour']!r} is not on the hour (e.g. 21:00)")
            agents = _count(record, "agents")
            barriers = _count(record, "barriers")
            if agents is None and barriers is None:
                raise RowError("neither agents nor barriers is given")
        except RowError as exc:
            rows.append(Row(path.name, line, reason=str(exc)))
            continue
        values = {"event_id": event_id, "hour": hour, "agents": agents, "barriers": barriers}
        rows.append(Row(path.name, line, values=values))
    if not rows:
        raise ImportFileError(f"{path}: the file has no data rows")
    return rows


def resolve_resources(*, session: Session, source: str, rows: list[Row]) -> list[Row]:
    """Match each resource row to its event (by external id); reject unknown or far hours."""
    ids = sorted({r.values["event_id"] for r in rows if r.values is not None})
    events = {
        e.external_id: e
        for e in session.exec(
            select(Event).where(Event.source == source, col(Event.external_id).in_(ids))
        )
    }
    out = []
    for row in rows:
        if row.values is None:
            out.append(row)
            continue
        event = events.get(row.values["event_id"])
        if event is None:
            out.append(
                Row(
                    row.file,
                    row.line,
                    reason=f"event_id {row.values['event_id']!r}: no event of source "
                    f"{source!r} has this external id",
                )
            )
            continue
        hour = row.values["hour"]
        if not (event.starts_at - RESOURCE_MARGIN <= hour <= event.ends_at + RESOURCE_MARGIN):
            out.append(
                Row(
                    row.file,
                    row.line,
                    reason=f"hour {hour.isoformat()} is more than 12 hours away from the "
                    f"event {event.external_id!r}",
                )
            )
            continue
        out.append(Row(row.file, row.line, values={**row.values, "event_pk": event.id}))
    return out


def write_resources(*, session: Session, rows: list[Row]) -> tuple[int, int, int]:
    """Upsert resolved resource rows; return (inserted, updated, unchanged); commits."""
    table = SQLModel.metadata.tables["event_resource"]
    good = {(r.values["event_pk"], r.values["hour"]): r.values for r in rows if r.values}
    stored = {
        (res.event_id, res.hour): res
        for res in session.exec(
            select(EventResource).where(
                col(EventResource.event_id).in_(sorted({k[0] for k in good}))
            )
        )
    }
    payload = []
    inserted = unchanged = 0
    for (event_pk, hour), values in good.items():
        old = stored.get((event_pk, hour))
        if old is not None and (old.agents, old.barriers) == (values["agents"], values["barriers"]):
            unchanged += 1
            continue
        inserted += old is None
        payload.append(
            {
                "event_id": event_pk,
                "hour": hour,
                "agents": values["agents"],
                "barriers": values["barriers"],
            }
        )
    if payload:
        stmt = dialect_insert(session, table)
        stmt = stmt.on_conflict_do_update(
            index_elements=["event_id", "hour"],
            set_={"agents": stmt.excluded.agents, "barriers": stmt.excluded.barriers},
        )
        try:
            session.execute(stmt, payload)
            session.commit()
        except BaseException:
            session.rollback()
            raise
    return inserted, len(payload) - inserted, unchanged


def to_naive_local(value: datetime, tz: str) -> str:
    """A stored UTC time as the city's local time, for tables: ``2026-05-02 21:00``."""
    return value.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M")
