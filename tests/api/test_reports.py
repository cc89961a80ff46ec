"""Report intake and tracking, as a resident's app uses them."""

from __future__ import annotations

import io
import json
import stat
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image
from sqlmodel import Session, select

from backend.db import make_engine
from backend.models import Contact, IdempotencyRecord, OutboxMessage, Report, ReportUpdate
from backend.services.contacts import ContactCipher, delete_contact, load_keys, read_contact

VIEUX_PORT = {"lat": 43.2951, "lon": 5.3740}


def post(client: FlaskClient, body: dict | None = None, **kwargs: object):
    return client.post("/api/v1/reports", json=body, **kwargs)


def count(session: Session, model: type) -> int:
    session.expire_all()
    return len(session.exec(select(model)).all())


def jpeg_with_gps() -> bytes:
    """A real JPEG carrying EXIF with a GPS block, as a phone camera writes it."""
    image = Image.new("RGB", (64, 48), (200, 30, 30))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    gps = {1: "N", 2: (43.0, 17.0, 42.0), 3: "E", 4: (5.0, 22.0, 27.0)}
    exif[0x8825] = gps  # GPSInfo
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif)
    return out.getvalue()


def test_json_report_is_created_with_an_unguessable_tracking_id(
    client: FlaskClient, session: Session
) -> None:
    response = post(client, {"description": "Lampadaire éteint devant l'école", **VIEUX_PORT})
    assert response.status_code == 201, response.json
    body = response.json
    # 144 bits of randomness, URL-safe base64: 24 characters.
    assert len(body["tracking_id"]) >= 22
    # The tracking page's link carries the resident's token (192 bits; only its hash stored).
    assert len(body["token"]) == 32
    assert body["tracking_url"] == (
        f"https://lanterne.example/suivi/{body['tracking_id']}?t={body['token']}"
    )
    stored = session.exec(select(Report)).one()
    assert stored.token_hash and body["token"] not in stored.token_hash
    # Location is the report's tracking resource, the same absolute URL as api_url.
    assert response.headers["Location"] == body["api_url"]
    assert client.get(response.headers["Location"]).json["tracking_id"] == body["tracking_id"]
    ids = {
        post(client, {"description": f"trou {i}", **VIEUX_PORT}).json["tracking_id"]
        for i in range(20)
    }
    assert len(ids) == 20
    report = session.exec(select(Report).where(Report.tracking_id == body["tracking_id"])).one()
    assert report.status == "received"
    assert report.lat == pytest.approx(VIEUX_PORT["lat"])


def test_tracking_shows_status_history_and_no_personal_data(client: FlaskClient) -> None:
    created = post(
        client,
        {
            "description": "Je suis Jean Dupont, 06 12 34 56 78, le feu est cassé",
            "service_code": "traffic_signal",
            "contact": {"email": "jean.dupont@example.org", "phone": "06 12 34 56 78"},
            **VIEUX_PORT,
        },
    ).json
    response = client.get(f"/api/v1/reports/{created['tracking_id']}")
    assert response.status_code == 200
    body = response.json
    assert body["status"] == "received"
    assert [h["status"] for h in body["history"]] == ["received"]
    text = json.dumps(body)
    for secret in ("Dupont", "06 12", "+336", "example.org", "lat", "lon", "description"):
        assert secret not in text


def test_unknown_tracking_id_is_404_json(client: FlaskClient) -> None:
    response = client.get("/api/v1/reports/not-a-real-id")
    assert response.status_code == 404
    assert response.json["code"] == 404 and "tracking id" in response.json["message"]


def test_same_idempotency_key_and_body_replays_and_creates_nothing(
    client: FlaskClient, session: Session
) -> None:
    body = {"description": "Nid de poule énorme", **VIEUX_PORT}
    first = post(client, body, headers={"Idempotency-Key": "phone-retry-1"})
    second = post(
        client, dict(reversed(list(body.items()))), headers={"Idempotency-Key": "phone-retry-1"}
    )
    assert first.status_code == second.status_code == 201
    assert first.json == second.json
    assert second.headers["Idempotent-Replayed"] == "true"
    assert count(session, Report) == 1
    assert count(session, OutboxMessage) == 1


def test_same_idempotency_key_with_another_body_is_refused(
    client: FlaskClient, session: Session
) -> None:
    post(client, {"description": "Tag sur le mur", **VIEUX_PORT}, headers={"Idempotency-Key": "k"})
    response = post(
        client, {"description": "Autre chose", **VIEUX_PORT}, headers={"Idempotency-Key": "k"}
    )
    assert response.status_code == 409
    assert "different request body" in response.json["message"]
    assert count(session, Report) == 1


