"""A resident's visit in a real browser (Debian's Chromium driven by Playwright).

The test serves the app on loopback, opens the city page on a phone-sized and a desktop
screen, picks a quartier, switches to English, downloads the CSV, and keeps screenshots in
``test-artifacts/public_site/``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session

from tests.conftest import PHONE, needs_chromium
from tests.public_site.conftest import add_report, month_start

pytestmark = [pytest.mark.browser, needs_chromium]


def test_a_resident_browses_the_site(
    live_server: str,
    chromium: Any,
    session: Session,
    marseille_areas: int,
    publish: Callable[[], dict[str, Any]],
    artifacts: Path,
) -> None:
    created = month_start(0) + timedelta(hours=2)
    services = ["streetlight", "road_damage", "illegal_dumping", "graffiti", "waste_bins"]
    codes = [
        "1320101",
        "1320102",
        "1320103",
        "1320104",
        "1320201",
        "1320301",
        "1320601",
        "1321301",
        "1320801",
        "1321202",
    ]
    for i, code in enumerate(codes):
        for j in range(6 + 3 * i):
            add_report(
                session,
                area=code,
                service=services[j % 5],
                created=created,
                status="fixed" if j % 2 else "open",
                days_to_fix=1 + j % 4,
                history=False,
            )
    session.commit()
    publish()

    server = live_server
    browser = chromium  # its contexts close with it
    phone = browser.new_context(**PHONE, accept_downloads=True, locale="fr-FR")
    page = phone.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(server + "/")
    assert page.locator("h1").inner_text().startswith("Ce que les habitants ont signalé")
    page.wait_for_selector(".leaflet-interactive")
    # Keyboard: the first Tab reaches the skip link, which leads to the content.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip"
    # Zoomed out on a phone: the 16 arrondissements; zoomed in: the 111 quartiers.
    # The map's fitBounds is animated (250 ms), and the level switches at its end.
    for _ in range(30):
        if page.locator("path.leaflet-interactive").count() == 16:
            break
        page.wait_for_timeout(100)
    assert page.locator("path.leaflet-interactive").count() == 16
    # Where the map starts depends on the screen (fitBounds), and Leaflet ignores a
    # click that lands during a zoom animation: zoom in a step at a time, as a person
    # would, until the quartiers show (at most three steps past the city view).
    paths = page.locator("path.leaflet-interactive")
    for _ in range(3):
        page.locator(".leaflet-control-zoom-in").click()
        for _ in range(30):  # the page's CSP forbids eval, hence no wait_for_function
            if paths.count() > 100:
                break
            page.wait_for_timeout(100)
        if paths.count() > 100:
            break
    assert page.locator("path.leaflet-interactive").count() > 100
    # Nothing wider than the phone's screen (tables scroll inside their own box).
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["viewport"]["width"], width
    page.screenshot(path=str(artifacts / "city-390.png"), full_page=True)
    # Pick a quartier from the table (the map's text alternative).
    page.get_by_role("link", name="Belsunce").click()
    page.wait_for_selector("h1")
    assert "Belsunce" in page.locator("h1").inner_text()
    page.screenshot(path=str(artifacts / "quartier-390.png"), full_page=True)
    # Switch language.
    page.locator("#switch-lang").click()
    page.wait_for_selector("html[lang=en]")
    assert "Reports by category" in page.content()
    page.screenshot(path=str(artifacts / "quartier-en-390.png"), full_page=True)
    # Download the CSV from the open data page.
    page.get_by_role("link", name="Open data").first.click()
    with page.expect_download() as info:
        page.get_by_role("link", name="indicateurs.csv").click()
    download = info.value
    target = artifacts / "indicateurs.csv"
    download.save_as(str(target))
    header = target.read_text(encoding="utf-8").splitlines()[0]
    assert header.startswith("period,area_code,area_name")
    page.screenshot(path=str(artifacts / "data-en-390.png"), full_page=True)
    assert errors == []

    desktop = browser.new_context(viewport={"width": 1280, "height": 900}, locale="fr-FR")
    big = desktop.new_page()
    big.goto(server + "/?niveau=arrondissement")
    big.wait_for_selector(".leaflet-interactive")
    big.screenshot(path=str(artifacts / "city-arrondissements-1280.png"), full_page=True)
    big.goto(server + "/")
    big.wait_for_selector(".leaflet-interactive")
    big.screenshot(path=str(artifacts / "city-1280.png"), full_page=True)
    big.goto(server + "/quartiers/1321301")
    big.wait_for_selector(".leaflet-interactive")
    big.screenshot(path=str(artifacts / "quartier-1280.png"), full_page=True)
