"""BAAC road-accident files: the real Marseille extract, and yearly sets in both layouts."""

from __future__ import annotations

import csv
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import Result
from sqlmodel import Session, col, func, select

from backend.models import Incident, OutboxMessage
from tests.workers.importers.baac_files import marseille_2017, marseille_2020, write_set
from tests.workers.importers.conftest import EXTRACT

Lanterne = Callable[..., Result]


def _count(session: Session) -> int:
    return session.exec(select(func.count(col(Incident.id)))).one()


def _by_id(session: Session, external_id: str) -> Incident:
    return session.exec(select(Incident).where(Incident.external_id == external_id)).one()


def test_real_extract_gives_one_incident_per_accident_and_reimport_only_updates(
    lanterne: Lanterne, session: Session, marseille_areas: int
) -> None:
    with EXTRACT.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    accidents = {r["Num_Acc"] for r in rows}
    assert (len(rows), len(accidents)) == (413, 233)

    first = lanterne("import", "incidents", EXTRACT, "--source", "baac", "--format", "baac")
    assert first.exit_code == 0, first.output
    assert "233 inserted, 0 updated, 0 rejected" in first.output
    assert _count(session) == 233

    second = lanterne("import", "incidents", EXTRACT, "--source", "baac", "--format", "baac")
    assert second.exit_code == 0, second.output
    assert "0 inserted, 233 updated, 0 rejected" in second.output
    assert _count(session) == 233

    # 201700008833: two road users (unhurt, light injury) on one bicycle, 3 Jan 2017 at 9:50.
    accident = _by_id(session, "201700008833")
    assert accident.kind == "road_accident"
    assert accident.occurred_at == datetime(2017, 1, 3, 8, 50, tzinfo=UTC)
    assert (accident.lat, accident.lon) == pytest.approx((43.23487, 5.43798))
    assert accident.area_code is not None and accident.area_code.startswith("13209")
    attrs = accident.attributes
    assert attrs["severity"] == "light_injury" and attrs["users"] == 2
    assert attrs["lum"] == 1 and attrs["night"] is False and attrs["catv"] == [1]
    # Every accident keeps its lighting, and the worst injury of its road users.
    by_acc: dict[str, set[int]] = {}
    for r in rows:
        by_acc.setdefault(r["Num_Acc"], set()).add(int(r["grav"]))
    killed = [a for a, gravs in by_acc.items() if 2 in gravs]
    for num in killed:
        assert _by_id(session, num).attributes["severity"] == "killed"
    night = session.exec(select(Incident)).all()
    lum_night = sum(1 for i in night if i.attributes["lum"] in (3, 4, 5))
    assert lum_night == sum(1 for i in night if i.attributes["night"] is True) > 0
    # Each committed batch queued its linking job in the same transaction.
    jobs = session.exec(
        select(OutboxMessage).where(OutboxMessage.job_path == "workers.jobs.link_incidents")
    ).all()
    assert jobs and sum(len(j.args[0]) for j in jobs) == 2 * 233


def test_extract_with_a_bad_date_commits_nothing_unless_skip_bad(
    lanterne: Lanterne, session: Session, marseille_areas: int, tmp_path: Path
) -> None:
    lines = EXTRACT.read_text(encoding="utf-8").splitlines()
    fields = lines[1].split(",")
    fields[3] = "13"  # mois = 13, on line 2 (the first of accident 201700008833's two rows)
    lines[1] = ",".join(fields)
    broken = tmp_path / "baac.csv"
    broken.write_text("\n".join(lines) + "\n", encoding="utf-8")

    refused = lanterne("import", "incidents", broken, "--source", "baac", "--format", "baac")
    assert refused.exit_code == 1
    assert "baac.csv lines 2-3: unreadable date 3/13/17" in refused.output
    assert "nothing was written" in refused.output
    assert _count(session) == 0

    rejects = tmp_path / "rejects.csv"
    kept = lanterne(
        "import", "incidents", broken, "--source", "baac", "--format", "baac",
        "--skip-bad", "--rejects", rejects,
    )  # fmt: skip
    assert kept.exit_code == 0, kept.output
    assert "232 inserted, 0 updated, 1 rejected" in kept.output
    assert _count(session) == 232
    with rejects.open(encoding="utf-8") as fh:
        [row] = list(csv.DictReader(fh))
    assert (row["line"], row["last_line"]) == ("2", "3") and "unreadable date" in row["reason"]


def test_an_accident_placed_outside_the_city_is_a_rejected_row(
    lanterne: Lanterne, session: Session, marseille_areas: int, tmp_path: Path
) -> None:
    with EXTRACT.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    for row in rows[:2]:  # both rows of the first accident: in Paris
        row["lat_wgs84"], row["lon_wgs84"] = "48.8606", "2.3376"
    moved = tmp_path / "moved.csv"
    with moved.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    result = lanterne("import", "incidents", moved, "--source", "baac", "--format", "baac")
    assert result.exit_code == 1
    assert "moved.csv lines 2-3: the position (48.86060, 2.33760) is outside the city" in (
        result.output
    )
    assert _count(session) == 0


