"""A column mapping turns any CSV (or GeoJSON properties) into incidents.

A mapping is a TOML or JSON file (see docs/data-formats.md)::

    delimiter = ";"                       # optional: detected from the header line
    encoding = "cp1252"                   # optional: UTF-8 when it decodes, else Windows-1252

    [occurred_at]
    date = "DATE_FAITS"                   # a column with a date, or a date and time
    time = "HEURE_FAITS"                  # optional: a column with the time
    formats = ["%d/%m/%Y"]                # strptime formats tried in order, or "iso"
    time_formats = ["%H:%M", "%Hh%M"]
    timezone = "Europe/Paris"             # for times without an offset

    [position]                            # one of: lat + lon, address, area
    lat = "LATITUDE"
    lon = "LONGITUDE"

    [kind]                                # a column (with an optional map and prefix) or a value
    column = "NATURE"
    prefix = "main_courante:"

    [external_id]                         # columns joined with ':'; a hash of the row if absent
    columns = ["NUMERO"]

    [count]                               # aggregated sources: how many events the row counts
    column = "NB"

    [attributes]                          # every other column is kept, except these
    drop = ["AGENT"]
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from workers.importers.csv_files import CsvFile
from workers.importers.mapping_fields import (
    DateSpec,
    PositionSpec,
    ValueSpec,
    as_tuple,
    load_mapping_data,
    mapping_section,
)
from workers.importers.positions import Locator
from workers.importers.rows import (
    ImportFileError,
    Progress,
    Row,
    RowError,
    clean_code,
    parse_number,
    row_hash,
)

_KIND_CLEAN = re.compile(r"\s+")


@dataclass(frozen=True)
class IncidentMapping:
    """How a CSV's columns (or a GeoJSON's properties) make an incident."""

    occurred_at: DateSpec
    kind: ValueSpec
    position: PositionSpec = field(default_factory=PositionSpec)
    external_id: tuple[str, ...] = ()
    count: str | None = None
    address: str | None = None
    drop: tuple[str, ...] = ()
    keep: tuple[str, ...] = ()
    delimiter: str | None = None
    encoding: str | None = None

    TOP_KEYS = frozenset(
        {
            "occurred_at",
            "kind",
            "position",
            "external_id",
            "count",
            "address",
            "attributes",
            "delimiter",
            "encoding",
            "description",
        }
    )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> IncidentMapping:
        """Read and check a mapping."""
        unknown = set(data) - cls.TOP_KEYS
        if unknown:
            raise ImportFileError(
                f"mapping: unknown key(s) {sorted(unknown)} (known: {sorted(cls.TOP_KEYS)})"
            )
        if "occurred_at" not in data:
            raise ImportFileError("mapping: [occurred_at] is required")
        if "kind" not in data:
            raise ImportFileError("mapping: [kind] is required (a column or a value)")
        ext = mapping_section(data, "external_id", {"column", "columns"})
        count = mapping_section(data, "count", {"column"})
        attrs = mapping_section(data, "attributes", {"drop", "keep"})
        address = data.get("address")
        return cls(
            occurred_at=DateSpec.from_dict(
                mapping_section(data, "occurred_at", set(DateSpec.KEYS)), "occurred_at"
            ),
            kind=ValueSpec.from_dict(mapping_section(data, "kind", set(ValueSpec.KEYS)), "kind"),
            position=PositionSpec.from_dict(
                mapping_section(data, "position", set(PositionSpec.KEYS))
            ),
            external_id=as_tuple(ext.get("columns") or ext.get("column"), "external_id"),
            count=count.get("column"),
            address=address if isinstance(address, str) else None,
            drop=as_tuple(attrs.get("drop"), "[attributes] drop"),
            keep=as_tuple(attrs.get("keep"), "[attributes] keep"),
            delimiter=data.get("delimiter"),
            encoding=data.get("encoding"),
        )

    @cached_property
    def _used(self) -> frozenset[str]:
        # Columns the mapping consumes (hence not copied into attributes).
        return frozenset(self.columns()) - frozenset(self.keep)

    def columns(self) -> list[str]:
        """Every column the mapping names."""
        names = [
            *self.occurred_at.columns(),
            *self.kind.columns(),
            *self.position.columns(),
            *self.external_id,
            *([self.count] if self.count else []),
            *([self.address] if self.address else []),
            *self.keep,
        ]
        return list(dict.fromkeys(names))

    def check_columns(self, header: list[str], where: str, *, position_optional: bool) -> None:
        """Fail before reading any row when the mapping names columns the file lacks."""
        missing = [c for c in self.columns() if c not in header]
        if missing:
            raise ImportFileError(
                f"{where}: the mapping names columns missing from the file: "
                f"{', '.join(repr(c) for c in missing)} (the file has: {', '.join(header)})"
            )
        if self.position.empty and not position_optional:
            raise ImportFileError("mapping: [position] is required (lat/lon, address or area)")

    def to_incident(
        self,
        row: Mapping[str, Any],
        locator: Locator,
        *,
        point: tuple[float, float] | None = None,
        fallback_id: str | None = None,
    ) -> dict[str, Any]:
        """The incident of one row (``point`` is a (lat, lon) from a geometry); RowError if bad."""
        occurred = self.occurred_at.parse(row)
        raw_kind = self.kind.get(row, "kind")
        assert raw_kind is not None
        kind = _KIND_CLEAN.sub(" ", raw_kind)[:128]
        lat: float | None
        lon: float | None
        area: str | None
        if point is not None:
            lat, lon = point
            area = locator.area_of(point[0], point[1])
        else:
            lat, lon, area = self.position.resolve(row, locator)
        if self.external_id:
            parts = [str(row.get(c) or "").strip() for c in self.external_id]
            if not all(parts):
                raise RowError(f"empty external id in {', '.join(self.external_id)}")
            external_id = ":".join(parts)
        else:
            external_id = fallback_id or row_hash(row.values())
        if len(external_id) > 128:
            raise RowError("external id longer than 128 characters")
        count = 1
        if self.count:
            raw = str(row.get(self.count) or "").strip()
            if not raw:
                raise RowError(f"empty count in column {self.count!r}")
            number = parse_number(raw, "count")
            if number < 0 or number != int(number):
                raise RowError(f"count {raw!r} is not a whole number >= 0")
            count = int(number)
        address = str(row.get(self.address) or "").strip() or None if self.address else None
        if address is None and self.position.address:
            address = str(row.get(self.position.address) or "").strip() or None
        used = self._used
        attributes = {
            k: clean_code(v)
            for k, v in row.items()
            if k not in used and k not in self.drop and v not in (None, "")
        }
        return {
            "external_id": external_id,
            "kind": kind,
            "occurred_at": occurred,
            "lat": lat,
            "lon": lon,
            "address": address[:500] if address else None,
            "area_code": area,
            "count": count,
            "attributes": attributes,
        }


def load_incident_mapping(path: Path) -> IncidentMapping:
    """Read an incident mapping file."""
    try:
        return IncidentMapping.from_dict(load_mapping_data(path))
    except ImportFileError as exc:
        raise ImportFileError(f"{path}: {exc}") from exc


class MappedCsv:
    """A CSV read through a mapping, as rows of incidents."""

    def __init__(
        self,
        path: Path,
        mapping: IncidentMapping,
        locator: Locator,
        *,
        encoding: str | None = None,
        delimiter: str | None = None,
    ) -> None:
        self.csv = CsvFile(
            path,
            encoding=encoding or mapping.encoding,
            delimiter=delimiter or mapping.delimiter,
        )
        mapping.check_columns(self.csv.header, str(path), position_optional=False)
        self.mapping = mapping
        self.locator = locator
        self.size = self.csv.size
        self.skipped: Counter[str] = Counter()
        self.name = path.name

    def rows(self, progress: Progress | None = None) -> Iterator[Row]:
        """Parse every row into an incident, or a rejection."""
        for line, values, problem in self.csv.dict_rows(progress):
            if values is None:
                yield Row(self.name, line, reason=problem)
                continue
            try:
                yield Row(self.name, line, values=self.mapping.to_incident(values, self.locator))
            except RowError as exc:
                yield Row(self.name, line, reason=str(exc))
