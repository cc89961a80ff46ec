"""Reading requests: only scrubbed text is public, categories about people by area only."""

from __future__ import annotations

import json
from collections.abc import Callable

from flask.testing import FlaskClient
from sqlmodel import Session, select
from werkzeug.test import TestResponse

from backend.models import Report, ReportStatus
from backend.services.public_notes import queue_scrubbing
from backend.services.reports import set_status
from tests.open311.conftest import BASE, created_id, parse_xml, xml_items

PostRequest = Callable[..., TestResponse]


def test_only_scrubbed_text_and_public_notes_are_published(
    client: FlaskClient,
    post_request: PostRequest,
    session: Session,
    run_jobs: Callable[[], int],
) -> None:
    raw = "Lampadaire éteint, appelez-moi au 06 12 34 56 78, Jean Martin"
    report_id = created_id(post_request(description=raw, media_url="https://p.example/x.jpg"))
    first = client.get(f"{BASE}/requests/{report_id}.json").get_json()[0]
    assert first["description"] is None  # not scrubbed yet: nothing rather than the raw text
    assert "06 12" not in json.dumps(first)
    assert first["media_url"] is None
    report = session.get(Report, report_id)
    assert report is not None
    noted = set_status(
        session=session,
        report=report,
        status=ReportStatus.IN_PROGRESS,
        public_note="Équipe prévenue",
    )
    queue_scrubbing(session=session, update=noted)
    set_status(session=session, report=report, status=ReportStatus.IN_PROGRESS, author="agent")
    session.commit()
    before = client.get(f"{BASE}/requests/{report_id}.json").get_json()[0]
    assert before["status_notes"] is None  # the note waits for its scrubbing
    run_jobs()
    later = client.get(f"{BASE}/requests/{report_id}.json").get_json()[0]
    assert later["description"] == "Lampadaire éteint, appelez-moi au [téléphone], [nom]"
    assert later["status_notes"] == "Équipe prévenue"  # the latest public note
    assert later["status"] == "open"


def test_categories_about_people_are_located_by_area_only(
    client: FlaskClient,
    post_request: PostRequest,
    marseille_areas: int,
    session: Session,
    api_key: str,
    backoffice_key: str,
) -> None:
    exact = {"lat": "43.29912", "long": "5.38157"}
    noise_id = created_id(
        post_request(service_code="noise", address_string="3 rue Exacte", **exact)
    )
    light_id = created_id(post_request(**exact))
    grid = client.application.config["PUBLIC_GRID_DEGREES"]
    assert grid == 0.01
    # Anonymous, a resident app's key, a back office's key: one public posture for all.
    for key in (None, api_key, backoffice_key):
        query = f"?api_key={key}" if key else ""
        noise = client.get(f"{BASE}/requests/{noise_id}.json{query}").get_json()[0]
        light = client.get(f"{BASE}/requests/{light_id}.json{query}").get_json()[0]
        # An object: the centre of its cell of the public site's grid, as in the open data.
        assert (light["lat"], light["long"]) == (43.295, 5.385)
        # About people: no position at all, no address; the arrondissement only.
        assert (noise["lat"], noise["long"], noise["address"]) == (None, None, None)
        root = parse_xml(client.get(f"{BASE}/requests/{noise_id}.xml{query}"))
        [item] = xml_items(root)
        assert (item["lat"], item["long"], item["address"]) == ("", "", "")
    report = session.get(Report, noise_id)
    assert report is not None and report.area_code
    from backend.models import Area

    area = session.exec(select(Area).where(Area.code == report.area_code)).one()
    # Marseille's arrondissement gives the postcode (13201 -> 13001).
    assert area.parent_code is not None
    assert noise["zipcode"] == "130" + area.parent_code[-2:]
    # Never shown report by report: no text asked by id, and left out of every list.
    assert noise["description"] is None and noise["status_notes"] is None
    assert client.get(f"{BASE}/requests.json?service_code=noise").get_json() == []
    listed = client.get(f"{BASE}/requests.json").get_json()
    assert [item["service_request_id"] for item in listed] == [str(light_id)]
    assert "43.29912" not in json.dumps(listed)