def test_expired_idempotency_key_is_free_again(client: FlaskClient, session: Session) -> None:
    post(client, {"description": "Tag", **VIEUX_PORT}, headers={"Idempotency-Key": "old"})
    record = session.exec(select(IdempotencyRecord)).one()
    from datetime import timedelta

    record.created_at = record.created_at - timedelta(hours=25)
    session.add(record)
    session.commit()
    again = post(client, {"description": "Tag", **VIEUX_PORT}, headers={"Idempotency-Key": "old"})
    assert again.status_code == 201
    assert again.headers.get("Idempotent-Replayed") is None
    assert count(session, Report) == 2


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"lat": 43.3, "lon": 5.4}, "description"),
        ({"description": "", "lat": 43.3, "lon": 5.4}, "description"),
        ({"description": "   \n\t ", "lat": 43.3, "lon": 5.4}, "description"),
        ({"description": "x" * 4001, "lat": 43.3, "lon": 5.4}, "description"),
        ({"description": 12, "lat": 43.3, "lon": 5.4}, "description"),
        ({"description": "ok", "lat": "north", "lon": 5.4}, "lat"),
        ({"description": "ok", "lat": 91, "lon": 5.4}, "lat"),
        ({"description": "ok", "lat": 43.3, "lon": -181}, "lon"),
        ({"description": "ok", "lat": 43.3}, "lat"),
        ({"description": "ok"}, "_schema"),
        ({"description": "ok", "lat": 43.3, "lon": 5.4, "contact": {"email": "nope"}}, "contact"),
        ({"description": "ok", "lat": 43.3, "lon": 5.4, "contact": {"phone": "12"}}, "contact"),
        ({"description": "ok", "lat": 43.3, "lon": 5.4, "surprise": 1}, "surprise"),
    ],
)
def test_bad_fields_get_a_clear_422_and_store_nothing(
    client: FlaskClient, session: Session, body: dict, field: str
) -> None:
    response = post(client, body)
    assert response.status_code == 422, response.json
    assert field in json.dumps(response.json["errors"])
    assert count(session, Report) == 0


