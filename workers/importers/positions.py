"""Positions of imported rows: areas, the city's limits, and a street gazetteer."""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlmodel import Session, select

from backend.models import Area
from backend.services.areas import OutsideCityError, area_for_position
from workers.importers.csv_files import check_file
from workers.importers.rows import ImportFileError, RowError


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKD", text.lower())
    text = "".join(c for c in text if not unicodedata.combining(c))
    text = re.sub(r"[^a-z0-9]+", " ", text)
    return " ".join(text.split())


# Abbreviations of street types in French addresses, as clerks type them.
_STREET_TYPES = {
    "bd": "boulevard",
    "bld": "boulevard",
    "blvd": "boulevard",
    "bvd": "boulevard",
    "boul": "boulevard",
    "av": "avenue",
    "ave": "avenue",
    "r": "rue",
    "pl": "place",
    "ch": "chemin",
    "chem": "chemin",
    "imp": "impasse",
    "trav": "traverse",
    "tse": "traverse",
    "crs": "cours",
    "qu": "quai",
    "all": "allee",
    "rte": "route",
    "mte": "montee",
    "sq": "square",
    "esp": "esplanade",
    "prom": "promenade",
    "rpt": "rond point",
    "st": "saint",
    "ste": "sainte",
}
_STOPWORDS = frozenset({"de", "du", "des", "la", "le", "les", "l", "d"})


def street_key(address: str) -> str:
    """A street name folded for matching: no house number, postcode, city, accents, abbreviations.

    ``"12 bis, Bd de la Pomme 13011 Marseille"`` -> ``"boulevard de la pomme"``.
    """
    text = _fold(address)
    text = re.sub(r"\b\d{5}\b.*$", "", text)  # postcode and what follows
    text = re.sub(r"\bmarseille\b.*$", "", text)
    text = re.sub(r"^\d+\s*(bis|ter|quater|[a-d])?\s+", "", text.strip())
    text = re.sub(r"^\d+\s+", "", text)  # "12 14 rue ..." (ranges)
    words = [_STREET_TYPES.get(w, w) for w in text.split()]
    return " ".join(words)


def _loose_key(key: str) -> str:
    return " ".join(w for w in key.split() if w not in _STOPWORDS)


class Gazetteer:
    """Street names to positions (the reference ``streets.json`` format:
    a list of ``{"name", "quartier", "centroid": [lon, lat]}``)."""

    def __init__(self, streets: Iterable[dict[str, Any]]) -> None:
        self._exact: dict[str, tuple[float, float]] = {}
        loose: dict[str, list[tuple[float, float]]] = {}
        for street in streets:
            lon, lat = (float(v) for v in street["centroid"])
            key = street_key(str(street["name"]))
            self._exact.setdefault(key, (lat, lon))
            loose.setdefault(_loose_key(key), []).append((lat, lon))
        # A loose key ("rue rome") that two streets share is ambiguous, hence unusable.
        self._loose = {k: v[0] for k, v in loose.items() if len(v) == 1}

    def __len__(self) -> int:
        return len(self._exact)

    @classmethod
    def load(cls, path: Path) -> Gazetteer:
        """Read a gazetteer file, with a clear error when it is not one."""
        check_file(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls(data)
        except (ValueError, KeyError, TypeError) as exc:
            raise ImportFileError(
                f"{path}: not a street gazetteer (a JSON list of "
                f'{{"name", "quartier", "centroid": [lon, lat]}}): {exc}'
            ) from exc

    def locate(self, address: str) -> tuple[float, float]:
        """(lat, lon) of the street of an address; RowError when the street is unknown."""
        key = street_key(address)
        if not key:
            raise RowError(f"address {address!r} names no street")
        found = self._exact.get(key) or self._loose.get(_loose_key(key))
        if found is None:
            raise RowError(f"street of {address!r} not found in the street gazetteer")
        return found


@dataclass(frozen=True)
class CitySettings:
    """What positions need from the configuration."""

    bbox: tuple[float, float, float, float] | None
    h3_resolution: int

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> CitySettings:
        """The city settings of an app's config."""
        return cls(bbox=config["CITY_BBOX"], h3_resolution=int(config["H3_RESOLUTION"]))


class Locator:
    """Turns positions, addresses and area codes into (lat, lon, area code), or a RowError."""

    def __init__(
        self, *, session: Session, city: CitySettings, gazetteer: Gazetteer | None = None
    ) -> None:
        self.session = session
        self.city = city
        self.gazetteer = gazetteer
        self._areas: dict[str, tuple[float | None, float | None]] = {}
        children: dict[str, list[tuple[float, float]]] = {}
        for area in session.exec(select(Area)):
            self._areas[area.code] = (area.centroid_lat, area.centroid_lon)
            if area.parent_code and area.centroid_lat is not None and area.centroid_lon is not None:
                children.setdefault(area.parent_code, []).append(
                    (area.centroid_lat, area.centroid_lon)
                )
        for parent, points in children.items():
            # An upper level named only as a parent (an arrondissement): its quartiers' mean.
            self._areas.setdefault(
                parent,
                (sum(p[0] for p in points) / len(points), sum(p[1] for p in points) / len(points)),
            )

    def area_of(self, lat: float, lon: float) -> str:
        """The area code of a position inside the city; RowError outside it."""
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise RowError(f"position ({lat}, {lon}) is not in degrees (latitude, longitude)")
        try:
            return area_for_position(
                session=self.session,
                lat=lat,
                lon=lon,
                bbox=self.city.bbox,
                h3_resolution=self.city.h3_resolution,
            )
        except OutsideCityError as exc:
            raise RowError(str(exc)) from exc

    def address(self, text: str) -> tuple[float, float]:
        """(lat, lon) of an address, with the gazetteer."""
        if self.gazetteer is None:
            raise RowError("an address needs a street gazetteer (--streets FILE)")
        return self.gazetteer.locate(text)

    def area_centroid(self, code: str) -> tuple[float | None, float | None]:
        """The centre of a known area; no position when no areas are loaded; else a RowError."""
        if not self._areas:
            return None, None
        if code not in self._areas:
            raise RowError(f"unknown area code {code!r}")
        return self._areas[code]
