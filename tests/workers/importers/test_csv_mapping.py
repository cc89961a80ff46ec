"""Generic CSV imports through the example mappings of docs/examples/mappings, and bad input."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import Result
from sqlmodel import Session, col, func, select

from backend.models import Area, Incident
from tests.workers.importers.conftest import MAPPINGS, STREETS

Lanterne = Callable[..., Result]

MAIN_COURANTE = """\
N° MC;Date;Heure;Nature;Adresse;Latitude;Longitude;Agent;Suite donnée
MC-2024-00017;02/03/2024;22h15;Tapage nocturne;12 rue de Rome;43,28898;5,38196;Dupont;\
Rappel à la loi
MC-2024-00018;03/03/2024;01:40;Rixe;4 Cours Julien 13006 Marseille;;;Martin;Interpellation
MC-2024-00019;03/03/2024;14:00;Vol à l'étalage;Place Estrangin Pastré;43,29029;5,37782;\
Durand;Plainte
"""

TRANSPORT = """\
incident_id,datetime,line,stop_name,stop_lat,stop_lon,category,delay_min
T-88121,2024-03-02T22:15:00+01:00,T2,Noailles,43.29649,5.38163,agression,12
T-88122,2024-03-02T23:05:00+01:00,82,Castellane,43.28560,5.38330,degradation,0
"""

LIGHTING = """\
ticket;date_signalement;adresse;cause;date_reparation
ECL-2024-0412;02/03/2024 18:40;45 bd de la Pomme 13011 Marseille;lampe HS;05/03/2024
ECL-2024-0413;03/03/2024;Cours Julien;câble sectionné;
"""


def _write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_text(text, encoding=encoding)
    return path


def _incidents(session: Session) -> list[Incident]:
    return list(session.exec(select(Incident).order_by(col(Incident.external_id))))


def test_main_courante_export_in_windows_1252_with_addresses(
    lanterne: Lanterne, session: Session, marseille_areas: int, tmp_path: Path
) -> None:
    data = _write(tmp_path / "mc.csv", MAIN_COURANTE, encoding="cp1252")
    args = ["import", "incidents", data, "--source", "police_municipale"]
    args += ["--mapping", MAPPINGS / "main_courante.toml"]
    # Without the gazetteer, the row with an address only cannot be placed.
    refused = lanterne(*args)
    assert refused.exit_code == 1
    assert "mc.csv line 3: an address needs a street gazetteer" in refused.output
    assert _incidents(session) == []

    result = lanterne(*args, "--streets", STREETS)
    assert result.exit_code == 0, result.output
    assert "3 inserted" in result.output
    noise, fight, theft = _incidents(session)
    assert noise.kind == "main_courante:tapage"
    assert noise.occurred_at == datetime(2024, 3, 2, 21, 15, tzinfo=UTC)
    assert noise.attributes == {"Suite donnée": "Rappel à la loi"}  # the officer's name dropped
    assert fight.kind == "main_courante:rixe" and fight.address == "4 Cours Julien 13006 Marseille"
    assert (fight.lat, fight.lon) == pytest.approx((43.29352, 5.38337))  # the street's centre
    assert theft.kind == "main_courante:Vol à l'étalage"
    assert all(i.area_code for i in (noise, fight, theft))


def test_transport_log_with_iso_times_and_reimport_updates(
    lanterne: Lanterne, session: Session, marseille_areas: int, tmp_path: Path
) -> None:
    data = _write(tmp_path / "rtm.csv", TRANSPORT)
    args = ["import", "incidents", data, "--source", "rtm"]
    args += ["--mapping", MAPPINGS / "transport_incidents.toml"]
    assert "2 inserted" in lanterne(*args).output
    first, second = _incidents(session)
    assert first.kind == "transport:agression" and first.external_id == "T-88121"
    assert first.occurred_at == datetime(2024, 3, 2, 21, 15, tzinfo=UTC)
    assert first.attributes == {"line": "T2", "stop_name": "Noailles", "delay_min": 12}
    # The operator corrects a delay: a re-import updates, never duplicates.
    _write(data, TRANSPORT.replace("degradation,0", "degradation,25"))
    assert "0 inserted, 2 updated" in lanterne(*args).output
    session.expire_all()
    assert len(_incidents(session)) == 2
    assert _incidents(session)[1].attributes["delay_min"] == 25


def test_hospital_admissions_by_quartier_and_day_with_counts(
    lanterne: Lanterne, session: Session, marseille_areas: int, tmp_path: Path
) -> None:
    text = (
        "jour,code_quartier,motif,nb_passages\n"
        "2024-03-02,1320101,traumatisme,7\n"
        "2024-03-02,1320102,traumatisme,0\n"
        "2024-03-03,1320101,intoxication,2\n"
        "2024-03-03,9999999,intoxication,2\n"
    )
    data = _write(tmp_path / "urgences.csv", text)
    args = ["import", "incidents", data, "--source", "urgences"]
    args += ["--mapping", MAPPINGS / "hospital_admissions.toml", "--skip-bad"]
    result = lanterne(*args)
    assert result.exit_code == 0, result.output
    assert "3 inserted, 0 updated, 1 rejected" in result.output
    assert "urgences.csv line 5: unknown area code '9999999'" in result.output
    belsunce = session.exec(select(Area).where(Area.code == "1320101")).one()
    rows = _incidents(session)
    assert [r.external_id for r in rows][0] == "2024-03-02:1320101:traumatisme"
    trauma = rows[0]
    assert trauma.count == 7 and trauma.area_code == "1320101"
    assert trauma.kind == "urgences:traumatisme"
    assert (trauma.lat, trauma.lon) == pytest.approx((belsunce.centroid_lat, belsunce.centroid_lon))
    assert sorted(r.count for r in rows) == [0, 2, 7]


def test_lighting_outage_tickets_placed_by_street(
    lanterne: Lanterne, session: Session, marseille_areas: int, tmp_path: Path
) -> None:
    data = _write(tmp_path / "eclairage.csv", LIGHTING)
    result = lanterne(
        "import", "incidents", data, "--source", "eclairage",
        "--mapping", MAPPINGS / "lighting_outages.json", "--streets", STREETS,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    pomme, julien = _incidents(session)
    assert pomme.kind == julien.kind == "lighting_outage"
    assert pomme.address == "45 bd de la Pomme 13011 Marseille"
    assert pomme.attributes == {"cause": "lampe HS", "date_reparation": "05/03/2024"}
    assert julien.occurred_at == datetime(2024, 3, 2, 23, 0, tzinfo=UTC)  # a date alone: midnight


def test_a_mapping_naming_missing_columns_fails_before_reading_rows(
    lanterne: Lanterne, session: Session, tmp_path: Path
) -> None:
    data = _write(tmp_path / "rtm.csv", TRANSPORT.replace("stop_lat", "latitude"))
    result = lanterne(
        "import", "incidents", data, "--source", "rtm",
        "--mapping", MAPPINGS / "transport_incidents.toml",
    )  # fmt: skip
    assert result.exit_code == 1
    assert "the mapping names columns missing from the file: 'stop_lat'" in result.output
    assert "Nothing was imported" in result.output
    assert session.exec(select(func.count(col(Incident.id)))).one() == 0


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such file"),
        ("", "the file is empty"),
        ("incident_id,datetime,line,stop_name,stop_lat,stop_lon,category,delay_min\n", "no data"),
    ],
)
def test_missing_empty_and_header_only_files(
    lanterne: Lanterne, session: Session, tmp_path: Path, content: str | None, message: str
) -> None:
    data = tmp_path / "rtm.csv"
    if content is not None:
        _write(data, content)
    result = lanterne(
        "import", "incidents", data, "--source", "rtm",
        "--mapping", MAPPINGS / "transport_incidents.toml",
    )  # fmt: skip
    assert result.exit_code == 1
    assert message in result.output and "Nothing was imported" in result.output


def test_unreadable_dates_and_positions_outside_the_city_are_listed_with_their_lines(
    lanterne: Lanterne, session: Session, marseille_areas: int, tmp_path: Path
) -> None:
    text = TRANSPORT + (
        "T-88123,hier soir,T3,Rome,43.28898,5.38196,panne,3\n"
        "T-88124,2024-03-03T10:00:00+01:00,M1,Paris?,48.8606,2.3376,panne,3\n"
    )
    data = _write(tmp_path / "rtm.csv", text)
    rejects = tmp_path / "rejects.csv"
    result = lanterne(
        "import", "incidents", data, "--source", "rtm",
        "--mapping", MAPPINGS / "transport_incidents.toml", "--rejects", rejects,
    )  # fmt: skip
    assert result.exit_code == 1
    assert "rtm.csv line 4: unreadable date 'hier soir' in column 'datetime'" in result.output
    assert "rtm.csv line 5: the position (48.86060, 2.33760) is outside the city" in result.output
    assert "nothing was written" in result.output
    assert session.exec(select(func.count(col(Incident.id)))).one() == 0
    assert rejects.read_text(encoding="utf-8").count("\n") == 3  # header + 2 rows


def test_rows_without_id_get_a_stable_hash_and_csv_needs_a_mapping(
    lanterne: Lanterne, session: Session, tmp_path: Path
) -> None:
    mapping = _write(
        tmp_path / "m.toml",
        '[occurred_at]\ndate = "quand"\n[position]\nlat = "lat"\nlon = "lon"\n'
        '[kind]\nvalue = "constat"\n',
    )
    data = _write(
        tmp_path / "d.csv",
        "quand|lat|lon|note\n2024-01-05 10:00|43.29|5.38|a\n2024-01-05 11:00|43.29|5.38|b\n",
    )
    args = ["import", "incidents", data, "--source", "constats", "--mapping", mapping]
    assert "2 inserted" in lanterne(*args).output  # '|' detected; no areas: the bbox
    assert "0 inserted, 2 updated" in lanterne(*args).output
    ids = [i.external_id for i in _incidents(session)]
    assert len(set(ids)) == 2 and all(i.startswith("h") for i in ids)
    no_mapping = lanterne("import", "incidents", data, "--source", "constats")
    assert no_mapping.exit_code == 1 and "needs --mapping" in no_mapping.output


def test_mapping_typos_are_reported(lanterne: Lanterne, tmp_path: Path) -> None:
    mapping = _write(tmp_path / "m.toml", '[ocurred_at]\ndate = "d"\n[kind]\nvalue = "x"\n')
    data = _write(tmp_path / "d.csv", "d\n2024-01-01\n")
    result = lanterne("import", "incidents", data, "--source", "s", "--mapping", mapping)
    assert result.exit_code == 1 and "unknown key(s) ['ocurred_at']" in result.output
