"""The public pages and the indicators API: content, languages, bad input, size, access."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlmodel import Session, select

from backend.models import Area
from public_site import periods
from tests.public_site.conftest import add_report, json_of, month_start


@pytest.fixture
def published(
    session: Session, marseille_areas: int, publish: Callable[[], dict[str, Any]]
) -> dict[str, Any]:
    """Reports in three quartiers of the 1st arrondissement (busy, quiet, middling)."""
    busy, quiet = "1320101", "1320102"
    created = month_start(0) + timedelta(hours=3)
    for i in range(30):
        add_report(
            session,
            area=busy,
            service="streetlight",
            created=created,
            status="fixed",
            days_to_fix=2 + i % 5,
        )
    for _ in range(12):
        add_report(session, area=busy, service="graffiti", created=month_start(1), status="open")
    for _ in range(2):
        add_report(session, area=quiet, service="noise", created=created, status="open")
    # A third quartier: the cell that complementary suppression hides next to the quiet one.
    for _ in range(8):
        add_report(session, area="1320103", service="waste_bins", created=created)
    session.commit()
    summary = publish()
    return {
        "busy": busy,
        "quiet": quiet,
        "summary": summary,
        "month": periods.month_of(created, "Europe/Paris"),
    }


def test_city_page_in_french_by_default_and_english_on_request(
    client: FlaskClient, published: dict[str, Any]
) -> None:
    fr = client.get("/").get_data(as_text=True)
    assert '<html lang="fr">' in fr and "Ce que les habitants ont signalé" in fr
    en = client.get("/?lang=en").get_data(as_text=True)
    assert '<html lang="en">' in en and "What residents reported" in en
    # The busy quartier's count is in the table (the text alternative of the map).
    assert re.search(r"Belsunce</a></th>\s*<td class=\"num\">30</td>", fr)


def test_city_page_is_light_self_hosted_and_accessible(
    client: FlaskClient, published: dict[str, Any]
) -> None:
    response = client.get("/")
    body = response.get_data(as_text=True)
    assert len(response.data) < 1_000_000, len(response.data)
    # No third party: Leaflet comes from this site, no CDN anywhere.
    assert (
        "cdn" not in body.lower()
        and "http://" not in body
        and "https://" not in body.replace("https://www.etalab.gouv.fr", "")
    )
    with client.get("/static/vendor/leaflet/leaflet.js") as leaflet:
        assert leaflet.status_code == 200 and b"Leaflet" in leaflet.data
    assert 'role="img" aria-label=' in body
    assert '<table id="figures"' in body and "<caption" in body
    assert 'class="skip"' in body and 'href="#figures"' in body
    assert 'name="viewport"' in body
    assert "Content-Security-Policy" in response.headers


def test_neighbourhood_page_compares_with_the_city_and_hides_small_counts(
    client: FlaskClient, published: dict[str, Any]
) -> None:
    body = client.get(f"/quartiers/{published['busy']}").get_data(as_text=True)
    assert "Belsunce" in body and "Éclairage public en panne" in body
    assert ">30<" in body and "Signalements par catégorie" in body
    quiet = client.get(f"/quartiers/{published['quiet']}").get_data(as_text=True)
    # Two noise reports: never shown, neither as a count nor anywhere else on the page.
    assert "Nuisances sonores" in quiet
    row = re.search(r"Nuisances sonores</th>(.*?)</tr>", quiet, re.S)
    assert row is not None and ">2<" not in row.group(1) and "–" in row.group(1)


BAD_PAGES = [
    ("/quartiers/9999999", "Aucun quartier"),
    ("/quartiers/%3Cscript%3Ealert(1)%3C%2Fscript%3E", "Aucun quartier"),
    ("/?periode=2099-01", "pas de chiffres"),
    ("/?periode=2026-13", "pas de chiffres"),
    ("/?periode=1%27%20OR%201%3D1--", "pas de chiffres"),
    ("/?categorie=ufo", "pas de catégorie"),
    ("/?categorie=%27%3B%20DROP%20TABLE%20report%3B--", "pas de catégorie"),
    ("/?niveau=planete", "pas de niveau"),
    ("/donnees/passwd", "pas de fichier"),
    ("/donnees/..%2F..%2Fsecret.key", "pas de fichier"),
]


def test_bad_input_gets_a_helpful_html_404(client: FlaskClient, published: dict[str, Any]) -> None:
    for url, hint in BAD_PAGES:
        response = client.get(url)
        assert response.status_code == 404, url
        assert response.content_type.startswith("text/html"), url
        body = response.get_data(as_text=True)
        assert hint in body and "Voir les chiffres de toute la ville" in body, url
        assert "<script>alert" not in body, url


def test_unknown_tracking_id_looks_like_a_wrong_guess_and_is_rate_limited(
    client: FlaskClient, published: dict[str, Any], app: Any
) -> None:
    def main(tid: str) -> tuple[int, str]:
        response = client.get(f"/suivi/{tid}")
        body = response.get_data(as_text=True)
        return response.status_code, body[body.index("<main") : body.index("</main>")]

    answers = {main(tid) for tid in ("nope", "A" * 24, "%27%20OR%201%3D1", "a/b")}
    assert len(answers) == 1 and next(iter(answers))[0] == 404
    codes = [client.get(f"/suivi/guess{i:06d}").status_code for i in range(40)]
    assert codes[0] == 404 and codes[-1] == 429
    limited = client.get("/suivi/guess-last")
    assert limited.status_code == 429 and limited.content_type.startswith("text/html")


def test_tracking_page_shows_history_but_nothing_personal(
    client: FlaskClient, session: Session, marseille_areas: int
) -> None:
    report = add_report(
        session,
        area="1320101",
        service="streetlight",
        created=month_start(0),
        status="fixed",
        days_to_fix=1,
        description="Jean Martin 0612345678 lampadaire",
        address="3 rue X",
        lat=43.2991234,
        lon=5.3781234,
    )
    session.commit()
    body = client.get(f"/suivi/{report.tracking_id}").get_data(as_text=True)
    assert "Réglé" in body and "Éclairage public en panne" in body and "Belsunce" in body
    for secret in ("Jean Martin", "0612345678", "3 rue X", "43.299", "5.378"):
        assert secret not in body
    # The questionnaire, answered from the page.
    assert "Est-ce vraiment réglé" in body
    answer = client.post(
        f"/suivi/{report.tracking_id}",
        data={"fixed": "yes", "satisfaction": "4", "comment": "merci"},
    )
    assert answer.status_code == 303
    after = client.get(answer.headers["Location"]).get_data(as_text=True)
    assert "Merci" in after and "Est-ce vraiment réglé" not in after


def test_indicators_api(client: FlaskClient, published: dict[str, Any]) -> None:
    month = published["month"]
    body = json_of(client.get(f"/api/v1/indicators?area={published['busy']}&period={month}"))
    assert body["area"]["name"] == "Belsunce"
    streetlight = next(i for i in body["by_service"] if i["service_code"] == "streetlight")
    assert streetlight["reports"] == 30 and streetlight["fixed_pct"] == 100
    assert streetlight["median_days"] == 4.0
    noise = json_of(
        client.get(
            f"/api/v1/indicators?area={published['quiet']}&service_code=noise&period={month}"
        )
    )
    assert noise["figures"]["reports"] is None and noise["figures"]["suppressed"] is True
    city = json_of(client.get("/api/v1/indicators"))
    assert city["area"]["code"] == "city" and city["period"] == month


def test_indicators_api_refuses_bad_parameters_with_400(
    client: FlaskClient, published: dict[str, Any]
) -> None:
    for query in (
        "area=nowhere",
        "service_code=ufo",
        "period=2026-13",
        "period=1999",
        "period=x%27--",
        "area=%3Cscript%3E",
        "colour=blue",
    ):
        response = client.get(f"/api/v1/indicators?{query}")
        assert response.status_code == 400, query
        assert json_of(response)["code"] == 400
        assert json_of(response)["status"] == "Bad Request"


def test_h3_cells_are_the_areas_when_none_are_loaded(
    client: FlaskClient, session: Session, publish: Callable[[], dict[str, Any]]
) -> None:
    import h3

    assert session.exec(select(Area)).first() is None
    cell = h3.latlng_to_cell(43.2965, 5.3698, 8)
    for _ in range(6):
        add_report(session, area=cell, service="graffiti", created=month_start(0))
    session.commit()
    publish()
    body = client.get("/").get_data(as_text=True)
    assert f"Secteur {cell[-6:]}" in body
    assert client.get(f"/quartiers/{cell}").status_code == 200


def test_before_the_first_publication_pages_say_so_and_show_no_period(
    client: FlaskClient, marseille_areas: int
) -> None:
    # A city that has just installed Lanterne: areas loaded, nothing published yet.
    for url in ("/", "/quartiers/1320101", "/donnees"):
        page = client.get(url)
        text = page.get_data(as_text=True)
        assert page.status_code == 200, url
        assert "1970" not in text, url
        assert "publié" in text, url
    assert "Pas encore de chiffres" in client.get("/").get_data(as_text=True)
    assert "No figures yet" in client.get("/?lang=en").get_data(as_text=True)
    api = client.get("/api/v1/indicators")
    assert api.status_code == 404
    assert "No figures have been published yet" in api.json["message"]
