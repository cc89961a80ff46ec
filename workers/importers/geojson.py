"""GeoJSON points as incidents, read as a stream (a FeatureCollection, or one Feature a line).

``json.load`` would hold a 1 GB file in memory; here the ``features`` array is decoded one
feature at a time from a sliding buffer (``json.JSONDecoder.raw_decode``), so memory stays the
size of one feature plus a read chunk. Properties are mapped like CSV columns; the position
comes from the Point geometry (WGS84 longitude, latitude, as RFC 7946 says).
"""

from __future__ import annotations

import io
import json
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from workers.importers.csv_files import check_file
from workers.importers.csv_mapping import IncidentMapping
from workers.importers.positions import Locator
from workers.importers.rows import ImportFileError, Progress, Row, RowError, row_hash

CHUNK = 1 << 20
MAX_FEATURE_CHARS = 64 << 20
_WS = re.compile(r"[ \t\n\r]*")
WGS84_NAMES = ("crs84", "4326")


class _JsonStream:
    """Values decoded one by one from a text stream, with the line where each starts."""

    def __init__(self, text: IO[str], raw: IO[bytes], progress: Progress | None) -> None:
        self.text = text
        self.raw = raw
        self.progress = progress
        self.sent = 0
        self.buf = ""
        self.pos = 0
        self.eof = False
        self.line = 1
        self.line_pos = 0
        self.decoder = json.JSONDecoder()

    def _fill(self) -> bool:
        if self.eof:
            return False
        chunk = self.text.read(CHUNK)
        if self.progress is not None:
            position = self.raw.tell()
            self.progress(position - self.sent)
            self.sent = position
        if not chunk:
            self.eof = True
            return False
        self.line_at(self.pos)
        self.buf = self.buf[self.pos :] + chunk
        self.line_pos -= self.pos
        self.pos = 0
        return True

    def line_at(self, pos: int) -> int:
        """The line number of a position of the buffer (positions only move forward)."""
        if pos > self.line_pos:
            self.line += self.buf.count("\n", self.line_pos, pos)
            self.line_pos = pos
        return self.line

    def peek(self) -> str | None:
        """The next significant character, or None at the end."""
        while True:
            self.pos = _WS.match(self.buf, self.pos).end()  # type: ignore[union-attr]
            if self.pos < len(self.buf):
                return self.buf[self.pos]
            if not self._fill():
                return None

    def expect(self, char: str, where: str) -> None:
        """Consume one character, or fail."""
        found = self.peek()
        if found != char:
            line = self.line_at(self.pos)
            raise ImportFileError(f"line {line}: expected {char!r} {where}, found {found!r}")
        self.pos += 1

    def value(self) -> tuple[int, Any]:
        """The next JSON value and the line where it starts."""
        if self.peek() is None:
            raise ImportFileError(f"line {self.line}: the file ends too early")
        line = self.line_at(self.pos)
        while True:
            try:
                value, end = self.decoder.raw_decode(self.buf, self.pos)
                # A number or literal cut by the buffer's end is only complete at EOF.
                if end < len(self.buf) or self.eof:
                    self.pos = end
                    return line, value
            except json.JSONDecodeError as exc:
                if self.eof and exc.pos >= len(self.buf.rstrip()):
                    raise ImportFileError(f"line {line}: the file ends too early") from exc
                if self.eof or len(self.buf) - self.pos > MAX_FEATURE_CHARS:
                    raise ImportFileError(f"line {line}: not valid JSON ({exc.msg})") from exc
            self._fill()


def _check_crs(crs: Any) -> None:
    if not crs:
        return
    name = str(((crs or {}).get("properties") or {}).get("name", "")).lower()
    if not name.replace(":", "").endswith(WGS84_NAMES):
        raise ImportFileError(
            f"the coordinates are in {name or crs!r}; convert the file to WGS84 "
            "(e.g. ogr2ogr -t_srs EPSG:4326 out.geojson in.geojson)"
        )


