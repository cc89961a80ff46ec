"""An Open311 report is a Lanterne report: same intake, same contact store, same retries."""

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
)
from backend.services.contacts import load_keys
from tests.open311.conftest import BASE, created_id

PostRequest = Callable[..., TestResponse]


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


def test_idempotency_key_makes_a_retry_harmless(
    client: FlaskClient, api_key: str, session: Session
) -> None:
    data = {"api_key": api_key, "service_code": "streetlight", "lat": "43.2951", "long": "5.374"}
    headers = {"Idempotency-Key": "retry-1"}
    first = client.post(f"{BASE}/requests.json", data=data, headers=headers)
    again = client.post(f"{BASE}/requests.json", data=data, headers=headers)
    assert first.get_json() == again.get_json()
    assert len(session.exec(select(Open311Request)).all()) == 1
