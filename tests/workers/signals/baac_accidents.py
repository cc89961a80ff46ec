"""The real BAAC extract of Marseille as co-occurrence incidents, for the signals tests."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from workers.signals.cooccurrence import Incident

REFERENCE = Path(__file__).resolve().parents[3] / ".." / "shared" / "reference"
MARSEILLE = REFERENCE / "marseille"
PARIS = ZoneInfo("Europe/Paris")

needs_marseille = pytest.mark.skipif(
    not MARSEILLE.is_dir(), reason="shared reference data not available"
)


def baac_accidents() -> list[tuple[Incident, int]]:
    """One incident per accident of the extract, with its BAAC lighting code (``lum``)."""
    with (MARSEILLE / "baac_bicycle_accidents_2017-2021.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    seen: dict[str, tuple[Incident, int]] = {}
    for r in rows:
        if r["Num_Acc"] in seen:
            continue  # one row per road user; one accident per Num_Acc
        year = int(r["an"]) + (2000 if len(r["an"]) == 2 else 0)
        hrmn = r["hrmn"]
        hh, mm = hrmn.split(":") if ":" in hrmn else (hrmn[:-2] or "0", hrmn[-2:])
        local = dt.datetime(year, int(r["mois"]), int(r["jour"]), int(hh), int(mm), tzinfo=PARIS)
        lum = int(r["lum"])
        night = True if lum in (3, 4, 5) else False if lum == 1 else None
        inc = Incident(float(r["lon_wgs84"]), float(r["lat_wgs84"]), local, night)
        seen[r["Num_Acc"]] = (inc, lum)
    return list(seen.values())
