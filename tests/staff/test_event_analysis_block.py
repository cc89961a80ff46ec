"""The analysis block of an event's staff page (``staff/events/_analysis.html``)."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
from flask import Flask, render_template_string
from sqlmodel import Session

from backend.models import Event
from tests.conftest import PHONE, needs_chromium
from tests.event_data import insert_matches, lone_event
from workers.events.analysis import analyse_event

BLOCK = '{% include "staff/events/_analysis.html" %}'
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def _render(app: Flask, event: Event, lang: str) -> str:
    with app.test_request_context(f"/staff/events/{event.id}?lang={lang}"):
        return html.unescape(render_template_string(BLOCK, event=event))


def test_pending_then_too_little_history_in_both_languages(app: Flask, session: Session) -> None:
    event = lone_event(session)
    assert "en cours de calcul" in _render(app, event, "fr")
    assert "being computed" in _render(app, event, "en")
    analyse_event(session, event.id)  # type: ignore[arg-type]
    session.commit()
    fr = _render(app, event, "fr")
    assert "Pas assez d'événements passés de ce type : 0 (il en faut au moins 5)" in fr
    assert "<svg" not in fr  # no chart of made-up numbers
    en = _render(app, event, "en")
    assert "Not enough past events of this kind: 0 (at least 5 are needed)" in en


@pytest.fixture
def match_block(app: Flask, session: Session) -> tuple[Event, str, str]:
    matches = insert_matches(session)
    target = matches[-1]
    analyse_event(session, target.id, scan_replications=99)  # type: ignore[arg-type]
    session.commit()
    return target, _render(app, target, "fr"), _render(app, target, "en")


def test_a_match_shows_chart_table_staffing_and_after(match_block: tuple[Event, str, str]) -> None:
    _, fr, en = match_block
    # An accessible chart: an image with a title and a description, and its numbers as a table.
    assert fr.count('role="img"') >= 1
    assert "Barres : nombre attendu par heure" in fr
    first_chart = fr[fr.index("<figure>") : fr.index("</figure>")]
    assert first_chart.count('class="expected"') == 8  # 3 h before, 2 h of match, 3 h after
    assert first_chart.count('class="observed"') == 8  # the match is over
    assert len(re.findall(r"<tr><th scope=\"row\">\d+h</th>", first_chart)) == 8
    # Staffing with its reasons, in French with a decimal comma.
    assert re.search(
        r"heure \d+ : \+\d+,\d incidents \(ordre public\) attendus au-dessus de la normale, "
        r"intervalle à 90 % \d+–\d+",
        fr,
    )
    assert re.search(r"hour \d+: \+\d+\.\d expected public order incidents over baseline", en)
    assert "Ratios : 1,5 incidents par agent et par heure" in fr
    # After the event: the scan's verdict, one way or the other.
    assert "balayage spatio-temporel" in fr
    assert "space-time scan" in en


@pytest.mark.browser
@needs_chromium
def test_the_block_reads_in_a_browser(match_block: tuple[Event, str, str], chromium) -> None:  # type: ignore[no-untyped-def]
    _, fr, _ = match_block
    ARTIFACTS.mkdir(exist_ok=True)
    for name, viewport in (("desktop", {"width": 1100, "height": 900}), ("phone", None)):
        context = chromium.new_context(**(PHONE if viewport is None else {"viewport": viewport}))
        page = context.new_page()
        page.set_content(
            "<!doctype html><html lang='fr'><head><meta name='viewport' "
            "content='width=device-width, initial-scale=1'></head>"
            f"<body><main>{fr}</main></body></html>"
        )
        svg = page.locator("svg").first
        box = svg.bounding_box()
        assert box is not None and box["width"] > 300 and box["height"] > 90
        # The chart fits the screen: no sideways scrolling on a phone.
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= page.viewport_size["width"] + 1 or name == "desktop"
        page.screenshot(path=str(ARTIFACTS / f"event-analysis-{name}.png"), full_page=True)
        context.close()
