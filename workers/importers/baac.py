"""The official French road-accident files (BAAC, ONISR), as ``road_accident`` incidents.

Two inputs:

* the **yearly set** ``caracteristiques``, ``lieux``, ``vehicules`` and ``usagers`` joined on
  ``Num_Acc`` (give the ``caracteristiques`` file or a folder of sets). From 2019 on the files
  are ``;``-separated UTF-8 with decimal-comma degrees; before, ``,``-separated latin-1 with
  degrees x 100000 and the commune split in ``dep`` (``130``) and ``com`` (``201``);
* a **joined extract**, one row per road user (``Num_Acc``, ``catv``, ``grav``... in one file,
  like ``baac_bicycle_accidents_2017-2021.csv``), grouped into one incident per accident
  (its rows must be consecutive).

Only the city's communes are kept (Marseille's arrondissements 13201-13216 by default); other
accidents are skipped and counted. What the detectors and staff need is kept in ``attributes``:
lighting (``lum``, and ``night``), intersection type (``int``), weather (``atm``), collision,
vehicle categories (``catv``), the worst injury (``grav``, ``severity``) and the casualties.

Memory: the yearly set keeps the city's accidents of one year while it reads the three other
files (a few thousand for Marseille, whatever the national file's size); the extract streams.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from workers.importers.common import (
    CsvFile,
    ImportFileError,
    Locator,
    Progress,
    Row,
    RowError,
    check_file,
    clean_code,
    detect_encoding,
    is_ascii,
    parse_number,
    read_sample,
)

KIND = "road_accident"
PARIS = ZoneInfo("Europe/Paris")
MARSEILLE_COMMUNES = frozenset(f"132{n:02d}" for n in range(1, 17))
FIRST_UTF8_YEAR = 2019

LUM = {
    1: "plein jour",
    2: "crépuscule ou aube",
    3: "nuit sans éclairage public",
    4: "nuit avec éclairage public non allumé",
    5: "nuit avec éclairage public allumé",
}
INT = {
    1: "hors intersection",
    2: "intersection en X",
    3: "intersection en T",
    4: "intersection en Y",
    5: "intersection à plus de 4 branches",
    6: "giratoire",
    7: "place",
    8: "passage à niveau",
    9: "autre intersection",
}
ATM = {
    -1: "non renseigné",
    1: "normale",
    2: "pluie légère",
    3: "pluie forte",
    4: "neige, grêle",
    5: "brouillard, fumée",
    6: "vent fort, tempête",
    7: "temps éblouissant",
    8: "temps couvert",
    9: "autre",
}
CATV = {
    0: "indéterminable",
    1: "bicyclette",
    2: "cyclomoteur <50 cm3",
    3: "voiturette",
    7: "VL seul",
    10: "VU seul",
    13: "PL seul 3,5-7,5 t",
    14: "PL seul > 7,5 t",
    15: "PL > 3,5 t + remorque",
    16: "tracteur routier seul",
    17: "tracteur routier + semi-remorque",
    20: "engin spécial",
    21: "tracteur agricole",
    30: "scooter < 50 cm3",
    31: "motocyclette 50-125 cm3",
    32: "scooter 50-125 cm3",
    33: "motocyclette > 125 cm3",
    34: "scooter > 125 cm3",
    35: "quad léger",
    36: "quad lourd",
    37: "autobus",
    38: "autocar",
    39: "train",
    40: "tramway",
    41: "3RM <= 50 cm3",
    42: "3RM 50-125 cm3",
    43: "3RM > 125 cm3",
    50: "EDP à moteur",
    60: "EDP sans moteur",
    80: "VAE",
    99: "autre véhicule",
}
# grav: 1 unhurt, 2 killed, 3 hospitalised, 4 light injury; ranked from worst.
SEVERITY = {2: "killed", 3: "hospitalised", 4: "light_injury", 1: "unhurt"}
SEVERITY_RANK = {2: 4, 3: 3, 4: 2, 1: 1}

# Columns each file must have (lower case), whatever the year; and what tells 2019+ apart.
REQUIRED = {
    "caracteristiques": {"num_acc", "jour", "mois", "an", "hrmn", "lum", "com", "lat", "long"},
    "lieux": {"num_acc", "catr"},
    "vehicules": {"num_acc", "catv"},
    "usagers": {"num_acc", "grav"},
}
PRE_2019_MARKER = {"caracteristiques": "gps", "lieux": "env1", "vehicules": None, "usagers": None}
POST_2019_MARKER = {
    "caracteristiques": None,
    "lieux": "vma",
    "vehicules": "id_vehicule",
    "usagers": "id_vehicule",
}
KEPT_CARAC = ("lum", "agg", "int", "atm", "col", "dep")
KEPT_LIEUX = ("catr", "circ", "nbv", "vosp", "prof", "plan", "surf", "infra", "situ", "vma")
EXTRACT_REQUIRED = {"num_acc", "catv", "jour", "mois", "an", "hrmn", "lum", "grav"}


def _norm(name: str) -> str:
    name = name.strip().lstrip("\ufeff").strip('"').lower()
    return "num_acc" if name == "accident_id" else name


def parse_commune_range(text: str) -> frozenset[str]:
    """Communes from ``13201-13216,13055``; a clear error when it cannot be read."""
    codes: set[str] = set()
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        if "-" in part:
            low, high = (p.strip() for p in part.split("-", 1))
            if not (low.isdigit() and high.isdigit() and len(low) == len(high) == 5):
                raise ImportFileError(f"--communes: {part!r} is not a range of INSEE codes")
            codes.update(f"{n:05d}" for n in range(int(low), int(high) + 1))
        else:
            codes.add(part)
    if not codes:
        raise ImportFileError("--communes: no commune given")
    return frozenset(codes)


def _describe(codes: frozenset[str]) -> str:
    ordered = sorted(codes)
    if len(ordered) > 2 and all(c.isdigit() for c in ordered):
        numbers = [int(c) for c in ordered]
        if numbers == list(range(numbers[0], numbers[-1] + 1)):
            return f"{ordered[0]}-{ordered[-1]}"
    return ", ".join(ordered)


def full_year(text: str) -> int:
    """A BAAC year: ``17`` (before 2019) or ``2019``."""
    value = int(parse_number(text, "year"))
    return 2000 + value if value < 100 else value


def parse_hrmn(text: str) -> tuple[int, int]:
    """A BAAC time: ``17:30`` (from 2019), or ``1730``, ``950``, ``45`` (HMM without zeros)."""
    raw = text.strip()
    if ":" in raw:
        hours, _, minutes = raw.partition(":")
    else:
        digits = str(int(parse_number(raw, "time"))).zfill(4) if raw else ""
        hours, minutes = digits[:2], digits[2:]
    try:
        hour, minute = int(hours), int(minutes)
    except ValueError as exc:
        raise RowError(f"unreadable time (hrmn) {text!r}") from exc
    if not (0 <= hour < 24 and 0 <= minute < 60):
        raise RowError(f"unreadable time (hrmn) {text!r}")
    return hour, minute


def accident_time(jour: str, mois: str, an: str, hrmn: str) -> datetime:
    """The UTC time of an accident from its local (French) date and time fields."""
    hour, minute = parse_hrmn(hrmn)
    try:
        local = datetime(
            full_year(an),
            int(parse_number(mois, "month")),
            int(parse_number(jour, "day")),
            hour,
            minute,
            tzinfo=PARIS,
        )
    except ValueError as exc:
        raise RowError(f"unreadable date {jour}/{mois}/{an} ({exc})") from exc
    return local.astimezone(UTC)


def baac_degrees(text: str, what: str) -> float | None:
    """Degrees from ``43,2946`` (2019+) or ``4329460`` (degrees x 100000, before); None if empty."""
    raw = (text or "").strip()
    if not raw or raw in {"-", "0", "0.0"}:
        return None
    value = parse_number(raw, what)
    if value == 0:
        return None
    limit = 90 if what == "latitude" else 180
    return value / 100_000 if abs(value) > limit else value


def commune_code(com: str, dep: str | None) -> str:
    """The INSEE code of the commune: ``13201`` (2019+), or ``dep`` ``130`` + ``com`` ``201``."""
    com = (com or "").strip()
    if len(com) == 5 or not dep:
        return com.zfill(5) if com.isdigit() else com
    dep = dep.strip()
    return dep[:2] + com.zfill(3)


def _labelled(attrs: dict[str, Any], name: str, labels: dict[int, str]) -> None:
    value = attrs.get(name)
    if isinstance(value, int) and value in labels:
        attrs[f"{name}_label"] = labels[value]


def _night(lum: Any) -> bool | None:
    if lum in (3, 4, 5):
        return True
    if lum == 1:
        return False
    return None  # dusk or dawn, or unknown


def casualty_attributes(gravs: Iterable[Any], catvs: Iterable[Any]) -> dict[str, Any]:
    """Severity (the worst injury), casualties, and vehicle categories of an accident."""
    grav_codes = [g for g in (clean_code(v) for v in gravs) if isinstance(g, int) and g in SEVERITY]
    cat_codes = sorted({c for c in (clean_code(v) for v in catvs) if isinstance(c, int)})
    attrs: dict[str, Any] = {"catv": cat_codes}
    attrs["vehicle_categories"] = [CATV.get(c, str(c)) for c in cat_codes]
    if grav_codes:
        worst = max(grav_codes, key=lambda g: SEVERITY_RANK[g])
        counts = Counter(grav_codes)
        attrs.update(
            grav=worst,
            severity=SEVERITY[worst],
            users=len(grav_codes),
            killed=counts[2],
            hospitalised=counts[3],
            light_injuries=counts[4],
        )
    return attrs


def _finish(attrs: dict[str, Any]) -> dict[str, Any]:
    _labelled(attrs, "lum", LUM)
    _labelled(attrs, "int", INT)
    _labelled(attrs, "atm", ATM)
    attrs["night"] = _night(attrs.get("lum"))
    return attrs


def _position(lat_text: str, lon_text: str, locator: Locator) -> tuple[float, float, str]:
    lat = baac_degrees(lat_text, "latitude")
    lon = baac_degrees(lon_text, "longitude")
    if lat is None or lon is None:
        raise RowError("no position (lat/long empty or 0)")
    return lat, lon, locator.area_of(lat, lon)


# ---------------------------------------------------------------------------------------------
# The joined extract (one row per road user)
# ---------------------------------------------------------------------------------------------


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
        self.columns = {_norm(h): h for h in self.csv.header}
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
            self.skipped[f"accidents outside the communes {_describe(self.communes)}"] += 1
            return None
        occurred = accident_time(
            get(head, "jour"), get(head, "mois"), get(head, "an"), get(head, "hrmn")
        )
        if get(head, "lat_wgs84") and get(head, "lon_wgs84"):
            lat, lon, area = _position(get(head, "lat_wgs84"), get(head, "lon_wgs84"), self.locator)
        else:
            lat, lon, area = _position(get(head, "lat"), get(head, "long"), self.locator)
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
            "attributes": _finish(attrs),
        }


# ---------------------------------------------------------------------------------------------
# The yearly set (caracteristiques, lieux, vehicules, usagers)
# ---------------------------------------------------------------------------------------------

_PREFIXES = {
    "caracteristiques": ("caracteristiques", "carcteristiques", "caract"),
    "lieux": ("lieux",),
    "vehicules": ("vehicules", "véhicules"),
    "usagers": ("usagers",),
}


def _suffix_of(path: Path) -> str:
    name = path.name.lower()
    for prefix in sorted(_PREFIXES["caracteristiques"], key=len, reverse=True):
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
        match = next((listing[p + suffix] for p in _PREFIXES[kind] if p + suffix in listing), None)
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
        self.columns = {_norm(h): h for h in probe.header}
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
        outside = f"accidents outside the communes {_describe(self.communes)}"
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
                _finish(attrs)
            yield row

    def _carac(self, carac: BaacFile, values: dict[str, str], num: str) -> dict[str, Any]:
        get = carac.get
        occurred = accident_time(
            get(values, "jour"), get(values, "mois"), get(values, "an"), get(values, "hrmn")
        )
        lat, lon, area = _position(get(values, "lat"), get(values, "long"), self.locator)
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


def open_baac(
    path: Path,
    locator: Locator,
    *,
    communes: frozenset[str] = MARSEILLE_COMMUNES,
    encoding: str | None = None,
) -> BaacExtract | BaacYearly:
    """The right reader for a path: a folder of yearly sets, a ``caracteristiques`` file, or a
    joined extract (told apart by its name and header)."""
    if not path.exists():
        raise ImportFileError(f"{path}: no such file or folder")
    if path.is_dir():
        caracs = sorted(
            p
            for p in path.iterdir()
            if p.is_file()
            and p.suffix.lower() == ".csv"
            and p.name.lower().startswith(_PREFIXES["caracteristiques"])
        )
        if not caracs:
            raise ImportFileError(f"{path}: no caracteristiques-YEAR.csv file in this folder")
        return BaacYearly(
            [find_set(c) for c in caracs], locator, communes=communes, encoding=encoding
        )
    if path.name.lower().startswith(_PREFIXES["caracteristiques"]):
        return BaacYearly([find_set(path)], locator, communes=communes, encoding=encoding)
    for kind in ("lieux", "vehicules", "usagers"):
        if path.name.lower().startswith(_PREFIXES[kind]):
            raise ImportFileError(
                f"{path}: a BAAC {kind} file; give its caracteristiques file (the set is read "
                "from there) or the folder"
            )
    return BaacExtract(path, locator, communes=communes, encoding=encoding)