def test_yearly_sets_in_both_layouts_and_encodings(
    lanterne: Lanterne, session: Session, marseille_areas: int, tmp_path: Path
) -> None:
    folder = tmp_path / "baac"
    write_set(folder, 2017, marseille_2017())
    write_set(folder, 2020, marseille_2020())
    raw_2017 = (folder / "caracteristiques-2017.csv").read_bytes()
    assert b"\xe9" in raw_2017 and raw_2017.startswith(b"Num_Acc,an,")  # latin-1, ','
    assert (folder / "caracteristiques-2020.csv").read_bytes().startswith(b'"Num_Acc";"jour"')

    result = lanterne("import", "incidents", folder, "--source", "baac", "--format", "baac")
    assert result.exit_code == 0, result.output
    assert "4 inserted" in result.output
    assert "Skipped 2: accidents outside the communes 13201-13216" in result.output
    assert _count(session) == 4

    old = _by_id(session, "201700000101")
    assert old.address == "Cours Julien (près de la République)"  # latin-1 read right
    # 14 July 2017, 22:30 in Marseille (summer time) is 20:30 UTC.
    assert old.occurred_at == datetime(2017, 7, 14, 20, 30, tzinfo=UTC)
    assert (old.lat, old.lon) == pytest.approx((43.29352, 5.38337))
    attrs = old.attributes
    assert attrs["commune"] == "13201" and attrs["int"] == 2
    assert attrs["int_label"] == "intersection en X"
    assert attrs["catv"] == [1, 7] and attrs["severity"] == "hospitalised"
    assert attrs["night"] is True and attrs["lum_label"] == "nuit avec éclairage public allumé"
    assert attrs["catr"] == 4

    new = _by_id(session, "202000000201")
    assert new.address == "Place Estrangin Pastré, côté préfecture"
    assert new.occurred_at == datetime(2020, 1, 15, 7, 5, tzinfo=UTC)
    assert (new.lat, new.lon) == pytest.approx((43.29029, 5.37782))
    assert new.attributes["severity"] == "killed" and new.attributes["catv"] == [7, 50]
    assert new.attributes["int_label"] == "intersection en T"

    again = lanterne(
        "import", "incidents", folder / "caracteristiques-2020.csv", "--source", "baac",
        "--format", "baac",
    )  # fmt: skip
    assert "0 inserted, 2 updated" in again.output
    assert _count(session) == 4


def test_a_2020_set_in_latin1_is_refused_as_the_wrong_encoding(
    lanterne: Lanterne, session: Session, tmp_path: Path
) -> None:
    carac = write_set(tmp_path, 2020, marseille_2020(), encoding="latin-1")
    result = lanterne("import", "incidents", carac, "--source", "baac", "--format", "baac")
    assert result.exit_code == 1
    assert "caracteristiques-2020.csv: wrong encoding" in result.output
    assert "from 2019 on are UTF-8" in result.output and "Nothing was imported" in result.output
    assert _count(session) == 0


def test_a_set_in_the_layout_of_another_year_is_refused(
    lanterne: Lanterne, session: Session, tmp_path: Path
) -> None:
    carac = write_set(tmp_path, 2020, marseille_2020(), layout="pre")
    result = lanterne("import", "incidents", carac, "--source", "baac", "--format", "baac")
    assert result.exit_code == 1
    assert "wrong year layout" in result.output
    assert "files before 2019 but the accidents are of 2020" in result.output
    assert _count(session) == 0


def test_incomplete_or_misnamed_sets_say_what_is_wrong(
    lanterne: Lanterne, session: Session, tmp_path: Path
) -> None:
    carac = write_set(tmp_path, 2017, marseille_2017())
    lieux = lanterne(
        "import", "incidents", tmp_path / "lieux-2017.csv", "--source", "baac", "--format", "baac"
    )
    assert lieux.exit_code == 1 and "give its caracteristiques file" in lieux.output

    (tmp_path / "usagers-2017.csv").unlink()
    missing = lanterne("import", "incidents", carac, "--source", "baac", "--format", "baac")
    assert missing.exit_code == 1 and "needs usagers-2017.csv beside it" in missing.output

    other = tmp_path / "other.csv"
    other.write_text("a,b\n1,2\n", encoding="utf-8")
    wrong = lanterne("import", "incidents", other, "--source", "baac", "--format", "baac")
    assert wrong.exit_code == 1 and "not a joined BAAC extract: missing columns" in wrong.output
    assert _count(session) == 0


def test_dry_run_counts_without_writing(
    lanterne: Lanterne, session: Session, marseille_areas: int
) -> None:
    result = lanterne(
        "import", "incidents", EXTRACT, "--source", "baac", "--format", "baac", "--dry-run"
    )
    assert result.exit_code == 0, result.output
    assert "Dry run, nothing written: 233 rows read, 233 inserted" in result.output
    assert _count(session) == 0
