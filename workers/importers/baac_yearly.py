"""The BAAC yearly set: ``caracteristiques``, ``lieux``, ``vehicules`` and ``usagers`` joined
on ``Num_Acc``. From 2019 on the files are ``;``-separated UTF-8 with decimal-comma degrees;
before, ``,``-separated latin-1 with degrees x 100000 and the commune split in ``dep``
(``130``) and ``com`` (``201``).

Memory: the city's accidents of one year are kept while the three other files are read (a few
thousand for Marseille, whatever the national file's size).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from workers.importers.baac_labels import (
    FIRST_UTF8_YEAR,
    KEPT_CARAC,
    KEPT_LIEUX,
    KIND,
    MARSEILLE_COMMUNES,
    POST_2019_MARKER,
    PRE_2019_MARKER,
    REQUIRED,
    accident_time,
    casualty_attributes,
    commune_code,
    describe_communes,
    finish_attributes,
    locate_accident,
    norm_column,
)
from workers.importers.csv_files import CsvFile, check_file, detect_encoding, is_ascii, read_sample
from workers.importers.positions import Locator
from workers.importers.rows import ImportFileError, Progress, Row, RowError, clean_code

FILE_PREFIXES = {
    "caracteristiques": ("caracteristiques", "carcteristiques", "caract"),
    "lieux": ("lieux",),
    "vehicules": ("vehicules", "véhicules"),
    "usagers": ("usagers",),
}


def _suffix_of(path: Path) -> str:
    name = path.name.lower()
    for prefix in sorted(FILE_PREFIXES["caracteristiques"], key=len, reverse=True):
        if name.startswith(prefix):
            rest = name[len(prefix) :]
            # "caracteristiques-2019.csv", "caracteristiques_2017.csv", "caract-2018.csv"
            return rest.removeprefix("eristiques").removeprefix("éristiques")
    raise ImportFileError(f"{path}: not a caracteristiques file name")


def find_set(carac: Path) -> dict[str, Path]:
    """The four files of a yearly set, from its ``caracteristiques`` file."""
    suffix = _suffix_of(carac)
    found = {"caracteristiques": carac}
    listing = {p.name.lower(): p for p in carac.parent.iterdir() if p.is_file()}
    for kind in ("lieux", "vehicules", "usagers"):
        match = next(
            (listing[p + suffix] for p in FILE_PREFIXES[kind] if p + suffix in listing), None
        )
        if match is None:
            raise ImportFileError(
                f"{carac}: the yearly set needs {kind}{suffix} beside it (not found in "
                f"{carac.parent})"
            )
        found[kind] = match
    return found


class BaacFile:
    """One file of a yearly set, with its layout (before or from 2019) checked."""

    def __init__(self, path: Path, kind: str, encoding: str | None) -> None:
        check_file(path)
        sample = read_sample(path)
        detected = detect_encoding(sample)
        self.path = path
        self.kind = kind
        probe = CsvFile(
            path,
            encoding=encoding
            or ("latin-1" if detected != "utf-8" and detected != "utf-8-sig" else detected),
        )
        self.columns = {norm_column(h): h for h in probe.header}
        missing = REQUIRED[kind] - set(self.columns)
        if missing:
            raise ImportFileError(
                f"{path}: not a BAAC {kind} file: missing columns {', '.join(sorted(missing))} "
                f"(the file has: {', '.join(probe.header)})"
            )
        pre_marker, post_marker = PRE_2019_MARKER[kind], POST_2019_MARKER[kind]
        if pre_marker and pre_marker in self.columns:
            layout_2019 = False
        elif post_marker and post_marker in self.columns:
            layout_2019 = True
        else:
            layout_2019 = probe.delimiter == ";"
        year = self._first_year(probe)
        if year is not None and (year >= FIRST_UTF8_YEAR) != layout_2019:
            layout = "from 2019 on" if layout_2019 else "before 2019"
            raise ImportFileError(
                f"{path}: wrong year layout: the columns are those of the files {layout} "
                f"but the accidents are of {year}"
            )
        self.year = year
        self.layout_2019 = layout_2019
        self.note: str | None = None
        if encoding:
            chosen = encoding
        elif layout_2019:
            if detected not in ("utf-8", "utf-8-sig"):
                raise ImportFileError(
                    f"{path}: wrong encoding: BAAC files from 2019 on are UTF-8 and this one "
                    "is not (latin-1?); re-export it in UTF-8, or give --encoding latin-1"
                )
            chosen = detected
        elif detected in ("utf-8", "utf-8-sig") and not is_ascii(sample):
            # A file before 2019 re-saved in UTF-8: reading it as latin-1 would garble accents.
            chosen = detected
            self.note = f"{path.name}: read as UTF-8 (files before 2019 are latin-1)"
        else:
            chosen = "latin-1"
        self.csv = CsvFile(path, encoding=chosen, delimiter=probe.delimiter)

    def _first_year(self, probe: CsvFile) -> int | None:
        column = self.columns["num_acc"]
        index = probe.header.index(column)
        for _line, fields in probe.records():
            num = fields[index].strip() if index < len(fields) else ""
            if len(num) >= 4 and num[:4].isdigit():
                return int(num[:4])
            raise ImportFileError(f"{self.path}: Num_Acc {num!r} is not a BAAC accident number")
        return None

    def get(self, row: dict[str, str], name: str) -> str:
        """A field of a row, by its lower-case name."""
        column = self.columns.get(name)
        return (row.get(column) or "").strip() if column else ""


class BaacYearly:
    """One or more yearly sets joined on ``Num_Acc``; the city's accidents only."""

    def __init__(
        self,
        sets: list[dict[str, Path]],
        locator: Locator,
        *,
        communes: frozenset[str] = MARSEILLE_COMMUNES,
        encoding: str | None = None,
    ) -> None:
        if not sets:
            raise ImportFileError("no BAAC yearly set found")
        self.files = [
            {kind: BaacFile(path, kind, encoding) for kind, path in one.items()} for one in sets
        ]
        self.locator = locator
        self.communes = communes
        self.size = sum(f.csv.size for one in self.files for f in one.values())
        self.skipped: Counter[str] = Counter()
        self.notes = [f.note for one in self.files for f in one.values() if f.note]

    def rows(self, progress: Progress | None = None) -> Iterator[Row]:
        """One row per accident of the city (or its rejection), year after year."""
        for one in self.files:
            yield from self._one_set(one, progress)

    def _one_set(self, files: dict[str, BaacFile], progress: Progress | None) -> Iterator[Row]:
        carac = files["caracteristiques"]
        name = carac.path.name
        kept: dict[str, Row] = {}
        outside = f"accidents outside the communes {describe_communes(self.communes)}"
        for line, values, problem in carac.csv.dict_rows(progress):
            if values is None:
                kept[f"#{line}"] = Row(name, line, reason=problem)
                continue
            num = carac.get(values, "num_acc")
            dep = carac.get(values, "dep") if not carac.layout_2019 else None
            if commune_code(carac.get(values, "com"), dep) not in self.communes:
                self.skipped[outside] += 1
                continue
            try:
                kept[num] = Row(name, line, values=self._carac(carac, values, num))
            except RowError as exc:
                kept[f"#{line}"] = Row(name, line, reason=str(exc))
        gravs: dict[str, list[str]] = {}
        catvs: dict[str, list[str]] = {}
        for kind in ("lieux", "vehicules", "usagers"):
            other = files[kind]
            for _line, values, _problem in other.csv.dict_rows(progress):
                if values is None:
                    continue
                num = other.get(values, "num_acc")
                row = kept.get(num)
                if row is None or row.values is None:
                    continue
                attrs = row.values["attributes"]
                if kind == "lieux" and "catr" not in attrs:
                    for field_name in KEPT_LIEUX:
                        if other.get(values, field_name):
                            attrs[field_name] = clean_code(other.get(values, field_name))
                elif kind == "vehicules":
                    catvs.setdefault(num, []).append(other.get(values, "catv"))
                elif kind == "usagers":
                    gravs.setdefault(num, []).append(other.get(values, "grav"))
        for num, row in kept.items():
            if row.values is not None:
                attrs = row.values["attributes"]
                attrs.update(casualty_attributes(gravs.get(num, []), catvs.get(num, [])))
                finish_attributes(attrs)
            yield row

    def _carac(self, carac: BaacFile, values: dict[str, str], num: str) -> dict[str, Any]:
        get = carac.get
        occurred = accident_time(
            get(values, "jour"), get(values, "mois"), get(values, "an"), get(values, "hrmn")
        )
        lat, lon, area = locate_accident(get(values, "lat"), get(values, "long"), self.locator)
        dep = get(values, "dep") if not carac.layout_2019 else None
        attrs: dict[str, Any] = {
            "num_acc": num,
            "commune": commune_code(get(values, "com"), dep),
            "year": carac.year,
        }
        for name in KEPT_CARAC:
            if get(values, name):
                attrs[name] = clean_code(get(values, name))
        return {
            "external_id": num,
            "kind": KIND,
            "occurred_at": occurred,
            "lat": lat,
            "lon": lon,
            "address": (get(values, "adr") or None) and get(values, "adr")[:500],
            "area_code": area,
            "count": 1,
            "attributes": attrs,
        }