@pytest.mark.parametrize("raw", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_positions_are_refused(
    client: FlaskClient, session: Session, raw: str
) -> None:
    payload = f'{{"description": "ok", "lat": {raw}, "lon": 5.4}}'
    response = client.post("/api/v1/reports", data=payload, content_type="application/json")
    assert response.status_code in (400, 422)
    assert count(session, Report) == 0


def test_malformed_json_is_400(client: FlaskClient, session: Session) -> None:
    response = client.post(
        "/api/v1/reports", data=b'{"description": "ok",', content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json["errors"]
    assert count(session, Report) == 0


def test_unknown_service_code_is_refused(client: FlaskClient, session: Session) -> None:
    response = post(client, {"description": "ok", "service_code": "teleport", **VIEUX_PORT})
    assert response.status_code == 400
    assert "teleport" in response.json["message"]
    assert count(session, Report) == 0


def test_position_outside_the_bbox_without_areas(client: FlaskClient, session: Session) -> None:
    response = post(client, {"description": "Lampadaire", "lat": 48.8566, "lon": 2.3522})
    assert response.status_code == 400
    assert "outside the city" in response.json["message"]
    assert count(session, Report) == 0


def test_without_areas_the_neighbourhood_is_an_h3_cell(
    client: FlaskClient, session: Session
) -> None:
    import h3

    tracking = post(client, {"description": "Trou", **VIEUX_PORT}).json["tracking_id"]
    report = session.exec(select(Report).where(Report.tracking_id == tracking)).one()
    assert report.area_code == h3.latlng_to_cell(VIEUX_PORT["lat"], VIEUX_PORT["lon"], 8)


def test_with_marseille_areas_reports_get_their_quartier(
    client: FlaskClient, session: Session, marseille_areas: int
) -> None:
    assert marseille_areas == 111
    # The Vieux-Port's north quay is in the 2nd arrondissement's Hôtel de Ville quartier.
    tracking = post(client, {"description": "Trou", "lat": 43.2965, "lon": 5.3698}).json[
        "tracking_id"
    ]
    report = session.exec(select(Report).where(Report.tracking_id == tracking)).one()
    assert report.area_code is not None and report.area_code.startswith("13202")
    # Inside the bounding box but at sea, off the Frioul: outside every quartier.
    at_sea = post(client, {"description": "Trou", "lat": 43.25, "lon": 5.25})
    assert at_sea.status_code == 400 and "outside the city's areas" in at_sea.json["message"]
    paris = post(client, {"description": "Trou", "lat": 48.8566, "lon": 2.3522})
    assert paris.status_code == 400


def test_address_only_report_is_accepted(client: FlaskClient, session: Session) -> None:
    response = post(client, {"description": "Poubelles pleines", "address": "12 rue Paradis"})
    assert response.status_code == 201
    report = session.exec(select(Report)).one()
    assert report.address == "12 rue Paradis" and report.area_code is None


@pytest.mark.parametrize(
    "text",
    [
        "Lampadaire 💡🔥 en panne 😡",
        "الإنارة العمومية معطلة في الشارع",
        "zero\u200bwidth\u200d\u2060 chars",
        "<script>alert('x')</script><b>trou</b>",
        "'; DROP TABLE report; --",
    ],
)
def test_unusual_text_is_stored_verbatim(client: FlaskClient, session: Session, text: str) -> None:
    response = post(client, {"description": text, **VIEUX_PORT})
    assert response.status_code == 201
    assert session.exec(select(Report)).one().description == text


def test_description_of_exactly_4000_characters_is_accepted(client: FlaskClient) -> None:
    assert post(client, {"description": "é" * 4000, **VIEUX_PORT}).status_code == 201


def test_oversized_body_is_413_json(app: Flask, client: FlaskClient, session: Session) -> None:
    big = json.dumps({"description": "x" * (app.config["MAX_CONTENT_LENGTH"] + 1), **VIEUX_PORT})
    response = client.post("/api/v1/reports", data=big, content_type="application/json")
    assert response.status_code == 413
    assert response.json["code"] == 413
    assert count(session, Report) == 0


def test_multipart_photo_is_reencoded_without_exif(
    app: Flask, client: FlaskClient, session: Session
) -> None:
    photo = jpeg_with_gps()
    assert Image.open(io.BytesIO(photo)).getexif().get(0x8825)  # the original has GPS
    response = client.post(
        "/api/v1/reports",
        data={
            "description": "Dépôt sauvage",
            "lat": "43.2951",
            "lon": "5.3740",
            "contact_email": "x@example.org",
            "contact_consent_notifications": "true",
            "photo": (io.BytesIO(photo), "IMG_0001.jpg", "image/jpeg"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 201, response.json
    report = session.exec(select(Report)).one()
    assert report.photo_name and len(report.photo_name) >= 32
    stored = Path(app.config["MEDIA_PATH"]) / report.photo_name
    with Image.open(stored) as cleaned:
        assert cleaned.format == "JPEG"
        assert len(cleaned.getexif()) == 0
    assert b"Exif" not in stored.read_bytes() and b"PhoneMaker" not in stored.read_bytes()
    served = client.get(f"/media/{report.photo_name}")
    assert served.status_code == 200 and served.data == stored.read_bytes()
    served.close()
    assert count(session, Contact) == 1


def test_non_image_renamed_jpg_is_refused(
    client: FlaskClient, session: Session, app: Flask
) -> None:
    media_before = set(Path(app.config["MEDIA_PATH"]).glob("*"))
    response = client.post(
        "/api/v1/reports",
        data={
            "description": "Photo",
            **{k: str(v) for k, v in VIEUX_PORT.items()},
            "photo": (io.BytesIO(b"%PDF-1.4 not an image at all"), "photo.jpg", "image/jpeg"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 400
    assert "Photo refused" in response.json["message"]
    assert count(session, Report) == 0
    assert set(Path(app.config["MEDIA_PATH"]).glob("*")) == media_before


def test_decompression_bomb_png_is_refused(client: FlaskClient, session: Session) -> None:
    # A 20000 x 20000 one-bit PNG: 50 kB on the wire, 400 million pixels once decoded.
    image = Image.new("1", (20_000, 20_000))
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    assert len(out.getvalue()) < 1_000_000
    response = client.post(
        "/api/v1/reports",
        data={
            "description": "Photo",
            **{k: str(v) for k, v in VIEUX_PORT.items()},
            "photo": (io.BytesIO(out.getvalue()), "bomb.png", "image/png"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 400
    assert "pixels" in response.json["message"]
    assert count(session, Report) == 0


def test_gif_is_refused_even_with_an_image_content_type(client: FlaskClient) -> None:
    out = io.BytesIO()
    Image.new("RGB", (10, 10)).save(out, format="GIF")
    response = client.post(
        "/api/v1/reports",
        data={
            "description": "Photo",
            **{k: str(v) for k, v in VIEUX_PORT.items()},
            "photo": (io.BytesIO(out.getvalue()), "x.png", "image/png"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 400 and "GIF" in response.json["message"]


def test_contact_is_encrypted_apart_and_deletable(
    app: Flask, client: FlaskClient, session: Session
) -> None:
    post(
        client,
        {
            "description": "Fuite d'eau",
            "contact": {
                "email": "Habitant@Example.org",
                "phone": "06.12.34.56.78",
                "consent_notifications": True,
            },
            **VIEUX_PORT,
        },
    )
    report = session.exec(select(Report)).one()
    contact = session.exec(select(Contact)).one()
    assert b"example" not in contact.ciphertext.lower() and b"0612" not in contact.ciphertext
    key_file = Path(app.instance_path) / "contact.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    cipher = ContactCipher(load_keys(None, Path(app.instance_path)))
    details = read_contact(session=session, cipher=cipher, report_id=report.id)
    assert details is not None
    assert details.email == "Habitant@Example.org" and details.phone == "+33612345678"
    assert details.consent_notifications is True
    # Same person again: the same keyed hash (abuse control), without storing the address.
    assert contact.email_hmac == cipher.keyed_hash("habitant@example.org")
    assert delete_contact(session=session, report_id=report.id) is True
    assert count(session, Contact) == 0
    assert count(session, Report) == 1 and count(session, ReportUpdate) == 1


def test_contact_keys_from_the_environment_are_used(instance_path: Path) -> None:
    from cryptography.fernet import Fernet

    new, old = Fernet.generate_key(), Fernet.generate_key()
    token = ContactCipher([old]).encrypt(
        __import__("backend.services.contacts", fromlist=["x"]).ContactDetails(email="a@b.c")
    )
    rotated = ContactCipher(load_keys(f"{new.decode()},{old.decode()}", instance_path))
    assert rotated.decrypt(token).email == "a@b.c"


def test_openapi_documents_the_intake(client: FlaskClient) -> None:
    spec = client.get("/api/v1/openapi.json").json
    post_op = spec["paths"]["/api/v1/reports"]["post"]
    assert "multipart/form-data" in post_op["requestBody"]["content"]
    assert any(p["name"] == "Idempotency-Key" for p in post_op["parameters"])
    assert "/api/v1/reports/{tracking_id}" in spec["paths"]
    assert client.get("/api/v1/docs").status_code == 200


def test_resident_can_withdraw_contact_details(client: FlaskClient, session: Session) -> None:
    created = post(
        client, {"description": "Fuite", "contact": {"email": "a@example.org"}, **VIEUX_PORT}
    ).json
    assert count(session, Contact) == 1
    url = f"/api/v1/reports/{created['tracking_id']}/contact"
    # The tracking id alone (shown to neighbours among the reports nearby) is not enough.
    assert client.delete(url).status_code == 404
    assert client.delete(url + "?t=" + "x" * 32).status_code == 404
    assert count(session, Contact) == 1
    response = client.delete(url + "?t=" + created["token"])
    assert response.status_code == 204
    assert count(session, Contact) == 0 and count(session, Report) == 1
    assert client.delete("/api/v1/reports/nope/contact").status_code == 404


def test_contacts_of_long_closed_reports_are_purged(client: FlaskClient, session: Session) -> None:
    from datetime import timedelta

    from backend.db import utcnow
    from backend.models import ReportStatus
    from backend.services.reports import set_status
    from workers.jobs import purge_contacts

    for text in ("old", "recent", "open"):
        post(client, {"description": text, "contact": {"email": "a@example.org"}, **VIEUX_PORT})
    reports = {r.description: r for r in session.exec(select(Report))}
    for text in ("old", "recent"):
        set_status(session=session, report=reports[text], status=ReportStatus.FIXED)
    reports["old"].closed_at = utcnow() - timedelta(days=31)
    session.commit()
    assert purge_contacts() == 1
    session.expire_all()
    remaining = {c.report_id for c in session.exec(select(Contact))}
    assert remaining == {reports["recent"].id, reports["open"].id}


def test_a_lost_database_connection_gets_503_and_the_retry_is_stored(
    client: FlaskClient, database_url: str
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite has no server connection to lose")
    assert post(client, {"description": "avant", **VIEUX_PORT}).status_code == 201
    # The database server drops every connection (a restart, a failover).
    admin = make_engine(database_url).execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(
            sa.text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        )
    admin.dispose()
    lost = post(client, {"description": "pendant", **VIEUX_PORT})
    assert lost.status_code == 503 and lost.headers["Retry-After"] == "1"
    assert "send the request again" in lost.json["message"]
    # The phone's retry gets a fresh connection.
    assert post(client, {"description": "après", **VIEUX_PORT}).status_code == 201
    reader = make_engine(database_url)
    with Session(reader) as fresh:
        stored = [r.description for r in fresh.exec(select(Report).order_by(Report.id))]
    reader.dispose()
    assert stored == ["avant", "après"]


def test_a_database_that_does_not_answer_gets_503_not_500(
    redis_url: str, instance_path: Path
) -> None:
    from tests.conftest import make_test_app

    # Nothing listens there: a PostgreSQL being restarted refuses connections like this.
    down = make_test_app("postgresql://postgres@127.0.0.1:9/lanterne", redis_url, instance_path)
    with down.test_client() as phone:
        answer = phone.post("/api/v1/reports", json={"description": "pendant", **VIEUX_PORT})
    down.extensions["lanterne.db"].dispose()
    assert answer.status_code == 503 and answer.headers["Retry-After"] == "1"


def test_intake_is_rate_limited_per_client(
    app: Flask, database_url: str, redis_url: str, instance_path: Path
) -> None:
    from tests.conftest import make_test_app

    limited = make_test_app(database_url, redis_url, instance_path, RATELIMIT_INTAKE="3 per minute")
    with limited.test_client() as phone:
        codes = [
            phone.post("/api/v1/reports", json={"description": "x", **VIEUX_PORT}).status_code
            for _ in range(3)
        ]
        last = phone.post("/api/v1/reports", json={"description": "x", **VIEUX_PORT})
        codes.append(last.status_code)
        other = phone.post(
            "/api/v1/reports",
            json={"description": "x", **VIEUX_PORT},
            environ_base={"REMOTE_ADDR": "10.1.2.3"},
        )
    assert codes == [201, 201, 201, 429]
    assert last.json["code"] == 429
    assert 1 <= int(last.headers["Retry-After"]) <= 60
    assert other.status_code == 201
    limited.extensions["lanterne.db"].dispose()


def test_a_report_is_stored_with_its_first_step_and_its_job(
    client: FlaskClient, session: Session, redis_client, relay
) -> None:
    # On PostgreSQL these three rows come from one statement, on SQLite from three: both must
    # write what the worker and the outbox relay read back.
    from rq.job import Job

    created = post(client, {"description": "Panneau tordu", **VIEUX_PORT}).json
    report = session.exec(select(Report).where(Report.tracking_id == created["tracking_id"])).one()
    step = session.exec(select(ReportUpdate).where(ReportUpdate.report_id == report.id)).one()
    assert (step.status, step.created_at) == ("received", report.created_at)
    assert report.created_at == report.updated_at and report.needs_triage is False
    message = session.exec(select(OutboxMessage)).one()
    assert message.job_path == "workers.jobs.process_report"
    assert message.args == [report.id]
    assert message.job_id == f"process-report-{report.id}"
    assert (message.queue, message.attempts, message.done_at) == ("reports", 0, None)
    assert message.created_at == report.created_at and message.dispatched_at is None
    # The relay pushes that job to RQ under the id the job marks its row done by.
    assert relay() == 1
    job = Job.fetch(message.job_id, connection=redis_client)
    assert (job.func_name, job.args, job.origin) == (message.job_path, (report.id,), "reports")


def test_after_a_plain_report_the_pooled_connections_roll_back_again(
    app: Flask, client: FlaskClient, session: Session
) -> None:
    # A report with nothing beside it is written in autocommit (one round trip on PostgreSQL).
    # The connection must go back to the pool transactional: a later rollback undoes its writes.
    assert post(client, {"description": "Panneau tordu", **VIEUX_PORT}).status_code == 201
    engine = app.extensions["lanterne.db"]
    pooled = [engine.connect() for _ in range(max(engine.pool.checkedin(), 1))]
    try:
        for i, connection in enumerate(pooled):
            connection.execute(
                sa.insert(IdempotencyRecord).values(scope="test", key=f"k{i}", request_hash="x")
            )
            connection.rollback()
    finally:
        for connection in pooled:
            connection.close()
    assert count(session, IdempotencyRecord) == 0
