"""BAAC codes and their labels, and the fields every BAAC file shares (dates, times, degrees,
communes, casualties): what the extract and the yearly set both read.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from workers.importers.positions import Locator
from workers.importers.rows import ImportFileError, RowError, clean_code, parse_number

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


def norm_column(name: str) -> str:
    """A column name as the BAAC files mean it: lower case, no quotes or BOM."""
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


def describe_communes(codes: frozenset[str]) -> str:
    """Communes for messages: a range (``13201-13216``) when they follow on, else a list."""
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


def finish_attributes(attrs: dict[str, Any]) -> dict[str, Any]:
    """Add the labels of the lighting, intersection and weather codes, and ``night``."""
    _labelled(attrs, "lum", LUM)
    _labelled(attrs, "int", INT)
    _labelled(attrs, "atm", ATM)
    attrs["night"] = _night(attrs.get("lum"))
    return attrs


def locate_accident(lat_text: str, lon_text: str, locator: Locator) -> tuple[float, float, str]:
    """(lat, lon, area code) of an accident from its BAAC degrees; RowError without one."""
    lat = baac_degrees(lat_text, "latitude")
    lon = baac_degrees(lon_text, "longitude")
    if lat is None or lon is None:
        raise RowError("no position (lat/long empty or 0)")
    return lat, lon, locator.area_of(lat, lon)
