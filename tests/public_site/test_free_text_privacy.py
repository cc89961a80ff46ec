"""Free text residents and staff write is public only once scrubbed, in every public output.

A resident types a name, a phone and an e-mail into the address; an agent and a back office
do the same in their public notes. Then every public output is read back (Open311 JSON and
XML, with and without a key, the updates, the tracking page and API, the public pages, the
indicators, every open data file) and none of it may appear. Both databases run it.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import Session, col, select

from backend.db import utcnow
from backend.models import Report, ReportUpdate
from backend.services import apikeys
from tests.public_site.conftest import add_report
from tests.staff.triage_data import token_for
from workers.publication.open_data import spreadsheet_safe

VIEUX_PORT = {"lat": 43.2951, "lon": 5.3740}
ADDRESS = "Chez Mme Karima Benali, 12 rue Paradis, 06 12 34 56 78, karima.benali@example.org"
AGENT_NOTE = "Vu avec M. Jean Dupont (06 98 76 54 32, jean.dupont@example.com) : réparé demain."
BACKOFFICE_NOTE = "Enrobé refait, merci à Mme Sophie Lefèvre, sophie.lefevre@example.net"
SECRETS = [
    "Karima",
    "Benali",
    "06 12 34 56 78",
    "karima.benali@example.org",
    "Dupont",
    "06 98 76 54 32",
    "jean.dupont@example.com",
    "Lefèvre",
    "sophie.lefevre@example.net",
]


def leaks(text: str) -> list[str]:
    """The secrets found in a public output (JSON escapes undone: a leak is a leak)."""
    return [secret for secret in SECRETS if secret in text]


def public_texts(client: FlaskClient, api_key: str, tracking_id: str, area: str) -> dict[str, str]:
    """Every public output this report can reach, by name."""
    base = "/open311/v2"
    out: dict[str, str] = {}
    for key in ("", f"?api_key={api_key}"):
        for fmt in ("json", "xml"):
            for path in ("requests", "servicerequestupdates"):
                response = client.get(f"{base}/{path}.{fmt}{key}")
                assert response.status_code == 200, response.get_data(as_text=True)
                out[f"{path}.{fmt}{key}"] = response.get_data(as_text=True)
    for path in (
        f"/suivi/{tracking_id}",
        f"/api/v1/reports/{tracking_id}",
        "/",
        f"/quartiers/{area}",
        "/donnees",
        "/api/v1/indicators",
    ):
        response = client.get(path)
        # Before the first publication the figures are not there yet (404), which is fine.
        assert response.status_code in (200, 404), (path, response.status_code)
        out[path] = response.get_data(as_text=True)
    return out


def unescaped(text: str) -> str:
    """JSON answers escape non-ASCII characters; read them as a person would."""
    try:
        return json.dumps(json.loads(text), ensure_ascii=False)
    except ValueError:
        return text


def test_names_phones_emails_in_address_and_notes_never_reach_the_public(
    app: Flask,
    client: FlaskClient,
    session: Session,
    marseille_areas: int,
    run_jobs: Callable[[], int],
    publish: Callable[[], dict[str, Any]],
) -> None:
    _key, api_key = apikeys.create_key(session=session, name="appli")
    _key, backoffice = apikeys.create_key(session=session, name="gmao", can_post_updates=True)
    created = client.post(
        "/api/v1/reports",
        json={
            "description": "Lampadaire éteint depuis trois jours",
            "address": ADDRESS,
            "service_code": "streetlight",
            **VIEUX_PORT,
        },
    )
    assert created.status_code == 201, created.json
    tracking_id = created.json["tracking_id"]
    report = session.exec(select(Report).where(Report.tracking_id == tracking_id)).one()
    assert report.id is not None and report.area_code
    # Before the worker has run, the address is absent, not raw.
    listed = client.get(f"/open311/v2/requests/{report.id}.json").get_json()[0]
    assert listed["address"] is None and listed["description"] is None
    found = {
        name: leaks(unescaped(text))
        for name, text in public_texts(client, api_key, tracking_id, report.area_code).items()
    }
    assert {name: hits for name, hits in found.items() if hits} == {}
    run_jobs()

    agent = token_for(session, "agent@marseille.fr", "agent", service_codes=["streetlight"])
    noted = client.post(
        f"/api/v1/staff/reports/{report.id}/status",
        json={"status": "in_progress", "public_note": AGENT_NOTE},
        headers=agent,
    )
    assert noted.status_code == 200, noted.json
    assert noted.json["history"][-1]["scrub_pending"] is True  # no worker listens here
    posted = client.post(
        "/open311/v2/servicerequestupdates.json",
        data={
            "api_key": backoffice,
            "service_request_id": str(report.id),
            "update_id": "GMAO-1",
            "status": "FIXED",
            "updated_datetime": utcnow().isoformat(),
            "description": BACKOFFICE_NOTE,
        },
    )
    assert posted.status_code == 200, posted.get_data(as_text=True)
    # Unscrubbed notes are not shown at all until the worker has run.
    pending = public_texts(client, api_key, tracking_id, report.area_code)
    found = {name: leaks(unescaped(text)) for name, text in pending.items()}
    assert {name: hits for name, hits in found.items() if hits} == {}
    run_jobs()

    # Enough reports in the cell for the open data to list this one report by report.
    session.expire_all()
    stored = session.get(Report, report.id)
    assert stored is not None and stored.area_code
    for _ in range(6):
        add_report(
            session,
            area=stored.area_code,
            service="streetlight",
            created=stored.created_at,
            description_public="Lampadaire éteint",
        )
    session.commit()
    publish()
    outputs = public_texts(client, api_key, tracking_id, stored.area_code)
    folder = Path(app.config["PUBLIC_DATA_PATH"])
    files = sorted(folder.iterdir())
    assert {p.name for p in files} >= {"signalements.csv", "signalements.geojson"}
    for path in files:
        outputs[path.name] = path.read_text(encoding="utf-8")
        with client.get(f"/donnees/{path.name}") as download:
            outputs[f"/donnees/{path.name}"] = download.get_data(as_text=True)
    found = {name: leaks(unescaped(text)) for name, text in outputs.items()}
    assert {name: hits for name, hits in found.items() if hits} == {}

    # What is published instead: the scrubbed versions, placeholders in place.
    one = json.loads(outputs["requests.json"])
    mine = next(r for r in one if r["service_request_id"] == str(report.id))
    assert mine["address"] == "Chez Mme [nom], [adresse], [téléphone], [e-mail]"
    assert mine["status_notes"] == "Enrobé refait, merci à Mme [nom], [e-mail]"
    updates = json.loads(outputs["servicerequestupdates.json"])
    notes = [u["description"] for u in updates if u["service_request_id"] == str(report.id)]
    assert "Vu avec M. [nom] ([téléphone], [e-mail]) : réparé demain." in notes
    assert "Vu avec M. [nom]" in outputs[f"/suivi/{tracking_id}"]
    assert "Lampadaire éteint depuis trois jours" in outputs["signalements.csv"]
    # Staff still read what was written, and what was removed from it.
    view = client.get(f"/api/v1/staff/reports/{report.id}", headers=agent).json
    assert view["address"] == ADDRESS
    assert view["address_public"] == mine["address"]
    step = next(s for s in view["history"] if s["public_note"] == AGENT_NOTE)
    assert step["public_note_removed"] == ["email", "name", "phone"]
    assert step["scrub_pending"] is False


def test_the_backlog_job_scrubs_rows_written_before_the_scrubbed_columns(
    session: Session, run_jobs: Callable[[], int]
) -> None:
    from backend.services import outbox
    from tests.staff.triage_data import make_report

    report = make_report(session, code="streetlight")
    report.address = ADDRESS
    session.add(report)
    session.add(ReportUpdate(report_id=report.id, status="in_progress", public_note=AGENT_NOTE))
    session.commit()
    outbox.add_job(
        session=session,
        job_path="workers.jobs.scrub_backlog",
        args=[],
        job_id="scrub-backlog-0013",
        queue="default",
    )
    session.commit()
    run_jobs()
    session.expire_all()
    stored = session.get(Report, report.id)
    assert stored is not None
    assert stored.address_public == "Chez Mme [nom], [adresse], [téléphone], [e-mail]"
    [step] = session.exec(
        select(ReportUpdate).where(col(ReportUpdate.public_note).is_not(None))
    ).all()
    assert step.public_note_published == "Vu avec M. [nom] ([téléphone], [e-mail]) : réparé demain."
    assert step.public_note_removed == ["email", "name", "phone"]


FORMULAS = ['=HYPERLINK("http://x")', "+1+2", "-2+3", "@SUM(A1)", "\tcmd", "\rcmd"]


def test_open_data_csv_cells_never_run_as_formulas(
    app: Flask,
    client: FlaskClient,
    session: Session,
    marseille_areas: int,
    publish: Callable[[], dict[str, Any]],
) -> None:
    created = utcnow().replace(day=1, hour=12)
    for text in FORMULAS:
        add_report(
            session,
            area="1320101",
            service="streetlight",
            created=created,
            description_public=text,
        )
    session.commit()
    publish()
    with client.get("/donnees/signalements.csv") as download:
        body = download.get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(body, newline="")))
    descriptions = sorted(row["description"] for row in rows)
    assert descriptions == sorted("'" + text for text in FORMULAS)
    for row in rows:
        assert float(row["lat"]) > 0  # numbers stay numbers
    # The GeoJSON is not read by spreadsheets: the text stays as it is.
    with client.get("/donnees/signalements.geojson") as download:
        geo = json.loads(download.get_data(as_text=True))
    assert sorted(f["properties"]["description"] for f in geo["features"]) == sorted(FORMULAS)
    # Every CSV the publication writes goes through the same rule (area names included).
    assert spreadsheet_safe({"area_name": "=cmd", "reports": -3}) == {
        "area_name": "'=cmd",
        "reports": -3,
    }
