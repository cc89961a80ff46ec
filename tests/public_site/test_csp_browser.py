"""The Content-Security-Policy in a real browser: every page and map still works, and the
browser reports no violation (Debian's Chromium driven by Playwright).

A page that still ran an inline script, or a map that loaded Leaflet from a CDN, would show
"Refused to execute inline script..." on the console and a map without its areas.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import Session

from backend.services.staff import create_staff
from tests.conftest import needs_chromium, scan_signal_in_13203
from tests.public_site.conftest import add_report, month_start

PASSWORD = "a long enough test password"

pytestmark = [pytest.mark.browser, needs_chromium]


@pytest.fixture
def server(live_server: str) -> str:
    """The app on a free loopback port (the shared ``live_server``)."""
    return live_server


@pytest.fixture
def browser(chromium: Any) -> Any:
    """The shared headless Chromium."""
    return chromium


class Console:
    """What a page told its console and its error handler (CSP violations are errors)."""

    def __init__(self, page: Any) -> None:
        self.messages: list[str] = []
        page.on("console", lambda m: self.messages.append(f"{m.type}: {m.text}"))
        page.on("pageerror", lambda exc: self.messages.append(f"pageerror: {exc}"))
        page.on(
            "response",
            lambda r: r.status >= 400 and self.messages.append(f"http {r.status}: {r.url}"),
        )

    def violations(self) -> list[str]:
        return [m for m in self.messages if "Content Security Policy" in m]

    def errors(self) -> list[str]:
        return [m for m in self.messages if m.startswith(("error", "pageerror", "http"))]


def wait_for_areas(page: Any, minimum: int) -> int:
    paths = page.locator("path.leaflet-interactive")
    for _ in range(50):  # the policy forbids eval, hence no wait_for_function
        if paths.count() >= minimum:
            break
        page.wait_for_timeout(100)
    return int(paths.count())


def test_public_pages_and_maps_run_under_the_policy(
    server: str,
    browser: Any,
    session: Session,
    marseille_areas: int,
    publish: Callable[[], dict[str, Any]],
) -> None:
    created = month_start(0) + timedelta(hours=2)
    for code in ("1320101", "1320102", "1320201", "1321301"):
        for _ in range(8):
            add_report(session, area=code, service="streetlight", created=created, history=False)
    session.commit()
    publish()

    page = browser.new_context(viewport={"width": 1280, "height": 900}, locale="fr-FR").new_page()
    console = Console(page)
    response = page.goto(server + "/")
    scripts = response.headers["content-security-policy"].split("script-src")[1].split(";")[0]
    assert scripts.strip() == "'self'"
    page.wait_for_selector(".leaflet-interactive")
    # The stored map drew its areas, and map.js applied the page's figures: coloured fills,
    # the label, the tooltip's text.
    assert wait_for_areas(page, 16) >= 16
    fills = page.eval_on_selector_all(
        "path.leaflet-interactive", "ps => ps.map(p => p.getAttribute('fill'))"
    )
    assert any(f not in ("#f7f7f7", "#bdbdbd") for f in fills), fills
    label = page.locator(".folium-map").get_attribute("aria-label")
    assert label and label.startswith("Carte")
    # Zooming in switches to the quartiers (the stored map's own script, served as a file).
    for _ in range(4):
        if wait_for_areas(page, 100) > 100:
            break
        page.locator(".leaflet-control-zoom-in").click()
    assert wait_for_areas(page, 100) > 100
    page.locator("path.leaflet-interactive").nth(5).hover()
    page.wait_for_selector(".leaflet-tooltip")
    assert " : " in page.locator(".leaflet-tooltip").inner_text()

    for path in ("/?niveau=arrondissement", "/quartiers/1320101", "/donnees", "/?lang=en"):
        page.goto(server + path)
        page.wait_for_selector("h1")
        if path != "/donnees":
            assert wait_for_areas(page, 1) >= 1, path
    assert console.violations() == []
    assert console.errors() == []


def test_the_staff_signals_map_runs_under_the_policy(
    server: str, browser: Any, session: Session, marseille_areas: int
) -> None:
    signal = scan_signal_in_13203(
        session,
        key="scan:browser",
        observed=9,
        expected=2,
        statistic=12,
        explanation_fr="Neuf lampadaires <b>signalés</b> en 3 jours.",
        explanation_en="Nine street lights reported in 3 days.",
    )
    create_staff(session=session, email="analyst@ville.example", role="analyst", password=PASSWORD)
    session.commit()

    page = browser.new_context(viewport={"width": 1280, "height": 900}, locale="fr-FR").new_page()
    console = Console(page)
    page.goto(server + "/staff/login")
    page.fill("input[name=email]", "analyst@ville.example")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("h1")
    response = page.goto(server + "/staff/signals")
    policy = response.headers["content-security-policy"]
    scripts = policy.split("script-src")[1].split(";")[0]
    assert "'nonce-" in scripts and "'unsafe-inline'" not in scripts
    frame = page.frame_locator("iframe.signals-map")
    frame.locator("path.leaflet-interactive").first.wait_for()
    assert frame.locator("path.leaflet-interactive").count() == len(signal.area_codes)
    assert console.violations() == []
    assert console.errors() == []
