"""Importing a city's street gazetteer (``lanterne streets import``).

Two shapes are read: the reference list ``[{"name", "quartier", "centroid": [lon, lat]}]``
(Marseille's ``streets.json``) and a GeoJSON FeatureCollection of Points or LineStrings with a
``name`` property (an OpenStreetMap extract, say). Every item is checked before anything is
written; an import then replaces the city's streets in one transaction, so running it twice
gives the same table and a bad file leaves the previous streets in place.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from shapely.geometry import shape
from sqlmodel import Session, delete

from backend.models import Street
from backend.services.areas import AREA_INDEX
from backend.services.streets import fold

NAME_MAX = 300
DISTRICT_MAX = 200


class StreetImportError(ValueError):
    """A streets file that cannot be imported; the message says where and why."""


@dataclass
class StreetImportSummary:
    """What a streets import did."""

    imported: int = 0
    replaced: int = 0
    located: int = 0  # streets whose point falls in an imported area


@dataclass(frozen=True)
class StreetRow:
    """One checked street, ready to store."""

    name: str
    district: str | None
    lat: float
    lon: float


def _point(coords: Any, where: str) -> tuple[float, float]:
    if (
        not isinstance(coords, list | tuple)
        or len(coords) < 2
        or not all(isinstance(c, int | float) and not isinstance(c, bool) for c in coords[:2])
    ):
        raise StreetImportError(f"{where}: the position must be [longitude, latitude]")
    lon, lat = float(coords[0]), float(coords[1])
    if not (math.isfinite(lon) and math.isfinite(lat) and -180 <= lon <= 180 and -90 <= lat <= 90):
        raise StreetImportError(f"{where}: [{coords[0]}, {coords[1]}] is not a longitude, latitude")
    return lon, lat


def _name(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise StreetImportError(f"{where}: no name")
    name = " ".join(value.split())
    if len(name) > NAME_MAX:
        raise StreetImportError(f"{where}: the name is longer than {NAME_MAX} characters")
    return name


def _district(value: Any, where: str) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise StreetImportError(f"{where}: the quartier must be a text")
    return " ".join(value.split())[:DISTRICT_MAX] or None


def _from_feature(feature: Any, where: str) -> StreetRow:
    if not isinstance(feature, dict) or not isinstance(feature.get("geometry"), dict):
        raise StreetImportError(f"{where}: not a GeoJSON feature with a geometry")
    props = feature.get("properties") or {}
    name = _name(props.get("name"), where)
    geometry = feature["geometry"]
    kind = geometry.get("type")
    if kind == "Point":
        lon, lat = _point(geometry.get("coordinates"), where)
    elif kind in ("LineString", "MultiLineString"):
        try:
            line = shape(geometry)
        except (ValueError, TypeError, AttributeError, IndexError) as exc:
            raise StreetImportError(f"{where}: a {kind} that cannot be read ({exc})") from exc
        if line.is_empty:
            raise StreetImportError(f"{where}: an empty {kind}")
        # A point on the street itself (a bent street's centroid can fall beside it).
        middle = line.interpolate(0.5, normalized=True)
        lon, lat = _point([middle.x, middle.y], where)
    else:
        raise StreetImportError(f"{where}: a {kind} geometry (use Point or LineString)")
    district = _district(props.get("quartier", props.get("district")), where)
    return StreetRow(name=name, district=district, lat=lat, lon=lon)


def _from_item(item: Any, where: str) -> StreetRow:
    if not isinstance(item, dict):
        raise StreetImportError(f"{where}: not an object with name and centroid")
    name = _name(item.get("name"), where)
    if "centroid" not in item:
        raise StreetImportError(f"{where} ({name}): no centroid [longitude, latitude]")
    lon, lat = _point(item["centroid"], f"{where} ({name})")
    return StreetRow(name=name, district=_district(item.get("quartier"), where), lat=lat, lon=lon)


def read_streets(path: Path) -> list[StreetRow]:
    """Every street of a file, checked; StreetImportError on the first bad one."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise StreetImportError(f"{path}: no such file") from exc
    except IsADirectoryError as exc:
        raise StreetImportError(f"{path}: a folder, not a file") from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise StreetImportError(f"{path}: not a JSON file ({exc})") from exc
    if isinstance(data, dict) and data.get("type") == "FeatureCollection":
        features = data.get("features")
        if not isinstance(features, list):
            raise StreetImportError(f"{path}: the FeatureCollection has no features list")
        rows = [_from_feature(f, f"{path}, feature {i + 1}") for i, f in enumerate(features)]
    elif isinstance(data, list):
        rows = [_from_item(item, f"{path}, item {i + 1}") for i, item in enumerate(data)]
    else:
        raise StreetImportError(
            f"{path}: expected a list of streets (name, quartier, centroid) "
            "or a GeoJSON FeatureCollection"
        )
    if not rows:
        raise StreetImportError(f"{path}: no streets in the file")
    return rows


def import_streets(
    *,
    session: Session,
    rows: list[StreetRow],
    progress: Callable[[int], None] | None = None,
) -> StreetImportSummary:
    """Replace the city's streets by ``rows`` in one transaction, each placed in its area."""
    summary = StreetImportSummary()
    summary.replaced = int(
        session.execute(sa.select(sa.func.count()).select_from(Street)).scalar() or 0
    )
    session.exec(delete(Street))  # type: ignore[call-overload]
    batch: list[dict[str, Any]] = []
    for row in rows:
        area_code = AREA_INDEX.locate(session, row.lat, row.lon)
        summary.located += area_code is not None
        batch.append(
            {
                "name": row.name,
                "folded": fold(row.name)[:NAME_MAX],
                "district": row.district,
                "area_code": area_code,
                "lat": round(row.lat, 6),
                "lon": round(row.lon, 6),
            }
        )
        if len(batch) == 1000:
            session.execute(sa.insert(Street.__table__), batch)  # type: ignore[attr-defined]
            if progress:
                progress(len(batch))
            batch = []
    if batch:
        session.execute(sa.insert(Street.__table__), batch)  # type: ignore[attr-defined]
        if progress:
            progress(len(batch))
    summary.imported = len(rows)
    session.commit()
    return summary
