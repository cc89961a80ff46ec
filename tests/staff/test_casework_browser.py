"""Case work in a real browser at desktop size: merge two reports, answer with a template,
see the queue's reports on the map."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlmodel import Session
from werkzeug.serving import make_server

from backend.models import Report, ResponseTemplate, StaffUser
from tests.conftest import needs_chromium
from tests.staff.conftest import PASSWORD
from tests.staff.triage_data import make_report, north

pytestmark = [pytest.mark.browser, needs_chromium]

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
DESKTOP = {"viewport": {"width": 1280, "height": 900}, "locale": "fr-FR"}
AGENT = "agent.feux@marseille.fr"


@pytest.fixture
def staff_server(app: Flask) -> Iterator[str]:
    """The app on a free loopback port (conftest's ``live_server``, under a name pytest-flask
    does not claim: its autouse fixture expects its own ``live_server`` object)."""
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    thread.join(timeout=5)


def signed_in_page(chromium: Any, server: str) -> Any:
    context = chromium.new_context(**DESKTOP)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(f"{server}/staff/login")
    page.fill("#email", AGENT)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{server}/staff/")
    page.errors = errors
    return page


def test_an_agent_merges_two_reports_then_answers_with_a_template(
    staff_server: str,
    chromium: Any,
    session: Session,
    make_staff: Callable[..., StaffUser],
) -> None:
    make_staff(AGENT, "agent", service_codes=["traffic_signal"])
    keep = make_report(session, description="Le feu du carrefour clignote orange depuis ce matin")
    dup = make_report(session, lat=north(30), description="Feu orange clignotant au carrefour")
    session.add(
        ResponseTemplate(
            service_code="traffic_signal",
            status="in_progress",
            title="Intervention planifiée",
            body_fr="Merci ! Une équipe interviendra sur le signalement {tracking_id}.",
            body_en="Thank you! A team will fix report {tracking_id}.",
        )
    )
    session.commit()
    page = signed_in_page(chromium, staff_server)
    page.goto(f"{staff_server}/staff/reports/{keep.id}")
    row = page.locator(f'tr[data-duplicate="{dup.id}"]')
    assert row.count() == 1
    row.get_by_role("button", name="Le fusionner avec ce signalement").click()
    page.wait_for_url(f"**/staff/reports/{keep.id}?saved=merged#duplicates")
    assert page.get_by_role("status").inner_text().startswith("Signalements fusionnés")
    assert page.locator(f'#duplicates a[href="/staff/reports/{dup.id}"]').count() == 1
    page.screenshot(path=str(ARTIFACTS / "staff-merge-desktop.png"), full_page=True)

    template = page.locator("ul.templates li").filter(has_text="Intervention planifiée")
    assert keep.tracking_id in template.inner_text()
    template.get_by_role("button", name="Envoyer").click()
    page.wait_for_url(f"**/staff/reports/{keep.id}?saved=status")
    assert "en cours" in page.locator("h1").inner_text()
    history = page.locator("table").last.inner_text()
    assert f"Une équipe interviendra sur le signalement {keep.tracking_id}" in history
    page.screenshot(path=str(ARTIFACTS / "staff-template-desktop.png"), full_page=True)
    assert page.errors == []
    session.expire_all()
    merged = session.get(Report, dup.id)
    assert merged is not None and merged.status == "duplicate"
    assert merged.duplicate_of_id == keep.id


def test_the_map_shows_the_queues_reports_and_opens_one(
    staff_server: str,
    chromium: Any,
    session: Session,
    make_staff: Callable[..., StaffUser],
) -> None:
    make_staff(AGENT, "agent", service_codes=["traffic_signal"])
    lone = make_report(session, lat=north(1500))
    make_report(session)
    make_report(session, lat=north(10))
    page = signed_in_page(chromium, staff_server)
    page.click('a[href="/staff/map"]')
    page.wait_for_selector("#queue-map[data-loaded]")
    assert page.locator("#map-count").inner_text() == "3"
    assert page.locator("path.leaflet-interactive").count() >= 1  # a single report
    assert page.locator(".cluster").count() >= 1  # the two near ones, grouped
    page.screenshot(path=str(ARTIFACTS / "staff-map-desktop.png"), full_page=True)
    markers = page.locator("path.leaflet-interactive")
    for i in range(markers.count()):
        markers.nth(i).click(force=True)
        link = page.locator(".leaflet-popup-content a")
        if link.count() and link.get_attribute("href") == f"/staff/reports/{lone.id}":
            break
    page.locator(".leaflet-popup-content a").click()
    page.wait_for_url(f"**/staff/reports/{lone.id}")
    assert page.errors == []
