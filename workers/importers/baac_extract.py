"""A joined BAAC extract: one row per road user (``Num_Acc``, ``catv``, ``grav``... in one file,
like ``baac_bicycle_accidents_2017-2021.csv``), grouped into one incident per accident (its
rows must be consecutive). The extract streams.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from workers.importers.baac_labels import (
    EXTRACT_REQUIRED,
    KIND,
    MARSEILLE_COMMUNES,
    accident_time,
    casualty_attributes,
    commune_code,
    describe_communes,
    finish_attributes,
    locate_accident,
    norm_column,
)
from workers.importers.csv_files import CsvFile
from workers.importers.positions import Locator
from workers.importers.rows import ImportFileError, Progress, Row, RowError, clean_code


class BaacExtract:
    """A joined BAAC extract, one row per road user, grouped into one incident per accident."""

    def __init__(
        self,
        path: Path,
        locator: Locator,
        *,
        communes: frozenset[str] = MARSEILLE_COMMUNES,
        encoding: str | None = None,
    ) -> None:
        self.csv = CsvFile(path, encoding=encoding)
        self.columns = {norm_column(h): h for h in self.csv.header}
        missing = EXTRACT_REQUIRED - set(self.columns)
        has_position = {"lat_wgs84", "lon_wgs84"} <= set(self.columns) or {
            "lat",
            "long",
        } <= set(self.columns)
        if missing or not has_position:
            need = sorted(missing) + ([] if has_position else ["lat/long"])
            raise ImportFileError(
                f"{path}: not a joined BAAC extract: missing columns {', '.join(need)} "
                f"(the file has: {', '.join(self.csv.header)})"
            )
        self.locator = locator
        self.communes = communes
        self.size = self.csv.size
        self.skipped: Counter[str] = Counter()
        self.name = path.name

    def _get(self, row: dict[str, str], name: str) -> str:
        column = self.columns.get(name)
        return (row.get(column) or "").strip() if column else ""

    def _groups(
        self, progress: Progress | None
    ) -> Iterator[tuple[int, int, list[dict[str, str]] | None, str | None]]:
        seen: set[str] = set()
        current: list[dict[str, str]] = []
        key = ""
        first_line = last_line = 0
        for line, values, problem in self.csv.dict_rows(progress):
            if values is None:
                yield line, line, None, problem
                continue
            num = self._get(values, "num_acc")
            if num != key:
                if current:
                    yield first_line, last_line, current, None
                if num in seen:
                    yield (
                        line,
                        line,
                        None,
                        (
                            f"accident {num} again, after other accidents: the rows of one "
                            "accident must be consecutive (sort the file by Num_Acc)"
                        ),
                    )
                    current, key = [], ""
                    continue
                seen.add(num)
                current, key, first_line = [], num, line
            current.append(values)
            last_line = line
        if current:
            yield first_line, last_line, current, None

    def rows(self, progress: Progress | None = None) -> Iterator[Row]:
        """One row per accident (or its rejection)."""
        for first, last, group, problem in self._groups(progress):
            if group is None:
                yield Row(self.name, first, reason=problem, last_line=last)
                continue
            try:
                values = self._accident(group)
            except RowError as exc:
                yield Row(self.name, first, reason=str(exc), last_line=last)
                continue
            if values is None:
                continue
            yield Row(self.name, first, values=values, last_line=last)

    def _accident(self, group: list[dict[str, str]]) -> dict[str, Any] | None:
        head = group[0]
        get = self._get
        num = get(head, "num_acc")
        if not num:
            raise RowError("empty Num_Acc")
        commune = get(head, "arrondissement_insee") or (
            commune_code(get(head, "com"), get(head, "dep")) if get(head, "com") else ""
        )
        if commune and commune not in self.communes:
            self.skipped[f"accidents outside the communes {describe_communes(self.communes)}"] += 1
            return None
        occurred = accident_time(
            get(head, "jour"), get(head, "mois"), get(head, "an"), get(head, "hrmn")
        )
        if get(head, "lat_wgs84") and get(head, "lon_wgs84"):
            lat, lon, area = locate_accident(
                get(head, "lat_wgs84"), get(head, "lon_wgs84"), self.locator
            )
        else:
            lat, lon, area = locate_accident(get(head, "lat"), get(head, "long"), self.locator)
        attrs: dict[str, Any] = {"num_acc": num}
        for name in ("lum", "int", "atm", "col", "agg", "situ", "catr"):
            if get(head, name):
                attrs[name] = clean_code(get(head, name))
        if commune:
            attrs["commune"] = commune
        if get(head, "quartier"):
            attrs["quartier"] = get(head, "quartier")
        attrs.update(
            casualty_attributes((get(r, "grav") for r in group), (get(r, "catv") for r in group))
        )
        return {
            "external_id": num,
            "kind": KIND,
            "occurred_at": occurred,
            "lat": lat,
            "lon": lon,
            "address": get(head, "adr") or None,
            "area_code": area,
            "count": 1,
            "attributes": finish_attributes(attrs),
        }
