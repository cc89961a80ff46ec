"""Areas: import from GeoJSON, load their population from a CSV, and locate a point in its
area with an STRtree index."""

from __future__ import annotations

import csv
import json
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h3
import shapely
from shapely.geometry import Point, shape
from shapely.geometry.base import BaseGeometry
from sqlalchemy import func
from sqlmodel import Session, col, select

from backend.models import Area


class AreaImportError(ValueError):
    """A GeoJSON file that cannot be imported; the message says where and why."""


class OutsideCityError(ValueError):
    """A position outside the city's areas (or its bounding box)."""


@dataclass
class AreaImportSummary:
    """What an areas import did."""

    created: int = 0
    updated: int = 0
    levels: set[str] = field(default_factory=set)


def read_features(path: Path) -> list[dict[str, Any]]:
    """Read the features of a GeoJSON FeatureCollection, with a clear error when it is not one."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise AreaImportError(f"{path}: no such file") from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise AreaImportError(f"{path}: not a JSON file ({exc})") from exc
    if not isinstance(data, dict) or data.get("type") != "FeatureCollection":
        raise AreaImportError(f"{path}: not a GeoJSON FeatureCollection")
    features = data.get("features")
    if not isinstance(features, list) or not features:
        raise AreaImportError(f"{path}: the FeatureCollection has no features")
    return features


def import_areas(
    *,
    session: Session,
    features: Iterable[dict[str, Any]],
    level: str,
    code_field: str,
    name_field: str,
    parent_field: str | None = None,
    population_field: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> AreaImportSummary:
    """Create or update one area per feature (keyed on its code); commit only if all are valid."""
    summary = AreaImportSummary(levels={level})
    existing = {a.code: a for a in session.exec(select(Area))}
    seen: set[str] = set()
    for index, feature in enumerate(features, start=1):
        props = feature.get("properties") or {}
        where = f"feature {index}"
        for name in (code_field, name_field, parent_field, population_field):
            if name and name not in props:
                raise AreaImportError(f"{where}: no property '{name}' (has: {sorted(props)})")
        code = str(props[code_field]).strip()
        if not code:
            raise AreaImportError(f"{where}: empty code in '{code_field}'")
        if code in seen:
            raise AreaImportError(f"{where}: code {code} appears twice in the file")
        seen.add(code)
        try:
            geom = shape(feature["geometry"])
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise AreaImportError(f"{where} ({code}): invalid geometry ({exc})") from exc
        if geom.geom_type not in ("Polygon", "MultiPolygon"):
            raise AreaImportError(f"{where} ({code}): a {geom.geom_type}, not a polygon")
        if not geom.is_valid:
            geom = shapely.make_valid(geom)
        population = None
        if population_field and props.get(population_field) not in (None, ""):
            try:
                population = int(float(props[population_field]))
            except ValueError as exc:
                raise AreaImportError(f"{where} ({code}): population is not a number") from exc
        centroid = geom.representative_point()
        values = {
            "name": str(props[name_field]),
            "level": level,
            "parent_code": str(props[parent_field]) if parent_field else None,
            "geometry": json.dumps(shapely.geometry.mapping(geom)),
            "centroid_lat": centroid.y,
            "centroid_lon": centroid.x,
        }
        if population is not None:
            values["population"] = population
        area = existing.get(code)
        if area is None:
            session.add(Area(code=code, **values))
            summary.created += 1
        else:
            for key, value in values.items():
                setattr(area, key, value)
            summary.updated += 1
        if progress is not None:
            progress(1)
    session.commit()
    AREA_INDEX.invalidate()
    return summary


class AreaIndex:
    """Point-in-polygon lookup over the finest level of areas, with an STRtree.

    The index is built once per process and rebuilt when the areas change (checked at most
    every ``ttl`` seconds with one cheap query), so intake never loops over polygons.
    """

    def __init__(self, ttl: float = 10.0) -> None:
        self._ttl = ttl
        self._lock = threading.Lock()
        self._state: dict[Any, Any] = {}

    def invalidate(self) -> None:
        """Forget the index (after an import in this process)."""
        with self._lock:
            self._state.clear()

    def _version(self, session: Session) -> tuple[int, int]:
        count, max_id = session.exec(select(func.count(col(Area.id)), func.max(col(Area.id)))).one()
        return int(count or 0), int(max_id or 0)

    def _current(self, session: Session) -> dict[str, Any]:
        # The URL itself is the key: hashing it is cheap, rendering it as text is not.
        key = session.get_bind().engine.url
        now = time.monotonic()
        state = self._state.get(key)
        if state is not None and now - state["checked"] < self._ttl:
            return dict(state)
        version = self._version(session)
        if state is None or state["version"] != version:
            state = self._build(session, version)
        state["checked"] = now
        with self._lock:
            self._state[key] = state
        return dict(state)

    def _build(self, session: Session, version: tuple[int, int]) -> dict[str, Any]:
        areas = list(session.exec(select(Area)))
        if not areas:
            return {"version": version, "tree": None, "codes": [], "geoms": []}
        counts: dict[str, int] = {}
        for area in areas:
            counts[area.level] = counts.get(area.level, 0) + 1
        finest = max(counts, key=lambda lvl: counts[lvl])
        chosen = [a for a in areas if a.level == finest]
        geoms: list[BaseGeometry] = [shape(json.loads(a.geometry)) for a in chosen]
        for geom in geoms:
            shapely.prepare(geom)
        return {
            "version": version,
            "tree": shapely.STRtree(geoms),
            "codes": [a.code for a in chosen],
            "geoms": geoms,
        }

    def has_areas(self, session: Session) -> bool:
        """Whether any area is loaded."""
        return self._current(session)["tree"] is not None

    def locate(self, session: Session, lat: float, lon: float) -> str | None:
        """The code of the finest area holding the point, or None when none does."""
        state = self._current(session)
        tree = state["tree"]
        if tree is None:
            return None
        hits = tree.query(Point(lon, lat), predicate="intersects")
        if len(hits) == 0:
            return None
        return str(state["codes"][int(min(hits))])


AREA_INDEX = AreaIndex()


def area_for_position(
    *,
    session: Session,
    lat: float,
    lon: float,
    bbox: tuple[float, float, float, float] | None,
    h3_resolution: int,
) -> str:
    """The area code of a position: an imported area, or an H3 cell when none are loaded.

    Raises ``OutsideCityError`` when the point is outside every loaded area or, with no areas
    loaded, outside the configured bounding box.
    """
    if AREA_INDEX.has_areas(session):
        code = AREA_INDEX.locate(session, lat, lon)
        if code is None:
            raise OutsideCityError(
                f"the position ({lat:.5f}, {lon:.5f}) is outside the city's areas"
            )
        return code
    if bbox is not None:
        min_lon, min_lat, max_lon, max_lat = bbox
        if not (min_lon <= lon <= max_lon and min_lat <= lat <= max_lat):
            raise OutsideCityError(
                f"the position ({lat:.5f}, {lon:.5f}) is outside the city "
                f"(bounding box {min_lon},{min_lat},{max_lon},{max_lat})"
            )
    return str(h3.latlng_to_cell(lat, lon, h3_resolution))


def iter_areas(*, session: Session, level: str | None = None) -> Iterator[Area]:
    """Areas, optionally of one level, ordered by code."""
    stmt = select(Area).order_by(Area.code)
    if level is not None:
        stmt = stmt.where(Area.level == level)
    yield from session.exec(stmt)


# --- population ---------------------------------------------------------------------------


class PopulationError(ValueError):
    """A population file that cannot be loaded; the message says where and why."""


@dataclass
class PopulationSummary:
    """What a population load did."""

    updated: int = 0
    unknown: list[str] = field(default_factory=list)


def load_population(
    *, session: Session, path: Path, code_field: str, population_field: str
) -> PopulationSummary:
    """Set ``Area.population`` from a CSV; all rows are checked before anything is saved."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            sample = handle.read(4096)
            handle.seek(0)
            dialect = csv.Sniffer().sniff(sample, delimiters=",;\t")
            reader = csv.DictReader(handle, dialect=dialect)
            fields = reader.fieldnames or []
            for name in (code_field, population_field):
                if name not in fields:
                    raise PopulationError(f"{path}: no column '{name}' (has: {', '.join(fields)})")
            values: dict[str, int] = {}
            for line, row in enumerate(reader, start=2):
                code = (row[code_field] or "").strip()
                raw = (row[population_field] or "").strip().replace(" ", "").replace("\u202f", "")
                if not code:
                    raise PopulationError(f"{path}, line {line}: empty code")
                try:
                    population = int(float(raw))
                except ValueError as exc:
                    raise PopulationError(
                        f"{path}, line {line}: population '{raw}' is not a number"
                    ) from exc
                if population < 0:
                    raise PopulationError(f"{path}, line {line}: negative population")
                values[code] = population
    except FileNotFoundError as exc:
        raise PopulationError(f"{path}: no such file") from exc
    except (UnicodeDecodeError, csv.Error) as exc:
        raise PopulationError(f"{path}: not a readable CSV file ({exc})") from exc
    areas = {a.code: a for a in session.exec(select(Area))}
    summary = PopulationSummary()
    for code, population in values.items():
        area = areas.get(code)
        if area is None:
            summary.unknown.append(code)
            continue
        area.population = population
        session.add(area)
        summary.updated += 1
    session.commit()
    return summary