def iter_features(path: Path, progress: Progress | None = None) -> Iterator[tuple[int, int, Any]]:
    """Yield (feature number, line, feature) from a FeatureCollection or newline-delimited
    Features, without holding the file in memory."""
    with path.open("rb") as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8-sig")
        stream = _JsonStream(text, raw, progress)
        try:
            first = stream.peek()
            if first != "{":
                raise ImportFileError(
                    "not GeoJSON: expected a FeatureCollection or Features (a JSON object)"
                )
            number = 0
            while stream.peek() == "{":
                top_line = stream.line_at(stream.pos)
                stream.pos += 1
                members: dict[str, Any] = {}
                saw_features = False
                if stream.peek() == "}":
                    stream.pos += 1
                else:
                    while True:
                        _line, key = stream.value()
                        if not isinstance(key, str):
                            raise ImportFileError(f"line {_line}: an object key must be a text")
                        stream.expect(":", f"after {key!r}")
                        if key == "features" and members.get("type", "FeatureCollection") == (
                            "FeatureCollection"
                        ):
                            saw_features = True
                            _check_crs(members.get("crs"))
                            for line, feature in _array(stream):
                                number += 1
                                yield number, line, feature
                        else:
                            members[key] = stream.value()[1]
                        sep = stream.peek()
                        stream.pos += 1
                        if sep == "}":
                            break
                        if sep != ",":
                            raise ImportFileError(
                                f"line {stream.line_at(stream.pos)}: expected ',' or '}}', "
                                f"found {sep!r}"
                            )
                kind = members.get("type")
                if kind == "Feature":
                    number += 1
                    yield number, top_line, members
                elif kind == "FeatureCollection":
                    _check_crs(members.get("crs"))
                    if not saw_features:
                        raise ImportFileError("the FeatureCollection has no features")
                else:
                    raise ImportFileError(
                        f"line {top_line}: not GeoJSON (type {kind!r}, expected "
                        "FeatureCollection or Feature)"
                    )
            if stream.peek() is not None:
                raise ImportFileError(
                    f"line {stream.line_at(stream.pos)}: unexpected text after the GeoJSON"
                )
        except UnicodeDecodeError as exc:
            raise ImportFileError(f"not UTF-8 (GeoJSON is UTF-8): {exc.reason}") from exc


def _array(stream: _JsonStream) -> Iterator[tuple[int, Any]]:
    stream.expect("[", "to open the features")
    if stream.peek() == "]":
        stream.pos += 1
        return
    while True:
        yield stream.value()
        sep = stream.peek()
        stream.pos += 1
        if sep == "]":
            return
        if sep != ",":
            raise ImportFileError(
                f"line {stream.line_at(stream.pos)}: expected ',' or ']' between features, "
                f"found {sep!r}"
            )


def feature_point(feature: dict[str, Any]) -> tuple[float, float] | None:
    """(lat, lon) of a Point (or a one-point MultiPoint); None without geometry."""
    geometry = feature.get("geometry")
    if geometry is None:
        return None
    if not isinstance(geometry, dict):
        raise RowError("geometry is not an object")
    kind = geometry.get("type")
    coords = geometry.get("coordinates")
    if kind == "MultiPoint" and isinstance(coords, list) and len(coords) == 1:
        kind, coords = "Point", coords[0]
    if kind != "Point":
        raise RowError(f"a {kind} geometry, not a point")
    if (
        not isinstance(coords, list)
        or len(coords) < 2
        or not all(isinstance(c, int | float) for c in coords[:2])
    ):
        raise RowError(f"point coordinates {coords!r} are not [longitude, latitude]")
    lon, lat = float(coords[0]), float(coords[1])
    return lat, lon


class GeoJsonPoints:
    """GeoJSON point features mapped into incidents."""

    def __init__(self, path: Path, mapping: IncidentMapping, locator: Locator) -> None:
        self.size = check_file(path)
        self.path = path
        self.mapping = mapping
        self.locator = locator
        self.skipped: Counter[str] = Counter()
        self.name = path.name
        self._checked_columns = False

    def rows(self, progress: Progress | None = None) -> Iterator[Row]:
        """Parse every feature into an incident, or a rejection."""
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
        if not self._checked_columns:
            # The first feature's properties stand for the header of a CSV.
            self.mapping.check_columns(list(props), str(self.path), position_optional=True)
            self._checked_columns = True
        try:
            point = feature_point(feature)
            if point is None and self.mapping.position.empty:
                raise RowError("no geometry and no position mapped")
            fallback = feature.get("id")
            fallback_id = (
                str(fallback)
                if fallback not in (None, "")
                else row_hash([json.dumps(feature, sort_keys=True, default=str)])
            )
            values = self.mapping.to_incident(
                props, self.locator, point=point, fallback_id=fallback_id
            )
        except RowError as exc:
            return Row(self.name, line, reason=f"feature {number}: {exc}")
        return Row(self.name, line, values=values)
