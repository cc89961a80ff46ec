"""The period under way says so, and is compared with the same days of the previous one."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import Session

from backend.db import utcnow
from public_site import periods
from tests.public_site.conftest import add_report
from workers.publication.partial import period_end, period_start

TZ = "Europe/Paris"
QUARTIER = "1320101"


def previous_month_window() -> tuple[Any, Any, Any, int]:
    """The previous month's start, the end of its same days, its end, and the days so far."""
    now = utcnow()
    month = periods.month_of(now, TZ)
    start = period_start(month, TZ)
    prev = periods.previous(month)
    prev_start, prev_end = period_start(prev, TZ), period_end(prev, TZ)
    cut = prev_start + (now - start)
    if cut > prev_end - timedelta(hours=3) or now - start < timedelta(minutes=20):
        pytest.skip("the month under way is as long as the previous one (or just started)")
    days = (now.astimezone(ZoneInfo(TZ)).date() - start.astimezone(ZoneInfo(TZ)).date()).days + 1
    return prev_start, cut, prev_end, days


def test_the_month_under_way_is_compared_with_the_same_days_of_the_previous_one(
    app: Flask,
    client: FlaskClient,
    session: Session,
    marseille_areas: int,
    publish: Callable[[], dict[str, Any]],
) -> None:
    prev_start, cut, prev_end, days = previous_month_window()
    now = utcnow()
    # The previous month: 7 reports in its first days (as many as have passed this month),
    # 30 after; this month: 10 so far. Against the whole previous month (37) this month
    # would look like a 73 % fall; against the same days it is a 43 % rise.
    same = prev_start + (cut - prev_start) / 2
    for _ in range(7):
        add_report(session, area=QUARTIER, service="streetlight", created=same, history=False)
    for _ in range(30):
        add_report(
            session,
            area="1320102",
            service="streetlight",
            created=prev_end - timedelta(hours=1),
            history=False,
        )
    for _ in range(10):
        add_report(
            session,
            area=QUARTIER,
            service="streetlight",
            created=now - timedelta(minutes=5),
            history=False,
        )
    session.commit()
    publish()

    page = html.unescape(client.get("/").get_data(as_text=True))
    prev_label = periods.label(periods.previous(periods.month_of(now, TZ)), "fr")
    so_far = f"{days} jour jusqu'ici" if days == 1 else f"{days} jours jusqu'ici"
    assert so_far in page
    if days > 1:
        assert f"+43 % par rapport aux {days} mêmes jours de {prev_label}" in page
        assert f"Ce qui a changé depuis les {days} mêmes jours de {prev_label}" in page
    else:
        assert f"+43 % par rapport au premier jour de {prev_label}" in page
    assert "par rapport à " + prev_label not in page
    # The areas' table sets each area beside the same days too, and says so: the quartier
    # had 7 reports then (not 37, the whole previous month of the city).
    assert ("(son premier jour)" if days == 1 else f"(les {days} mêmes jours)") in page
    assert "(période entière)" not in page
    row = re.search(rf'href="/quartiers/{QUARTIER}[^"]*">[^<]*</a></th>(.*?)</tr>', page, re.S)
    assert row is not None
    assert re.findall(r'<td class="num">(.*?)</td>', row[1])[:2] == ["10", "7"]

    # The quartier's page says the month is not over, and compares with the same days.
    quartier = html.unescape(client.get(f"/quartiers/{QUARTIER}").get_data(as_text=True))
    assert so_far in quartier and "comparés aux mêmes jours de " + prev_label in quartier
    assert "périodes entières" not in quartier
    # The API too: days so far, and the same days before (city-wide, and in the quartier).
    api = client.get("/api/v1/indicators?service_code=streetlight").get_json()
    assert api["so_far"]["days"] == days and api["so_far"]["previous_same_days"] == 7
    assert api["figures"]["reports"] == 10 and api["previous"]["reports"] == 37
    local = client.get(f"/api/v1/indicators?area={QUARTIER}").get_json()
    assert local["so_far"]["days"] == days and local["so_far"]["previous_same_days"] == 7
    month = periods.month_of(now, TZ)
    whole = client.get(f"/api/v1/indicators?period={periods.previous(month)}").get_json()
    assert whole["so_far"] is None

    english = client.get("/?lang=en").get_data(as_text=True)
    assert (f"{days} days so far" if days > 1 else "1 day so far") in english

    # A past month is whole: no "so far", compared with the whole month before it.
    past = client.get(f"/?periode={periods.previous(periods.month_of(now, TZ))}")
    text = html.unescape(past.get_data(as_text=True))
    assert "jusqu'ici" not in text and "mêmes jours" not in text


