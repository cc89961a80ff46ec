"""The events pages in a real Chromium: the form creates an event, the map draws its place
with Leaflet from this site, and the page's policy blocks nothing of its own."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlmodel import Session, select
from werkzeug.serving import make_server

from backend.models import Event, StaffUser
from tests.conftest import PHONE, needs_chromium
from tests.staff.conftest import PASSWORD

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

pytestmark = [pytest.mark.browser, needs_chromium]


@pytest.fixture
def server(app: Flask) -> Iterator[str]:
    """The app on a free loopback port. (Not conftest's ``live_server``: pytest-flask's
    autouse fixture reads ``live_server.app`` from any fixture of that name, and a URL has
    none.)"""
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    thread.join(timeout=5)


@pytest.mark.parametrize("screen", ["desktop", "phone"])
def test_create_an_event_and_see_its_place_on_the_map(
    server: str,
    chromium: object,
    session: Session,
    marseille_areas: int,
    make_staff: Callable[..., StaffUser],
    screen: str,
) -> None:
    make_staff("analyst@ville.example", "analyst")
    options = PHONE if screen == "phone" else {"viewport": {"width": 1280, "height": 900}}
    context = chromium.new_context(locale="fr-FR", **options)  # type: ignore[attr-defined]
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.goto(f"{server}/staff/login?next=/staff/events/new")
    page.fill("input[name=email]", "analyst@ville.example")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{server}/staff/events/new")
    page.fill("#name", "Concert au Dôme")
    page.select_option("#kind", "concert")
    page.fill("#start", "2026-06-12T20:30")
    page.fill("#end", "2026-06-12T23:30")
    page.check("input[name=place_kind][value=point]")
    page.fill("#lat", "43.3088")
    page.fill("#lon", "5.4005")
    page.fill("#radius_m", "400")
    page.fill("#expected_attendance", "8000")
    page.click("#event-form button[type=submit]")
    page.wait_for_selector("#event-map path[stroke='#0b4f8a']")
    assert page.locator("h1").inner_text() == "Concert au Dôme"
    assert "Enregistré." in page.locator("[role=status]").inner_text()
    # The circle of the place is drawn (an SVG path of Leaflet's), over the quartiers around.
    assert page.locator("#event-map path[stroke='#0b4f8a']").count() == 1
    assert page.locator("#event-map path[stroke='#8a96a3']").count() > 3
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"staff-event-detail-{screen}.png"), full_page=True)
    assert problems == []
    context.close()
    event = session.exec(select(Event)).one()
    assert (event.lat, event.lon, event.radius_m) == (43.3088, 5.4005, 400.0)
