"""The home page on a phone (390x844, Chromium): streets' names when zoomed into a quartier,
the month under way said so, and legend classes that never read "6 – 6"."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session

from backend.db import utcnow
from backend.services.areas import import_areas, read_features
from backend.services.street_import import import_streets, read_streets
from tests.conftest import PHONE, needs_chromium, reference_path
from tests.public_site.conftest import add_report, month_start

pytestmark = [pytest.mark.browser, needs_chromium]

# Notre-Dame-du-Mont (6th arrondissement), around the Cours Julien.
COURS_JULIEN = (43.29352, 5.38337)


def wait_until(page: Any, check: Callable[[], bool], tries: int = 50) -> bool:
    # The pages' policy forbids eval, hence no wait_for_function: poll from here.
    for _ in range(tries):
        if check():
            return True
        page.wait_for_timeout(100)
    return check()


def test_a_resident_finds_their_street_on_the_home_map(
    live_server: str,
    chromium: Any,
    session: Session,
    marseille_areas: int,
    publish: Callable[[], dict[str, Any]],
    artifacts: Path,
) -> None:
    # As ``make run`` loads them: arrondissements (names of their own) and streets.
    import_areas(
        session=session,
        features=read_features(reference_path("marseille", "arrondissements.geojson")),
        level="arrondissement",
        code_field="code_insee",
        name_field="nom",
    )
    import_streets(session=session, rows=read_streets(reference_path("marseille", "streets.json")))
    now = utcnow()
    this_month = max(month_start(0) + timedelta(minutes=30), now - timedelta(hours=2))
    # Counts that bunch on a few values (6, 6, 6, 7, 12...): what gave "6 – 6" before.
    counts = {"1320601": 6, "1320602": 6, "1320603": 6, "1320101": 7, "1320201": 12}
    counts |= {"1320301": 9, "1320801": 25, "1321301": 6, "1320501": 14}
    for code, n in counts.items():
        for _ in range(n):
            add_report(session, area=code, service="streetlight", created=this_month, history=False)
        for _ in range(n + 5):
            add_report(
                session, area=code, service="streetlight", created=month_start(1), history=False
            )
    session.commit()
    publish()

    context = chromium.new_context(**PHONE, locale="fr-FR")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    page.goto(live_server + "/")
    page.wait_for_selector(".leaflet-interactive")

    # The month under way says how many days it holds.
    partial = page.locator(".partial-period")
    assert partial.is_visible()
    assert re.search(r"\d+ jours? jusqu'ici", partial.inner_text())
    assert "mêmes jours" in partial.inner_text()

    # The legend: distinct classes, none written "n – n".
    labels = [t.strip() for t in page.locator(".legend li").all_inner_texts()]
    ranges = labels[:-2]  # then "none" and "not published"
    assert len(ranges) >= 3 and len(set(ranges)) == len(ranges), labels
    for label in ranges:
        match = re.fullmatch(r"(\d+)(?: – (\d+))?", label)
        assert match, label
        assert match.group(2) is None or int(match.group(1)) < int(match.group(2)), label
    page.locator(".legend").screenshot(path=str(artifacts / "legend-390.png"))

    # City view: the areas' names, no street yet.
    assert wait_until(page, lambda: page.locator(".lanterne-area").count() > 0)
    assert page.locator(".lanterne-street").count() == 0
    page.locator(".map-box").screenshot(path=str(artifacts / "home-map-city-390.png"))

    # Zoom into Notre-Dame-du-Mont as a resident would: centre there, then the + button.
    figures = json.loads(page.locator("#map-figures").text_content() or "{}")
    map_name = figures["map"]
    lat, lon = COURS_JULIEN
    page.evaluate(f"window.{map_name}.setView([{lat}, {lon}], 14, {{animate: false}})")
    page.wait_for_timeout(300)
    page.locator(".leaflet-control-zoom-in").click()
    streets = page.locator(".lanterne-street")
    assert wait_until(page, lambda: streets.count() > 10)
    names = streets.all_inner_texts()
    assert "Cours Julien" in names, names[:40]
    # Readable on a phone: text of 13 px or more, and no two names over each other.
    boxes = [streets.nth(i).locator("span").bounding_box() for i in range(streets.count())]
    shown = [b for b in boxes if b and 0 <= b["x"] < 390 and 0 <= b["y"] < 844]
    for i, a in enumerate(shown):
        for b in shown[i + 1 :]:
            overlap_x = min(a["x"] + a["width"], b["x"] + b["width"]) - max(a["x"], b["x"])
            overlap_y = min(a["y"] + a["height"], b["y"] + b["height"]) - max(a["y"], b["y"])
            assert overlap_x <= 2 or overlap_y <= 2, (a, b)
    size = page.locator(".lanterne-street span").first.evaluate(
        "e => parseFloat(getComputedStyle(e).fontSize)"
    )
    assert size >= 13
    # The figures stay: the quartier is still coloured beneath the names.
    assert page.locator("path.leaflet-interactive").count() > 100
    page.locator(".map-box").screenshot(path=str(artifacts / "home-map-streets-390.png"))

    # Zooming out again takes the streets' names away.
    page.locator(".leaflet-control-zoom-out").click()
    assert wait_until(page, lambda: page.locator(".lanterne-street").count() == 0)
    assert errors == []
    context.close()
