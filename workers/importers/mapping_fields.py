"""The fields a column mapping is made of, for incidents and reports alike: where a date, a
position or a value is in a row and how it is written, and reading a mapping file (TOML or
JSON). The mapping format is described in docs/data-formats.md.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from workers.importers.positions import Locator
from workers.importers.rows import ImportFileError, RowError, parse_number

DEFAULT_TIMEZONE = "Europe/Paris"
DEFAULT_DATE_FORMATS = ("iso", "%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M", "%d/%m/%Y", "%Y-%m-%d")
DEFAULT_TIME_FORMATS = ("%H:%M:%S", "%H:%M", "%Hh%M", "%H%M")


def as_tuple(value: Any, what: str) -> tuple[str, ...]:
    """A mapping's text or list of texts as a tuple; ImportFileError for anything else."""
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise ImportFileError(f"mapping: {what} must be a text or a list of texts")


def mapping_section(data: Mapping[str, Any], name: str, known: set[str]) -> dict[str, Any]:
    """A ``[name]`` table of a mapping (``name = "COLUMN"`` is short for its column), checked."""
    value = data.get(name) or {}
    if isinstance(value, str):
        # Shorthand: `kind = "COLUMN"` is `[kind] column = "COLUMN"`.
        value = {"column": value}
    if not isinstance(value, dict):
        raise ImportFileError(f"mapping: [{name}] must be a table")
    unknown = set(value) - known
    if unknown:
        raise ImportFileError(
            f"mapping: unknown key(s) {sorted(unknown)} in [{name}] (known: {sorted(known)})"
        )
    return value


@dataclass(frozen=True)
class DateSpec:
    """Where a date (and time) is, and how it is written."""

    date: str
    time: str | None = None
    formats: tuple[str, ...] = DEFAULT_DATE_FORMATS
    time_formats: tuple[str, ...] = DEFAULT_TIME_FORMATS
    timezone: ZoneInfo = field(default_factory=lambda: ZoneInfo(DEFAULT_TIMEZONE))

    KEYS = frozenset({"date", "time", "formats", "time_formats", "timezone", "column"})

    @classmethod
    def from_dict(cls, data: dict[str, Any], what: str) -> DateSpec:
        """Read a date section."""
        date = data.get("date") or data.get("column")
        if not isinstance(date, str) or not date:
            raise ImportFileError(f'mapping: [{what}] needs date = "COLUMN"')
        tz_name = data.get("timezone", DEFAULT_TIMEZONE)
        try:
            tz = ZoneInfo(str(tz_name))
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ImportFileError(f"mapping: [{what}] unknown timezone {tz_name!r}") from exc
        return cls(
            date=date,
            time=data.get("time"),
            formats=as_tuple(data.get("formats"), f"[{what}] formats") or DEFAULT_DATE_FORMATS,
            time_formats=as_tuple(data.get("time_formats"), f"[{what}] time_formats")
            or DEFAULT_TIME_FORMATS,
            timezone=tz,
        )

    def columns(self) -> list[str]:
        """The columns this spec reads."""
        return [c for c in (self.date, self.time) if c]

    def parse(self, row: Mapping[str, Any], *, required: bool = True) -> datetime | None:
        """The aware UTC datetime of a row; RowError when it cannot be read."""
        raw = str(row.get(self.date) or "").strip()
        if not raw:
            if required:
                raise RowError(f"empty date in column {self.date!r}")
            return None
        moment = _parse_datetime(raw, self.formats)
        if moment is None:
            raise RowError(
                f"unreadable date {raw!r} in column {self.date!r} "
                f"(expected {' or '.join(self.formats)})"
            )
        if self.time:
            raw_time = str(row.get(self.time) or "").strip()
            if raw_time:
                clock = _parse_time(raw_time, self.time_formats)
                if clock is None:
                    raise RowError(
                        f"unreadable time {raw_time!r} in column {self.time!r} "
                        f"(expected {' or '.join(self.time_formats)})"
                    )
                moment = datetime.combine(moment.date(), clock, tzinfo=moment.tzinfo)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=self.timezone)
        return moment.astimezone(UTC)


# strptime is slow (a regex built per call); the formats clerks use most get a fast path
# with the same meaning (strptime's %d and %m also accept one digit).
_FAST_FORMATS = {
    "%d/%m/%Y": re.compile(r"(?P<d>\d{1,2})/(?P<m>\d{1,2})/(?P<Y>\d{4})"),
    "%Y-%m-%d": re.compile(r"(?P<Y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})"),
    "%H:%M": re.compile(r"(?P<H>\d{1,2}):(?P<M>\d{1,2})"),
    "%H:%M:%S": re.compile(r"(?P<H>\d{1,2}):(?P<M>\d{1,2}):(?P<S>\d{1,2})"),
}


