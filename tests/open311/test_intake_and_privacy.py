"""An Open311 report is a Lanterne report: same intake, same privacy rules."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from cryptography.fernet import Fernet, MultiFernet
from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import Session, select
from werkzeug.test import TestResponse

from backend.models import (
    Contact,
    Open311Contact,
    Open311Request,
    OutboxMessage,
    Report,
    ReportStatus,
)
from backend.services.contacts import load_keys
from backend.services.public_notes import queue_scrubbing
from backend.services.reports import set_status
from tests.open311.conftest import BASE, parse_xml, xml_items

PostRequest = Callable[..., TestResponse]


def created_id(response: TestResponse) -> int:
    assert response.status_code == 201, response.get_data(as_text=True)
    return int(response.get_json()[0]["service_request_id"])


def test_open311_intake_is_the_foundation_intake(
    app: Flask, post_request: PostRequest, session: Session
) -> None:
    report_id = created_id(
        post_request(
            service_code="waste_bins",
            description="Conteneurs de tri pleins depuis 3 jours",
            email="Habitante@Example.org",
            phone="06 12 34 56 78",
            first_name="Camille",
            last_name="Durand",
            device_id="device-42",
            account_id="acct-9",
            media_url="https://photos.example/abc.jpg",
            **{"attribute[bin_type][]": ["recycling", "glass", "recycling"]},
        )
    )
    report = session.get(Report, report_id)
    assert report is not None
    assert (report.status, report.source, report.service_hint) == (
        "received",
        "open311",
        "waste_bins",
    )
    assert report.area_code  # located like any report
    # One outbox row, as for /api/v1/reports: the worker processes it the same way.
    jobs = [m for m in session.exec(select(OutboxMessage)).all() if m.args == [report_id]]
    assert [j.job_path for j in jobs] == ["workers.jobs.process_report"]
    extras = session.get(Open311Request, report_id)
    assert extras is not None
    assert extras.attributes == {"bin_type": ["recycling", "glass"]}
    assert extras.media_url == "https://photos.example/abc.jpg"
    # Contact details go to the encrypted store, nothing readable in the database.
    contact = session.exec(select(Contact).where(Contact.report_id == report_id)).one()
    assert b"Habitante" not in contact.ciphertext and contact.email_hmac
    personal = session.get(Open311Contact, contact.id)
    assert personal is not None and b"Camille" not in personal.ciphertext
    keys = load_keys(app.config["CONTACT_KEYS"], Path(app.instance_path))
    decrypted = json.loads(MultiFernet([Fernet(k) for k in keys]).decrypt(personal.ciphertext))
    assert decrypted == {
        "first_name": "Camille",
        "last_name": "Durand",
        "device_id": "device-42",
        "account_id": "acct-9",
    }
    # Deleting the contact (retention) takes the Open311 personal fields with it.
    session.delete(contact)
    session.commit()
    session.expire_all()
    assert session.get(Open311Contact, contact.id) is None


def test_address_string_alone_and_missing_description(
    client: FlaskClient,
    post_request: PostRequest,
    session: Session,
    run_jobs: Callable[[], int],
) -> None:
    report_id = created_id(
        post_request(lat=None, long=None, address_string="12 rue de la République, 13002")
    )
    report = session.get(Report, report_id)
    assert report is not None
    assert (report.lat, report.lon) == (None, None)
    assert report.address == "12 rue de la République, 13002"
    assert report.description.startswith("Éclairage public en panne")
    listed = client.get(f"{BASE}/requests/{report_id}.json").get_json()[0]
    assert listed["address"] is None  # not scrubbed yet: absent, not the raw text
    run_jobs()
    listed = client.get(f"{BASE}/requests/{report_id}.json").get_json()[0]
    assert listed["address"] == "12 rue de la République, 13002"  # a public place: kept
    assert listed["lat"] is None
    by_id = created_id(post_request(lat=None, long=None, address_id="BAN-13202-0012"))
    listed = client.get(f"{BASE}/requests/{by_id}.json").get_json()[0]
    assert (listed["address_id"], listed["address"]) == ("BAN-13202-0012", None)


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


def test_updates_of_categories_about_people_are_not_listed(
    client: FlaskClient, post_request: PostRequest, session: Session
) -> None:
    noise_id = created_id(post_request(service_code="noise", lat="43.2991", long="5.3815"))
    light_id = created_id(post_request(lat="43.2991", long="5.3815"))
    for report_id in (noise_id, light_id):
        report = session.get(Report, report_id)
        assert report is not None
        set_status(session=session, report=report, status=ReportStatus.IN_PROGRESS, author="a")
    session.commit()
    updates = client.get(f"{BASE}/servicerequestupdates.json").get_json()
    assert {u["service_request_id"] for u in updates} == {str(light_id)}


def test_idempotency_key_makes_a_retry_harmless(
    client: FlaskClient, api_key: str, session: Session
) -> None:
    data = {"api_key": api_key, "service_code": "streetlight", "lat": "43.2951", "long": "5.374"}
    headers = {"Idempotency-Key": "retry-1"}
    first = client.post(f"{BASE}/requests.json", data=data, headers=headers)
    again = client.post(f"{BASE}/requests.json", data=data, headers=headers)
    assert first.get_json() == again.get_json()
    assert len(session.exec(select(Open311Request)).all()) == 1
