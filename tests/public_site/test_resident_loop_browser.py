"""The resident's loop in a real browser at 390x844 (Chromium found on PATH, Playwright).

A resident files a report with a photo, opens their tracking link on the phone and sees their
own text, photo and history; an agent opens the report (it turns "open") and sets it fixed;
the resident answers "not fixed" (it reopens, the agent sees the answer), then adds
information with a photo. Screenshots in ``test-artifacts/public_site/``.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image
from sqlmodel import Session, select
from werkzeug.serving import make_server

from backend.models import Report
from backend.services.staff import create_staff
from tests.conftest import PHONE, needs_chromium
from tests.public_site.test_resident_loop import AGENT, PASSWORD, TEXT, VIEUX_PORT, jpeg

pytestmark = [pytest.mark.browser, needs_chromium]


@pytest.fixture
def loop_server(app: Flask) -> Iterator[str]:
    """The app on a free loopback port, in a thread.

    Not the shared ``live_server``: pytest-flask's autouse fixture reads a fixture of that
    name as its own LiveServer object (``.app``) and fails on a URL string.
    """
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    thread.join(timeout=5)


def test_the_residents_loop_on_a_phone(
    loop_server: str,
    chromium: object,
    client: FlaskClient,
    session: Session,
    run_jobs: Callable[[], int],
    artifacts: Path,
    tmp_path: Path,
) -> None:
    from playwright.sync_api import Browser, expect

    assert isinstance(chromium, Browser)
    create_staff(
        session=session, email=AGENT, role="agent", password=PASSWORD, service_codes=["streetlight"]
    )
    data = {
        "description": TEXT,
        "service_code": "streetlight",
        **VIEUX_PORT,
        "photo": (io.BytesIO(jpeg((230, 160, 20), (800, 600))), "IMG_1.jpg", "image/jpeg"),
    }
    created = client.post("/api/v1/reports", data=data, content_type="multipart/form-data")
    assert created.status_code == 201
    body = created.get_json()
    run_jobs()  # classified, scrubbed, routed: still "received"
    own_url = loop_server + body["tracking_url"].split("https://lanterne.example", 1)[1]

    phone = chromium.new_context(**PHONE, locale="fr-FR")  # type: ignore[arg-type]
    resident = phone.new_page()
    resident.goto(own_url)
    expect(resident.locator("#status")).to_have_text("Reçu")
    expect(resident.locator("#own-text")).to_contain_text("Le lampadaire devant")
    expect(resident.locator("#own-text")).not_to_contain_text("06 12 34 56 78")
    photo = resident.locator("#own-photo")
    expect(photo).to_be_visible()
    assert resident.evaluate("document.querySelector('#own-photo').naturalWidth") == 800
    # The photo fits the phone's width.
    box = photo.bounding_box()
    assert box is not None and box["width"] <= 390
    resident.screenshot(path=str(artifacts / "loop-1-received.png"), full_page=True)
    # The same page without the token: the public status only.
    stranger = phone.new_page()
    stranger.goto(f"{loop_server}/suivi/{body['tracking_id']}")
    expect(stranger.locator("#status")).to_have_text("Reçu")
    assert stranger.locator("#own-text").count() == 0
    stranger.close()

    desk = chromium.new_context(viewport={"width": 1280, "height": 900}, locale="fr-FR")  # type: ignore[attr-defined]
    agent = desk.new_page()
    agent.goto(f"{loop_server}/staff/login")
    agent.fill("#email", AGENT)
    agent.fill("#password", PASSWORD)
    agent.click("button[type=submit]")
    report = session.exec(select(Report)).one()
    agent.goto(f"{loop_server}/staff/reports/{report.id}")
    expect(agent.locator("h1")).to_contain_text("ouvert")
    resident.reload()
    expect(resident.locator("#status")).to_have_text("Ouvert")

    agent.select_option("#status", "fixed")
    agent.fill("#public_note", "Lampe changée ce matin.")
    agent.click("text=Enregistrer le statut")
    expect(agent.locator("h1")).to_contain_text("réparé")

    resident.reload()
    expect(resident.locator("#status")).to_have_text("Réglé")
    resident.check("input[name=fixed][value=no]")
    resident.check("input[name=satisfaction][value='2']")
    resident.fill("#comment", "Toujours éteint ce soir")
    resident.screenshot(path=str(artifacts / "loop-2-questionnaire.png"), full_page=True)
    resident.click("text=Envoyer ma réponse")
    expect(resident.locator("#reopened")).to_be_visible()
    expect(resident.locator("#status")).to_have_text("Ouvert")

    agent.reload()
    expect(agent.locator(".reopened")).to_contain_text("Rouvert par l'habitant")
    expect(agent.locator(".reopened")).to_contain_text("Toujours éteint ce soir")
    agent.screenshot(path=str(artifacts / "loop-3-staff-reopened.png"), full_page=True)

    picture = tmp_path / "poteau.png"
    Image.new("RGB", (300, 200), (20, 120, 200)).save(picture)
    resident.fill("#add-text", "Le poteau penche aussi")
    resident.set_input_files("#add-photo", str(picture))
    resident.click("text=Ajouter à mon signalement")
    expect(resident.locator("#added")).to_be_visible()
    run_jobs()  # the added text's scrubbing (and the refreshes the status changes queued)
    resident.reload()
    expect(resident.locator("li.addition")).to_contain_text("Le poteau penche aussi")
    added_photo = resident.locator("li.addition img")
    expect(added_photo).to_be_visible()
    assert resident.evaluate("document.querySelector('li.addition img').naturalWidth") == 300
    resident.screenshot(path=str(artifacts / "loop-4-added.png"), full_page=True)
    agent.reload()
    expect(agent.locator("tr.resident-addition")).to_contain_text("Le poteau penche aussi")
    phone.close()
    desk.close()
