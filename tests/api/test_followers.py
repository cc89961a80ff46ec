"""Duplicates before filing (nearby open reports) and following one, as a phone uses them."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient
from sqlmodel import Session, select

from backend.models import Report, ReportStatus, Subscription
from backend.services.contacts import ContactCipher, load_keys

COURS_JULIEN = {"lat": 43.29352, "lon": 5.38337}
# About 90 m north of it, and about 1 km away.
NEAR = {"lat": 43.29432, "lon": 5.38337}
FAR = {"lat": 43.30252, "lon": 5.38337}


def report(client: FlaskClient, where: dict[str, float], code: str, text: str) -> str:
    body = {"description": text, "service_code": code, **where}
    response = client.post("/api/v1/reports", json=body)
    assert response.status_code == 201, response.json
    return str(response.json["tracking_id"])


def nearby(client: FlaskClient, **params: Any) -> Any:
    query = {**COURS_JULIEN, "service_code": "streetlight", **params}
    return client.get("/api/v1/reports/nearby", query_string=query)


def scrub(session: Session, tracking_id: str, text: str) -> None:
    """What the worker does: store the scrubbed description beside the resident's own."""
    row = session.exec(select(Report).where(Report.tracking_id == tracking_id)).one()
    row.description_public = text
    session.add(row)
    session.commit()


def test_nearby_lists_open_reports_of_the_category_nearest_first(
    client: FlaskClient, session: Session
) -> None:
    near = report(client, NEAR, "streetlight", "Lampadaire éteint, appeler Paul au 0612345678")
    here = report(client, COURS_JULIEN, "streetlight", "Le réverbère clignote")
    report(client, FAR, "streetlight", "Lampadaire éteint loin d'ici")
    report(client, COURS_JULIEN, "graffiti", "Tag sur le mur")
    scrub(session, near, "Lampadaire éteint, appeler [nom] au [téléphone]")

    response = nearby(client)
    assert response.status_code == 200, response.json
    rows = response.json
    assert [r["tracking_id"] for r in rows] == [here, near]
    first, second = rows
    assert first["distance_m"] == 0
    assert 60 <= second["distance_m"] <= 120 and second["distance_m"] % 10 == 0
    assert second["service_name"] == "Éclairage public en panne"
    assert second["status"] == "received"
    assert second["followers"] == 0
    # Only the scrubbed text, and none before the worker has scrubbed it.
    assert second["description_excerpt"] == "Lampadaire éteint, appeler [nom] au [téléphone]"
    assert first["description_excerpt"] is None
    # Never a position, never the resident's own words, never contact data.
    for row in rows:
        assert set(row) == {
            "tracking_id",
            "service_code",
            "service_name",
            "status",
            "created_at",
            "distance_m",
            "followers",
            "description_excerpt",
        }
    assert "0612345678" not in response.get_data(as_text=True)
    assert str(NEAR["lat"]) not in response.get_data(as_text=True)
    # A wider radius reaches the far one; English names on request.
    wide = nearby(client, radius_m=500, lang="en").json
    assert len(wide) == 2
    assert wide[0]["service_name"] == "Street light out"
    assert len(nearby(client, radius_m=500, lat=FAR["lat"]).json) == 1


def test_nearby_never_lists_categories_about_people(client: FlaskClient) -> None:
    report(client, COURS_JULIEN, "noise", "Musique très forte chez le voisin du 3e")
    report(client, COURS_JULIEN, "public_order", "Rodéo de motos tous les soirs")
    assert nearby(client, service_code="noise").json == []
    assert nearby(client, service_code="public_order").json == []


def test_nearby_leaves_closed_reports_out(client: FlaskClient, session: Session) -> None:
    tracking = report(client, COURS_JULIEN, "streetlight", "Lampadaire éteint")
    assert len(nearby(client).json) == 1
    row = session.exec(select(Report).where(Report.tracking_id == tracking)).one()
    row.status = ReportStatus.FIXED
    session.add(row)
    session.commit()
    assert nearby(client).json == []


def test_nearby_refuses_bad_radius_and_missing_parameters(client: FlaskClient) -> None:
    for bad in ({"radius_m": 501}, {"radius_m": 0}, {"radius_m": "loin"}, {"lat": "nan"}):
        response = nearby(client, **bad)
        assert response.status_code == 422, bad
        assert response.json["errors"]["query"]
    missing = client.get("/api/v1/reports/nearby", query_string={"lat": 43.3, "lon": 5.4})
    assert missing.status_code == 422
    assert "service_code" in missing.json["errors"]["query"]
    assert nearby(client, service_code="no_such_code").json == []


def test_follow_counts_a_person_once_and_encrypts_the_email(
    client: FlaskClient, session: Session, app: Any
) -> None:
    tracking = report(client, COURS_JULIEN, "streetlight", "Lampadaire éteint")
    url = f"/api/v1/reports/{tracking}/follow"
    body = {"email": "Voisine@Example.org", "consent": True, "language": "en"}
    first = client.post(url, json=body)
    assert first.status_code == 201, first.json
    assert first.json == {"followers": 1, "notifications": True}
    again = client.post(url, json={**body, "email": "voisine@example.org"})
    assert again.json == {"followers": 1, "notifications": True}
    # A +1 without an e-mail is one more, each time.
    assert client.post(url, json={}).json == {"followers": 2, "notifications": False}
    assert nearby(client).json[0]["followers"] == 2

    rows = session.exec(select(Subscription)).all()
    assert len(rows) == 2
    with_email = next(r for r in rows if r.email_hmac)
    assert with_email.consent_notifications is True and with_email.language == "en"
    assert with_email.ciphertext is not None and b"example.org" not in with_email.ciphertext
    assert len(with_email.token) >= 40
    from pathlib import Path

    cipher = ContactCipher(load_keys(app.config["CONTACT_KEYS"], Path(app.instance_path)))
    assert cipher.decrypt(with_email.ciphertext).email == "Voisine@Example.org"
    plus_one = next(r for r in rows if not r.email_hmac)
    assert plus_one.ciphertext is None and plus_one.consent_notifications is False


def test_follow_errors(client: FlaskClient, session: Session) -> None:
    unknown = client.post("/api/v1/reports/AAAAAAAAAAAAAAAAAAAAAAAA/follow", json={})
    assert unknown.status_code == 404
    assert unknown.json["message"] == "No report has this tracking id."
    tracking = report(client, COURS_JULIEN, "streetlight", "Lampadaire éteint")
    url = f"/api/v1/reports/{tracking}/follow"
    # An e-mail without the consent to be written to is not kept: a +1 only.
    no_consent = client.post(url, json={"email": "a@example.org", "consent": False})
    assert no_consent.status_code == 201
    assert no_consent.json == {"followers": 1, "notifications": False}
    assert session.exec(select(Subscription)).one().ciphertext is None
    assert client.post(url, json={"email": "pas-un-email"}).status_code == 422
    assert client.post(url, json={"language": "de"}).status_code == 422
    row = session.exec(select(Report).where(Report.tracking_id == tracking)).one()
    row.status = ReportStatus.DUPLICATE
    session.add(row)
    session.commit()
    closed = client.post(url, json={})
    assert closed.status_code == 409
    assert "closed" in closed.json["message"]
    assert len(session.exec(select(Subscription)).all()) == 1
