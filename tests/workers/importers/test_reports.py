"""Historical reports: Report rows with their history, keyed on external id, queued as needed."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from click.testing import Result
from sqlmodel import Session, col, select

from backend.models import OutboxMessage, Report, ReportUpdate

Lanterne = Callable[..., Result]

REPORTS = """\
external_id,created_at,lat,lon,address,description,service_code,status,closed_at
R1,2024-03-01T08:00:00+01:00,43.28898,5.38196,,Feu rouge en panne,traffic_signal,closed,\
2024-03-02T10:00:00+01:00
R2,2024-03-05T09:00:00+01:00,43.29352,5.38337,,Lampadaire éteint depuis trois jours,,open,
R3,2024-03-06T09:00:00+01:00,,,Rue de Rome,,road_damage,in_progress,
"""

SYSTEM_EXPORT = """\
ID;Date demande;Heure;Adresse;Objet;Etat;Date cloture
45001;01/02/2023;08:10;Cours Julien;Eclairage;Terminé;03/02/2023
45002;02/02/2023;19:45;Rue de Rome;Voirie;En cours;
"""

SYSTEM_MAPPING = """\
delimiter = ";"
address = "Adresse"
[external_id]
column = "ID"
[created_at]
date = "Date demande"
time = "Heure"
formats = ["%d/%m/%Y"]
[closed_at]
date = "Date cloture"
formats = ["%d/%m/%Y"]
[position]
address = "Adresse"
[service_code]
column = "Objet"
map = { "Eclairage" = "streetlight", "Voirie" = "road_damage" }
[status]
column = "Etat"
map = { "Terminé" = "fixed", "En cours" = "in_progress" }
"""


def _reports(session: Session) -> list[Report]:
    return list(session.exec(select(Report).order_by(col(Report.external_id))))


def _history(session: Session, report: Report) -> list[str]:
    stmt = (
        select(ReportUpdate)
        .where(ReportUpdate.report_id == report.id)
        .order_by(col(ReportUpdate.created_at), col(ReportUpdate.id))
    )
    return [u.status for u in session.exec(stmt)]


def test_historical_reports_with_history_classification_and_linking_jobs(
    lanterne: Lanterne, session: Session, marseille_areas: int, tmp_path: Path
) -> None:
    from tests.workers.importers.conftest import STREETS

    data = tmp_path / "reports.csv"
    data.write_text(REPORTS, encoding="utf-8")
    result = lanterne("import", "reports", data, "--streets", STREETS)
    assert result.exit_code == 0, result.output
    assert "3 inserted, 0 updated, 0 rejected" in result.output

    signal, light, road = _reports(session)
    assert {r.source for r in (signal, light, road)} == {"import"}
    assert signal.service_code == "traffic_signal" and signal.status == "closed"
    assert signal.created_at == datetime(2024, 3, 1, 7, 0, tzinfo=UTC)
    assert signal.closed_at == datetime(2024, 3, 2, 9, 0, tzinfo=UTC)
    assert signal.area_code and signal.tracking_id
    assert _history(session, signal) == ["received", "closed"]
    assert light.service_code is None and light.status == "open"
    assert road.address == "Rue de Rome" and road.lat is not None  # placed on its street

    jobs = {m.job_id: m for m in session.exec(select(OutboxMessage))}
    # Text without a service code goes to classification, like intake.
    assert f"process-report-{light.id}" in jobs
    assert f"process-report-{signal.id}" not in jobs
    [link_job] = [m for m in jobs.values() if m.job_path == "workers.jobs.link_reports"]
    assert set(link_job.args[0]) == {signal.id, road.id}

    again = lanterne("import", "reports", data, "--streets", STREETS)
    assert "0 inserted, 3 updated" in again.output
    session.expire_all()
    assert len(_reports(session)) == 3
    assert _history(session, signal) == ["received", "closed"]  # replaced, not duplicated
    assert _reports(session)[0].tracking_id == signal.tracking_id


def test_a_former_systems_export_through_a_mapping(
    lanterne: Lanterne, session: Session, marseille_areas: int, tmp_path: Path
) -> None:
    from tests.workers.importers.conftest import STREETS

    data = tmp_path / "export.csv"
    data.write_text(SYSTEM_EXPORT, encoding="cp1252")
    mapping = tmp_path / "ancien.toml"
    mapping.write_text(SYSTEM_MAPPING, encoding="utf-8")
    result = lanterne(
        "import", "reports", data, "--mapping", mapping, "--streets", STREETS,
        "--source", "ancien",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    fixed, ongoing = _reports(session)
    assert fixed.source == "ancien" and fixed.external_id == "45001"
    assert fixed.service_code == "streetlight" and fixed.status == "fixed"
    assert fixed.created_at == datetime(2023, 2, 1, 7, 10, tzinfo=UTC)
    assert _history(session, fixed) == ["received", "fixed"]
    assert ongoing.status == "in_progress" and ongoing.closed_at is None


def test_bad_report_rows_commit_nothing(
    lanterne: Lanterne, session: Session, marseille_areas: int, tmp_path: Path
) -> None:
    text = REPORTS + (
        "R4,2024-03-07T09:00:00+01:00,43.29,5.38,,Texte,unknown_code,open,\n"
        "R5,2024-03-07T09:00:00+01:00,43.29,5.38,,Texte,,archived,\n"
        "R6,2024-03-07T09:00:00+01:00,43.29,5.38,,Texte,,closed,2024-03-01T09:00:00+01:00\n"
        "R7,2024-03-07T09:00:00+01:00,43.29,5.38,,,,open,\n"
    )
    data = tmp_path / "reports.csv"
    data.write_text(text, encoding="utf-8")
    result = lanterne("import", "reports", data)
    assert result.exit_code == 1
    for line, reason in [
        (4, "an address needs a street gazetteer"),
        (5, "unknown service code 'unknown_code'"),
        (6, "unknown status 'archived'"),
        (7, "closed before it was created"),
        (8, "neither text nor service code"),
    ]:
        assert f"reports.csv line {line}: {reason}" in result.output
    assert _reports(session) == []


def test_a_file_without_usable_columns_is_explained(
    lanterne: Lanterne, session: Session, tmp_path: Path
) -> None:
    data = tmp_path / "reports.csv"
    data.write_text("id,when,text\n1,2024-01-01,x\n", encoding="utf-8")
    result = lanterne("import", "reports", data)
    assert result.exit_code == 1
    assert "no 'description' nor 'service_code' column" in result.output
    data.write_text("id,when,description,lat,lon\n1,2024-01-01,x,43.3,5.4\n", encoding="utf-8")
    result = lanterne("import", "reports", data)
    assert result.exit_code == 1
    assert "columns missing from the file: 'created_at', 'external_id'" in result.output
