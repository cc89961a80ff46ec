"""The report form without JavaScript (``/signaler``, ``/report``), as a phone posts it."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image
from sqlmodel import Session, select

from backend.models import Contact, Report, Street, Subscription
from backend.services.contacts import ContactCipher, load_keys
from backend.services.streets import fold
from backend.services.tracking import hash_token

COURS_JULIEN = {"lat": "43.29352", "lon": "5.38337"}


def token(client: FlaskClient, url: str = "/signaler") -> str:
    page = client.get(url)
    assert page.status_code == 200
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True))
    assert found, "the form carries a CSRF token"
    return found.group(1)


def send(client: FlaskClient, url: str = "/signaler", **fields: object):
    body = {"csrf_token": token(client, url.split("?")[0]), **fields}
    return client.post(url, data=body, content_type="multipart/form-data")


def errors(html: str) -> list[str]:
    return re.findall(r'<p class="error" id="[a-z_]+-error">([^<]+)</p>', html)


def stored(session: Session) -> list[Report]:
    session.expire_all()
    return list(session.exec(select(Report)))


def photo_with_gps() -> bytes:
    image = Image.new("RGB", (64, 48), (200, 30, 30))
    exif = Image.Exif()
    exif[0x8825] = {1: "N", 2: (43.0, 17.0, 42.0), 3: "E", 4: (5.0, 22.0, 27.0)}
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif)
    return out.getvalue()


@pytest.fixture
def streets(session: Session) -> None:
    for name, district, lat, lon in (
        ("Cours Julien", "NOTRE-DAME-DU-MONT", 43.29352, 5.38337),
        ("Rue de la République", "LA JOLIETTE", 43.30, 5.368),
        ("Rue de la Rotonde", "BELSUNCE", 43.301, 5.377),
    ):
        session.add(Street(name=name, folded=fold(name), district=district, lat=lat, lon=lon))
    session.commit()


def test_the_form_in_french_and_english_and_linked_from_every_page(client: FlaskClient) -> None:
    french = client.get("/signaler").get_data(as_text=True)
    assert "<h1>Signaler un problème" in french
    assert 'enctype="multipart/form-data"' in french
    assert 'accept="image/*" capture="environment"' in french
    assert "Éclairage public en panne" in french
    english = client.get("/report").get_data(as_text=True)
    assert "<h1>Report a problem" in english and "Street light out" in english
    assert "Report a problem" in client.get("/signaler?lang=en").get_data(as_text=True)
    switch = client.get("/report?lang=fr")
    assert switch.status_code == 302 and switch.headers["Location"].endswith("/signaler")
    for page in ("/", "/donnees", "/donnees?lang=en", "/suivi/inconnu-mais-bien-forme"):
        html = client.get(page).get_data(as_text=True)
        assert re.search(r'<a class="nav-report" href="/(signaler|report)">', html), page
    assert 'href="/report">Report a problem' in client.get("/?lang=en").get_data(as_text=True)


def test_a_report_filed_without_javascript_leads_to_its_tracking_page(
    client: FlaskClient, session: Session, app: Flask
) -> None:
    response = send(
        client,
        description="Lampadaire éteint devant le 12",
        service_code="streetlight",
        contact_email="voisin@example.org",
        contact_consent_notifications="true",
        **COURS_JULIEN,
    )
    assert response.status_code == 303
    (report,) = stored(session)
    # The resident lands on their own page: the tracking link with their token.
    location = response.headers["Location"]
    assert location.startswith(f"/suivi/{report.tracking_id}?t=")
    assert report.token_hash == hash_token(location.split("t=", 1)[1].split("&", 1)[0])
    assert report.description == "Lampadaire éteint devant le 12"
    assert report.service_hint == "streetlight" and report.language == "fr"
    assert report.source == "web" and report.lat == pytest.approx(43.29352)
    contact = session.exec(select(Contact)).one()
    assert contact.consent_notifications is True
    cipher = ContactCipher(load_keys(app.config["CONTACT_KEYS"], Path(app.instance_path)))
    assert cipher.decrypt(contact.ciphertext).email == "voisin@example.org"
    assert client.get(response.headers["Location"]).status_code == 200
    # In English, the report is in English and leads to the English tracking page.
    english = send(client, "/report", description="Street light out", **COURS_JULIEN)
    assert english.status_code == 303 and english.headers["Location"].endswith("&lang=en")
    assert {r.language for r in stored(session)} == {"fr", "en"}


def test_sending_the_same_form_twice_files_one_report(
    client: FlaskClient, session: Session
) -> None:
    page = client.get("/signaler").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    key = re.search(r'name="idempotency_key" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    body = {"csrf_token": csrf, "idempotency_key": key, "description": "Trou", **COURS_JULIEN}
    first = client.post("/signaler", data=body)
    again = client.post("/signaler", data=body)
    assert first.status_code == again.status_code == 303
    assert first.headers["Location"] == again.headers["Location"]
    assert len(stored(session)) == 1


def test_without_its_csrf_token_the_form_is_refused_and_kept(
    client: FlaskClient, session: Session
) -> None:
    client.get("/signaler")
    response = client.post("/signaler", data={"description": "Dépôt sauvage", **COURS_JULIEN})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "Ce formulaire avait expiré" in html
    assert ">Dépôt sauvage</textarea>" in html
    bad = client.post("/signaler", data={"csrf_token": "forged", "description": "x"})
    assert bad.status_code == 400
    assert stored(session) == []


def test_bad_input_shows_the_form_again_with_a_message_per_field(
    client: FlaskClient, session: Session
) -> None:
    response = send(
        client,
        description="   ",
        contact_email="pas-une-adresse",
        contact_phone="12",
        address="",
        service_code="streetlight",
    )
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert set(errors(html)) == {
        "Décrivez le problème en quelques mots (jusqu’à 4 000 caractères).",
        "Cette adresse e-mail n’est pas valide.",
        "Ce numéro de téléphone n’est pas valide.",
    }
    assert 'value="pas-une-adresse"' in html and 'value="12"' in html
    assert '<option value="streetlight" selected' in html
    assert 'aria-invalid="true" aria-describedby="description-error"' in html
    no_place = send(client, description="Lampadaire éteint")
    assert errors(no_place.get_data(as_text=True)) == [
        "Dites où c’est : utilisez votre position, ou tapez la rue."
    ]
    outside = send(client, description="Lampadaire", lat="48.85", lon="2.35")
    assert outside.status_code == 400
    not_a_photo = send(
        client,
        description="Tag",
        photo=(io.BytesIO(b"not an image at all"), "x.jpg"),
        **COURS_JULIEN,
    )
    assert not_a_photo.status_code == 400
    assert "Ce fichier n’est pas une photo" in not_a_photo.get_data(as_text=True)
    assert stored(session) == []
    english = send(client, "/report", description="", **COURS_JULIEN)
    assert errors(english.get_data(as_text=True)) == [
        "Describe the problem in a few words (up to 4,000 characters)."
    ]


def test_a_photo_from_the_camera_is_stored_without_its_location(
    client: FlaskClient, session: Session, app: Flask
) -> None:
    response = send(
        client,
        description="Panneau arraché",
        photo=(io.BytesIO(photo_with_gps()), "IMG_0001.jpg"),
        **COURS_JULIEN,
    )
    assert response.status_code == 303
    (report,) = stored(session)
    assert report.photo_name
    with Image.open(Path(app.config["MEDIA_PATH"]) / report.photo_name) as saved:
        assert 0x8825 not in saved.getexif()


def test_a_typed_address_is_matched_against_the_streets(
    client: FlaskClient, session: Session, streets: None
) -> None:
    exact = send(client, description="Lampadaire éteint", address="12 cours julien")
    assert exact.status_code == 303
    (report,) = stored(session)
    assert (report.lat, report.lon) == (pytest.approx(43.29352), pytest.approx(5.38337))
    assert report.address == "12 cours julien"
    # Two streets look like it: the form asks which one, keeping what was typed.
    ambiguous = send(client, description="Trou", address="rue de la r")
    assert ambiguous.status_code == 400
    html = ambiguous.get_data(as_text=True)
    assert "Quelle rue est-ce ?" in html
    found = re.findall(r'name="street_choice" value="(\d+)"[^>]*> ([^<]+)', html)
    choices = {key: name.strip() for key, name in found}
    assert set(choices.values()) == {"Rue de la République", "Rue de la Rotonde"}
    rotonde = next(k for k, v in choices.items() if v == "Rue de la Rotonde")
    chosen = send(client, description="Trou", address="rue de la r", street_choice=rotonde)
    assert chosen.status_code == 303
    latest = max(stored(session), key=lambda r: r.id or 0)
    assert latest.lat == pytest.approx(43.301)
    unknown = send(client, description="Trou", address="avenue des Champs-Élysées")
    assert "Nous ne connaissons pas cette rue" in unknown.get_data(as_text=True)
    assert len(stored(session)) == 2


def test_the_form_is_rate_limited_like_the_api(
    app: Flask, database_url: str, redis_url: str, instance_path: Path
) -> None:
    from tests.conftest import make_test_app

    limited = make_test_app(database_url, redis_url, instance_path, RATELIMIT_INTAKE="2 per minute")
    with limited.test_client() as phone:
        codes = [send(phone, description=f"Trou {i}", **COURS_JULIEN).status_code for i in range(3)]
        # Reading the form is not limited.
        assert phone.get("/signaler").status_code == 200
        last = send(phone, description="Trou", **COURS_JULIEN)
    limited.extensions["lanterne.db"].dispose()
    assert codes == [303, 303, 429]
    assert last.status_code == 429
    assert "Trop de demandes" in last.get_data(as_text=True)


def test_following_from_the_tracking_page_without_javascript(
    client: FlaskClient, session: Session
) -> None:
    filed = send(
        client, description="Lampadaire éteint", service_code="streetlight", **COURS_JULIEN
    )
    tracking_id = filed.headers["Location"].split("/")[2].split("?")[0]
    url = f"/suivi/{tracking_id}/suivre"
    assert client.post(url, data={"email": "a@example.org", "consent": "on"}).status_code == 400
    csrf = token(client)
    followed = client.post(
        url, data={"csrf_token": csrf, "email": "a@example.org", "consent": "on"}
    )
    assert followed.status_code == 303
    assert followed.headers["Location"].startswith(f"/suivi/{tracking_id}?")
    client.post(url, data={"csrf_token": csrf, "email": "A@example.org", "consent": "on"})
    client.post(url, data={"csrf_token": csrf})
    rows = session.exec(select(Subscription)).all()
    assert len(rows) == 2
    assert sorted(r.consent_notifications for r in rows) == [False, True]
    bad = client.post(url, data={"csrf_token": csrf, "email": "pas-une-adresse", "consent": "on"})
    assert bad.status_code == 400
    assert len(session.exec(select(Subscription)).all()) == 2
    missing = client.post("/suivi/AAAAAAAAAAAAAAAAAAAAAAAA/suivre", data={"csrf_token": csrf})
    assert missing.status_code == 404


def test_installable_manifest_and_service_worker(client: FlaskClient) -> None:
    manifest = client.get("/manifest.webmanifest")
    assert manifest.status_code == 200
    assert manifest.mimetype == "application/manifest+json"
    body = manifest.json
    assert body["start_url"] == "/signaler" and body["display"] == "standalone"
    for icon in body["icons"]:
        image = client.get(icon["src"])
        assert image.status_code == 200 and image.mimetype == "image/png"
        size = Image.open(io.BytesIO(image.data)).size
        image.close()
        assert f"{size[0]}x{size[1]}" == icon["sizes"]
    assert client.get("/manifest.webmanifest?lang=en").json["start_url"] == "/report"
    worker = client.get("/sw.js")
    assert worker.status_code == 200 and worker.mimetype == "text/javascript"
    assert worker.headers["Cache-Control"] == "no-cache"
    worker.close()
    drafts = client.get("/static/public/drafts.js")
    assert "Idempotency-Key" in drafts.get_data(as_text=True)
    drafts.close()
