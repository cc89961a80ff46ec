"""Street names folded and matched, as a typed address is, on Marseille's gazetteer."""

from __future__ import annotations

import json

import pytest
from flask.testing import FlaskClient
from sqlmodel import Session

from backend.models import Street
from backend.services.streets import fold, match, street_part
from tests.conftest import reference_path


def test_fold_drops_accents_case_and_punctuation() -> None:
    assert fold("Rue de l'Évêché") == "rue de l eveche"
    assert fold("  Boulevard   Baille-Ouest ") == "boulevard baille ouest"
    assert fold("Place Valère Bernard") == "place valere bernard"
    assert fold("Œuvre_d%art") == "œuvre d art"  # œ does not decompose: kept, lower-cased
    assert street_part("12 bis, rue de la République") == "rue de la republique"


@pytest.fixture
def marseille_streets(session: Session) -> int:
    rows = json.loads(reference_path("marseille", "streets.json").read_text())
    for row in rows:
        lon, lat = row["centroid"]
        session.add(
            Street(
                name=row["name"],
                folded=fold(row["name"]),
                district=row["quartier"],
                lat=lat,
                lon=lon,
            )
        )
    session.commit()
    return len(rows)


def test_match_puts_the_exact_street_first(session: Session, marseille_streets: int) -> None:
    assert marseille_streets > 1000
    found = match(session, "cours julien", 5)
    assert found[0].name == "Cours Julien"
    typed = match(session, "3 PLACE VALERE BERNARD", 5)
    assert typed[0].name == "Place Valère Bernard"
    # A beginning finds the streets starting with it, shortest first.
    starts = match(session, "rue de la rep", 5)
    assert starts and all(fold(s.name).startswith("rue de la rep") for s in starts)
    # A part of a name finds it too.
    assert any(s.name == "Cours Julien" for s in match(session, "julien", 50))
    assert match(session, "x", 5) == []
    assert match(session, "zzzz qqqq", 5) == []


def test_streets_api_autocompletes(client: FlaskClient, marseille_streets: int) -> None:
    response = client.get("/api/v1/streets", query_string={"q": "Cours Julien", "limit": 3})
    assert response.status_code == 200, response.json
    assert response.json[0]["name"] == "Cours Julien"
    assert response.json[0]["lat"] == pytest.approx(43.29352)
    assert len(response.json) <= 3
    assert client.get("/api/v1/streets", query_string={"q": "a"}).status_code == 422
    assert client.get("/api/v1/streets", query_string={"q": "rue", "limit": 99}).status_code == 422