def test_same_days_counts_are_hidden_when_they_or_the_rest_of_the_month_are_small(
    app: Flask,
    session: Session,
    marseille_areas: int,
    publish: Callable[[], dict[str, Any]],
) -> None:
    from public_site import indicators

    prev_start, cut, prev_end, _days = previous_month_window()
    same = prev_start + (cut - prev_start) / 2
    # Street lights: 8 in the same days, 2 after: the rest (2) would come out of the whole
    # month (10, published) minus 8. Graffiti and potholes: large enough on both sides.
    for service, before, after in (
        ("streetlight", 8, 2),
        ("graffiti", 6, 20),
        ("road_damage", 12, 20),
    ):
        for _ in range(before):
            add_report(session, area=QUARTIER, service=service, created=same, history=False)
        for _ in range(after):
            add_report(
                session,
                area=QUARTIER,
                service=service,
                created=prev_end - timedelta(hours=1),
                history=False,
            )
    session.commit()
    publish()
    cat = indicators.catalogue(session)
    partial = cat.partial(cat.last_month)
    assert partial is not None
    counts = partial["counts"]
    assert counts["noise"] == 0
    assert counts["streetlight"] is None
    # With street lights alone hidden, "all categories" (26) minus the others would give
    # them away: the smallest other non-zero count is hidden beside them.
    assert counts["*"] == 26
    assert counts["graffiti"] is None and counts["road_damage"] == 12


def category_row(page: str, name: str) -> list[str]:
    """The cells of one category's row in a quartier's "reports by category" table."""
    match = re.search(rf'<th scope="row">{re.escape(name)}</th>(.*?)</tr>', page, re.S)
    assert match is not None, f"no row for {name}"
    return [html.unescape(c).strip() for c in re.findall(r'<td class="num">(.*?)</td>', match[1])]


def test_a_quartier_compares_its_month_under_way_with_the_same_days_of_the_previous_one(
    app: Flask,
    client: FlaskClient,
    session: Session,
    marseille_areas: int,
    publish: Callable[[], dict[str, Any]],
) -> None:
    from public_site import indicators

    prev_start, cut, prev_end, days = previous_month_window()
    now = utcnow()
    same = prev_start + (cut - prev_start) / 2
    # In the quartier: street lights, 15 in the previous month's same days and 30 after them,
    # 20 so far this month (the whole previous month, 45, would read as a fall); graffiti, 3
    # in the same days (under the threshold: hidden) and 20 after; potholes, 6 and 20.
    for service, before, after, sofar in (
        ("streetlight", 15, 30, 20),
        ("graffiti", 3, 20, 6),
        ("road_damage", 6, 20, 6),
    ):
        for _ in range(before):
            add_report(session, area=QUARTIER, service=service, created=same, history=False)
        for _ in range(after):
            add_report(
                session,
                area=QUARTIER,
                service=service,
                created=prev_end - timedelta(hours=1),
                history=False,
            )
        for _ in range(sofar):
            add_report(
                session,
                area=QUARTIER,
                service=service,
                created=now - timedelta(minutes=5),
                history=False,
            )
    session.commit()
    publish()
    cat = indicators.catalogue(session)
    lights = cat.service("streetlight").name_fr
    graffiti = cat.service("graffiti").name_fr
    potholes = cat.service("road_damage").name_fr

    page = client.get(f"/quartiers/{QUARTIER}").get_data(as_text=True)
    text = html.unescape(page)
    same_days = "son premier jour" if days == 1 else f"les {days} mêmes jours"
    assert f"({same_days})" in text
    # This month, then the same days of the previous month (not the whole month's 45).
    assert category_row(page, lights)[:2] == ["20", "15"]
    # 3 is under the threshold: hidden ("–"), and so is the smallest other count, so that
    # the total of all categories (24, shown) does not give it away.
    assert category_row(page, graffiti)[:2] == ["6", "–"]
    assert category_row(page, potholes)[:2] == ["6", "–"]
    assert category_row(page, "Toutes les catégories")[:2] == ["32", "24"]

    api = client.get(f"/api/v1/indicators?area={QUARTIER}&service_code=streetlight").get_json()
    assert api["so_far"]["previous_same_days"] == 15 and api["previous"]["reports"] == 45
    hidden = client.get(f"/api/v1/indicators?area={QUARTIER}&service_code=graffiti").get_json()
    assert hidden["so_far"]["previous_same_days"] is None

    english = client.get(f"/quartiers/{QUARTIER}?lang=en").get_data(as_text=True)
    assert ("(its first day)" if days == 1 else f"(the same {days} days)") in english

    # A past month is whole, and so is the month before it (no report: 0).
    month = periods.month_of(now, TZ)
    past = client.get(f"/quartiers/{QUARTIER}?periode={periods.previous(month)}")
    past_page = past.get_data(as_text=True)
    assert 'class="partial-period"' not in past_page
    assert category_row(past_page, lights)[:2] == ["45", "0"]
