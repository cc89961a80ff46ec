"""Rates per 1,000 residents: filled where the population is loaded, absent (null) where not."""

from __future__ import annotations

import csv
import html
import io
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import Session

from backend.cli import main
from backend.services.areas import import_areas, read_features
from tests.conftest import reference_path
from tests.public_site.conftest import add_report, json_of, month_start

BELSUNCE = "1320101"  # in the 1st arrondissement, 13201: 39,349 residents (2010 estimate)


def load_marseille_population(app: Flask, session: Session) -> None:
    """The arrondissements and their population, as ``make run`` loads them."""
    import_areas(
        session=session,
        features=read_features(reference_path("marseille", "arrondissements.geojson")),
        level="arrondissement",
        code_field="code_insee",
        name_field="nom",
    )
    path = str(reference_path("marseille", "population_arrondissements.csv"))
    args = ["--code-field", "code_insee", "--population-field", "pop_estimate_2010"]
    result = app.test_cli_runner().invoke(main, ["areas", "population", path, *args])
    assert result.exit_code == 0, result.output
    assert "Population loaded for 16 areas." in result.output


def test_rates_are_filled_where_population_is_loaded_and_null_elsewhere(
    app: Flask,
    client: FlaskClient,
    session: Session,
    marseille_areas: int,
    publish: Callable[[], dict[str, Any]],
) -> None:
    load_marseille_population(app, session)
    created = month_start(0) + timedelta(hours=2)
    for _ in range(10):
        add_report(session, area=BELSUNCE, service="streetlight", created=created, history=False)
    session.commit()
    publish()

    district = json_of(client.get("/api/v1/indicators?area=13201&service_code=streetlight"))
    assert district["area"]["population"] == 39349
    assert district["figures"]["rate_per_1000"] == round(10_000 / 39349, 2)
    # The city's population is the sum of its arrondissements'.
    city = district["city"]
    assert city["rate_per_1000"] is not None and city["rate_per_1000"] > 0
    # A category with no report in a peopled area: a real zero.
    noise = json_of(client.get("/api/v1/indicators?area=13201&service_code=noise"))
    assert noise["figures"]["reports"] == 0 and noise["figures"]["rate_per_1000"] == 0.0
    # A quartier has no population of its own: the rate is unknown, not zero.
    quartier = json_of(client.get(f"/api/v1/indicators?area={BELSUNCE}"))
    assert quartier["area"]["population"] is None
    assert quartier["figures"]["rate_per_1000"] is None
    assert {row["rate_per_1000"] for row in quartier["by_service"]} == {None}

    with client.get("/donnees/indicateurs.csv") as download:
        data = download.get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(data)))
    by_key = {(r["period"], r["area_code"], r["service_code"]): r for r in rows}
    month = district["period"]
    assert float(by_key[(month, "13201", "streetlight")]["rate_per_1000"]) == round(
        10_000 / 39349, 2
    )
    assert by_key[(month, BELSUNCE, "streetlight")]["rate_per_1000"] == ""

    arrondissements = html.unescape(client.get("/?niveau=arrondissement").get_data(as_text=True))
    assert "pour 1 000 habitants" in arrondissements
    row = arrondissements.split(">Marseille 1er Arrondissement</a>")[1].split("</tr>")[0]
    # 10 reports, 10 for the month, and the rate (0.25) with one decimal, French style.
    assert row.count('<td class="num">') == 3 and '<td class="num">0,2</td>' in row
    # The quartiers' table has no population: no column that would only hold dashes.
    quartiers = html.unescape(client.get("/").get_data(as_text=True))
    assert "pour 1 000 habitants" not in quartiers


def test_without_population_no_rate_is_zero(
    app: Flask,
    client: FlaskClient,
    session: Session,
    marseille_areas: int,
    publish: Callable[[], dict[str, Any]],
) -> None:
    created = month_start(0) + timedelta(hours=2)
    for _ in range(6):
        add_report(session, area=BELSUNCE, service="streetlight", created=created, history=False)
    session.commit()
    publish()
    for area in (BELSUNCE, "1320102", "13201", "city"):
        body = json_of(client.get(f"/api/v1/indicators?area={area}&service_code=streetlight"))
        assert body["figures"]["rate_per_1000"] is None, area
        assert body["previous"]["rate_per_1000"] is None, area
        assert body["city"]["rate_per_1000"] is None
    page = html.unescape(client.get(f"/quartiers/{BELSUNCE}").get_data(as_text=True))
    assert "Pour 1 000 habitants" not in page