def _strptime(raw: str, fmt: str) -> datetime:
    pattern = _FAST_FORMATS.get(fmt)
    if pattern is None:
        return datetime.strptime(raw, fmt)  # noqa: DTZ007 (the zone is applied after)
    match = pattern.fullmatch(raw)
    if match is None:
        raise ValueError(f"{raw!r} does not match {fmt}")
    parts = {k: int(v) for k, v in match.groupdict().items()}
    return datetime(  # noqa: DTZ001 (the zone is applied after)
        parts.get("Y", 1900),
        parts.get("m", 1),
        parts.get("d", 1),
        parts.get("H", 0),
        parts.get("M", 0),
        parts.get("S", 0),
    )


def _parse_datetime(raw: str, formats: tuple[str, ...]) -> datetime | None:
    for fmt in formats:
        try:
            if fmt == "iso":
                return datetime.fromisoformat(raw.replace("Z", "+00:00"))
            return _strptime(raw, fmt)
        except ValueError:
            continue
    return None


def _parse_time(raw: str, formats: tuple[str, ...]) -> time | None:
    for fmt in formats:
        try:
            return _strptime(raw, fmt).time()
        except ValueError:
            continue
    return None


@dataclass(frozen=True)
class PositionSpec:
    """Where a position is: lat/lon columns, an address column, or an area code column."""

    lat: str | None = None
    lon: str | None = None
    address: str | None = None
    area: str | None = None
    # e.g. 100000 when coordinates are written as degrees x 100000
    scale: float = 1.0

    KEYS = frozenset({"lat", "lon", "address", "area", "scale"})

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PositionSpec:
        """Read the position section."""
        spec = cls(
            lat=data.get("lat"),
            lon=data.get("lon"),
            address=data.get("address"),
            area=data.get("area"),
            scale=float(data.get("scale", 1.0)),
        )
        if bool(spec.lat) != bool(spec.lon):
            raise ImportFileError("mapping: [position] needs both lat and lon")
        return spec

    @property
    def empty(self) -> bool:
        """Whether no position is mapped."""
        return not (self.lat or self.address or self.area)

    def columns(self) -> list[str]:
        """The columns this spec reads."""
        return [c for c in (self.lat, self.lon, self.address, self.area) if c]

    def resolve(
        self, row: Mapping[str, Any], locator: Locator
    ) -> tuple[float | None, float | None, str | None]:
        """(lat, lon, area code) of a row: coordinates first, then address, then area code."""
        lat_raw = str(row.get(self.lat) or "").strip() if self.lat else ""
        lon_raw = str(row.get(self.lon) or "").strip() if self.lon else ""
        if lat_raw and lon_raw:
            lat = parse_number(lat_raw, "latitude") / self.scale
            lon = parse_number(lon_raw, "longitude") / self.scale
            return lat, lon, locator.area_of(lat, lon)
        address = str(row.get(self.address) or "").strip() if self.address else ""
        if address:
            lat, lon = locator.address(address)
            return lat, lon, locator.area_of(lat, lon)
        area = str(row.get(self.area) or "").strip() if self.area else ""
        if area:
            area_lat, area_lon = locator.area_centroid(area)
            return area_lat, area_lon, area
        raise RowError(f"no position (empty {', '.join(self.columns())})")


@dataclass(frozen=True)
class ValueSpec:
    """A value from a column (through an optional map, with a prefix) or a constant."""

    column: str | None = None
    value: str | None = None
    prefix: str = ""
    map: dict[str, str] = field(default_factory=dict)
    default: str | None = None

    KEYS = frozenset({"column", "value", "prefix", "map", "default"})

    @classmethod
    def from_dict(cls, data: dict[str, Any], what: str) -> ValueSpec:
        """Read a value section."""
        mapping = data.get("map") or {}
        if not isinstance(mapping, dict):
            raise ImportFileError(f"mapping: [{what}] map must be a table")
        spec = cls(
            column=data.get("column"),
            value=data.get("value"),
            prefix=str(data.get("prefix", "")),
            map={str(k): str(v) for k, v in mapping.items()},
            default=data.get("default"),
        )
        if spec.column is None and spec.value is None:
            raise ImportFileError(f'mapping: [{what}] needs column = "COLUMN" or value = "..."')
        return spec

    def columns(self) -> list[str]:
        """The columns this spec reads."""
        return [self.column] if self.column else []

    def get(self, row: Mapping[str, Any], what: str, *, required: bool = True) -> str | None:
        """The value for a row."""
        if self.column is None:
            return self.value
        raw = str(row.get(self.column) or "").strip()
        if not raw:
            if self.default is not None:
                return self.default
            if required:
                raise RowError(f"empty {what} in column {self.column!r}")
            return None
        return self.prefix + self.map.get(raw, raw)


def load_mapping_data(path: Path) -> dict[str, Any]:
    """Read a mapping file (TOML or JSON, by extension) into a dict."""
    if not path.exists():
        raise ImportFileError(f"{path}: no such mapping file")
    text = path.read_text(encoding="utf-8")
    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else tomllib.loads(text)
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise ImportFileError(f"{path}: not a valid mapping file ({exc})") from exc
    if not isinstance(data, dict):
        raise ImportFileError(f"{path}: a mapping must be a table / object")
    return data
