"""Reporting from a phone in a real browser (Chromium at 390x844, driven by Playwright).

Geolocation is mocked by the browser context; category suggestions come from a real RQ
worker with the real classifier; the offline draft is kept while the context is offline
and sent once it is back, exactly once. Screenshots go to ``test-artifacts/public_site/``.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image
from playwright.sync_api import expect
from sqlmodel import Session, select
from werkzeug.serving import make_server

from backend.models import Report, Street, Subscription
from backend.services.streets import fold
from tests.conftest import PHONE, needs_chromium

pytestmark = [pytest.mark.browser, needs_chromium]

HERE = {"latitude": 43.29355, "longitude": 5.38340}


@pytest.fixture
def site_url(app: Flask) -> Iterator[str]:
    """The app on a free loopback port, in a thread (tests.conftest's ``live_server`` fixture
    takes the name pytest-flask's plugin gives its own, which breaks its request context)."""
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    thread.join(timeout=5)


@pytest.fixture
def classify_worker(
    app: Flask,
    client: FlaskClient,
    database_url: str,
    redis_url: str,
    instance_path: Path,
    tmp_path: Path,
) -> Iterator[None]:
    """A real RQ worker on the suggestions' queue, warmed up (its model loaded)."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "LANTERNE_ENV": "testing",
        "LANTERNE_INSTANCE_PATH": str(instance_path),
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
    }
    rq = Path(sys.executable).with_name("rq")
    log = (tmp_path / "worker.log").open("w")
    worker = subprocess.Popen(  # noqa: S603 (our own command)
        [str(rq), "worker", "-w", "workers.worker.LanterneWorker", "--url", redis_url, "high"],
        env=env,
        stdout=log,
        stderr=log,
    )
    try:
        deadline = time.monotonic() + 90
        while True:
            answer = client.post("/api/v1/classify", json={"text": "lampadaire éteint"})
            if answer.status_code == 200:
                break
            if time.monotonic() > deadline or worker.poll() is not None:
                pytest.fail("the classification worker never answered:\n" + log_text(tmp_path))
            time.sleep(1)
        yield
    finally:
        worker.terminate()  # RQ's warm shutdown: the job at hand, then stop
        try:
            worker.wait(timeout=60)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
        log.close()


def log_text(folder: Path) -> str:
    return (folder / "worker.log").read_text()[-3000:]


def seed(session: Session, client: FlaskClient) -> str:
    session.add(Street(name="Cours Julien", folded=fold("Cours Julien"), lat=43.29352, lon=5.38337))
    session.commit()
    filed = client.post(
        "/api/v1/reports",
        json={
            "description": "Lampadaire éteint au coin, appeler Mme Durand",
            "service_code": "streetlight",
            "lat": 43.29360,
            "lon": 5.38345,
        },
    )
    tracking_id = str(filed.json["tracking_id"])
    row = session.exec(select(Report).where(Report.tracking_id == tracking_id)).one()
    row.description_public = "Lampadaire éteint au coin, appeler [nom]"  # as the worker scrubs
    session.add(row)
    session.commit()
    return tracking_id


def a_photo() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (80, 60), (90, 90, 90)).save(out, format="JPEG")
    return out.getvalue()


def reports(session: Session) -> int:
    session.expire_all()
    return len(session.exec(select(Report)).all())


def test_report_with_position_suggestions_duplicate_and_offline_draft(
    site_url: str,
    chromium: Any,
    session: Session,
    client: FlaskClient,
    classify_worker: None,
    artifacts: Path,
) -> None:
    existing = seed(session, client)
    context = chromium.new_context(
        **PHONE, locale="fr-FR", geolocation=HERE, permissions=["geolocation"]
    )
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.on(
        "console",
        lambda m: problems.append(m.text) if m.type == "error" and "503" not in m.text else None,
    )
    page.goto(f"{site_url}/signaler")
    assert page.locator("h1").inner_text().startswith("Signaler un problème")

    # Suggestions while typing, from the real classifier.
    page.fill("#description", "Le lampadaire devant chez moi est éteint depuis hier soir")
    page.locator("#suggestions .chip").first.wait_for(timeout=20_000)
    chips = page.locator("#suggestions .chip")
    assert chips.count() >= 1
    codes = [chips.nth(i).get_attribute("data-code") for i in range(chips.count())]
    assert "streetlight" in codes, codes
    page.click('#suggestions .chip[data-code="streetlight"]')
    assert page.input_value("#service_code") == "streetlight"

    # The phone's position, a pin on the map, and the open report nearby.
    page.click("#locate")
    page.locator("#pin-map .leaflet-marker-icon").wait_for()
    assert float(page.input_value("#lat")) == pytest.approx(HERE["latitude"])
    item = page.locator("#nearby .nearby-item")
    item.first.wait_for()
    assert item.count() == 1
    assert "appeler [nom]" in item.inner_text() and "Durand" not in item.inner_text()
    page.screenshot(path=str(artifacts / "report-phone-duplicate.png"), full_page=True)

    # "It's the same: follow it", with the e-mail and consent given in the form.
    page.fill("#contact_email", "voisine@example.org")
    page.check("#contact_consent_notifications")
    page.click("#nearby .follow")
    page.locator("#nearby .notice").wait_for()
    assert "Merci, vous suivez ce signalement. Abonnés : 1." in page.inner_text("#nearby .notice")
    assert page.get_attribute("#nearby .notice a", "href") == f"/suivi/{existing}"
    follower = session.exec(select(Subscription)).one()
    assert follower.consent_notifications and follower.email_hmac
    page.screenshot(path=str(artifacts / "report-phone-followed.png"), full_page=True)
    assert reports(session) == 1

    # Offline: the report is kept on the phone, then sent once, when the network is back.
    page.goto(f"{site_url}/signaler")
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    page.fill("#description", "Nid-de-poule profond au milieu de la chaussée")
    page.select_option("#service_code", "road_damage")
    page.set_input_files(
        "#photo", files=[{"name": "trou.jpg", "mimeType": "image/jpeg", "buffer": a_photo()}]
    )
    page.click("#locate")
    # The page's CSP forbids eval (wait_for_function): Playwright's own assertion polls.
    expect(page.locator("#lat")).not_to_have_value("", timeout=15_000)
    context.set_offline(True)
    page.click("#send")
    status = page.locator("#draft-status")
    status.wait_for()
    assert "hors ligne" in status.inner_text()
    page.screenshot(path=str(artifacts / "report-phone-offline.png"), full_page=True)
    assert reports(session) == 1
    # Offline, the form itself still opens (the service worker kept it).
    offline_page = context.new_page()
    offline_page.goto(f"{site_url}/signaler")
    assert offline_page.locator("#report-form").count() == 1
    offline_page.close()

    context.set_offline(False)
    page.locator("#draft-status a.track-link").wait_for(timeout=15_000)
    assert "Envoyé" in status.inner_text()
    page.screenshot(path=str(artifacts / "report-phone-sent.png"), full_page=True)
    # A reload sends nothing again: the draft is gone, the key made it one report.
    page.reload()
    page.wait_for_load_state("networkidle")
    assert reports(session) == 2
    filed = session.exec(select(Report).where(Report.service_hint == "road_damage")).one()
    assert filed.description == "Nid-de-poule profond au milieu de la chaussée"
    assert filed.lat == pytest.approx(HERE["latitude"]) and filed.language == "fr"
    assert filed.photo_name  # the photo was kept on the phone as a Blob, then sent
    context.close()
    assert problems == []


def test_the_form_works_without_javascript(
    site_url: str, chromium: Any, session: Session, artifacts: Path
) -> None:
    session.add(Street(name="Cours Julien", folded=fold("Cours Julien"), lat=43.29352, lon=5.38337))
    session.commit()
    context = chromium.new_context(**PHONE, java_script_enabled=False)
    page = context.new_page()
    page.goto(f"{site_url}/report")
    assert not page.is_visible("#locate")  # the position button needs JavaScript
    page.click("#send")
    assert "Describe the problem" in page.inner_text("#error-summary")
    page.fill("#description", "Overflowing bins, smell")
    page.fill("#address", "3 Cours Julien")
    page.select_option("#service_code", "waste_bins")
    page.screenshot(path=str(artifacts / "report-phone-nojs.png"), full_page=True)
    page.click("#send")
    page.wait_for_url("**/suivi/**")
    assert "Your report" in page.inner_text("h1")
    context.close()
    assert reports(session) == 1
