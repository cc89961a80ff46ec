"""Fixtures of the signals tests."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import numpy as np
import pytest
from sqlmodel import Session

from tests.workers.signals.synthetic import AS_OF, add_reports, background

REFERENCE = Path(__file__).resolve().parents[3] / ".." / "shared" / "reference"
SALM = REFERENCE / "surveillance_salmNewport"


def _na(value: str) -> float:
    return np.nan if value == "NA" else float(value)


@pytest.fixture(scope="module")
def salm() -> dict[str, object]:
    """The salmNewport weekly counts and surveillance's outputs for 2011 (bounds, alarms)."""
    with (SALM / "salmNewport_germany_weekly.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    with (SALM / "salmNewport_2011_reference_outputs.csv").open() as fh:
        ref = list(csv.DictReader(fh))
    dates = [dt.date.fromisoformat(r["week_start"]) for r in rows]
    first = dates.index(dt.date.fromisoformat(ref[0]["week_start"]))
    positions = list(range(first, first + len(ref)))
    assert [str(dates[p]) for p in positions] == [r["week_start"] for r in ref]
    return {
        "dates": dates,
        "counts": np.array([float(r["observed"]) for r in rows]),
        "positions": positions,
        "ref": {k: np.array([_na(r[k]) for r in ref]) for k in ref[0] if k.endswith("_ub")},
        "alarms": {k: np.array([r[k] == "TRUE" for r in ref]) for k in ref[0] if "alarm" in k},
    }


@pytest.fixture
def quiet_city(session: Session, marseille_areas: int) -> int:
    """A year of street-light and graffiti reports in Marseille, nothing unusual."""
    rows = background(
        session,
        services=("streetlight", "graffiti"),
        per_year=900,
        days=365,
        as_of=AS_OF,
        seed=7,
    )
    return add_reports(session, rows, prefix="bg")
