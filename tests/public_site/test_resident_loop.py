"""The resident's loop, end to end through the web: their token, their own tracking page, the
city reading it ("received" → "open"), "not fixed" reopening it, and what they add to it."""

from __future__ import annotations

import html
import io
import re
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image
from sqlmodel import Session, select

from backend.db import utcnow
from backend.models import (
    AuditLog,
    Feedback,
    Report,
    ReportAddition,
    ReportStatus,
    ReportUpdate,
    StaffUser,
)
from backend.services.staff import create_staff
from tests.staff.conftest import FAST_ARGON2, PASSWORD, csrf_token, login

VIEUX_PORT = {"lat": 43.2951, "lon": 5.3740}
TEXT = "Le lampadaire devant le 12 rue de la République est éteint, appelez-moi au 06 12 34 56 78"
AGENT = "agent.eclairage@marseille.fr"


@pytest.fixture(autouse=True)
def _fast_argon2(app: Flask, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for key, value in FAST_ARGON2.items():
        monkeypatch.setitem(app.config, key, value)
    yield


def jpeg(colour: tuple[int, int, int] = (200, 30, 30), size: tuple[int, int] = (64, 48)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, format="JPEG")
    return out.getvalue()


def file_report(client: FlaskClient, photo: bytes | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {"description": TEXT, "service_code": "streetlight", **VIEUX_PORT}
    if photo is not None:
        data["photo"] = (io.BytesIO(photo), "IMG_0001.jpg", "image/jpeg")
        response = client.post("/api/v1/reports", data=data, content_type="multipart/form-data")
    else:
        response = client.post("/api/v1/reports", json=data)
    assert response.status_code == 201, response.get_json()
    return dict(response.get_json())


def path_of(url: str) -> str:
    return url.split("https://lanterne.example", 1)[1]


def text(client: FlaskClient, url: str, status: int = 200) -> str:
    response = client.get(url)
    assert response.status_code == status, (url, response.status_code)
    return html.unescape(response.get_data(as_text=True))


def stored(session: Session) -> Report:
    session.expire_all()
    return session.exec(select(Report)).one()


def statuses(session: Session, report: Report) -> list[tuple[str, str | None]]:
    rows = session.exec(
        select(ReportUpdate).where(ReportUpdate.report_id == report.id).order_by(ReportUpdate.id)  # type: ignore[arg-type]
    )
    return [(u.status, u.author) for u in rows]


@pytest.fixture
def agent(session: Session) -> StaffUser:
    return create_staff(
        session=session,
        email=AGENT,
        role="agent",
        password=PASSWORD,
        service_codes=["streetlight"],
    )


def set_status_as_staff(client: FlaskClient, report_id: int, status: str, note: str = "") -> None:
    page = f"/staff/reports/{report_id}"
    token = csrf_token(client, page)
    response = client.post(
        f"{page}/status", data={"status": status, "public_note": note, "csrf_token": token}
    )
    assert response.status_code == 302, response.get_data(as_text=True)


def test_the_token_opens_the_residents_own_report_and_nothing_else_does(
    client: FlaskClient, session: Session, run_jobs: Callable[[], int]
) -> None:
    body = file_report(client, photo=jpeg())
    assert run_jobs() == 1  # classified and scrubbed by the real worker
    report = stored(session)
    assert report.token_hash and body["token"] not in report.token_hash
    own = text(client, path_of(body["tracking_url"]))
    # Their words, as scrubbed: the phone number is gone; the photo is shown with the token.
    assert "Le lampadaire devant" in own and "06 12 34 56 78" not in own
    assert "[téléphone]" in own
    photo_url = re.search(r'<img id="own-photo" src="([^"]+)"', own)
    assert photo_url, own
    photo = client.get(photo_url.group(1).replace("&amp;", "&"))
    assert photo.status_code == 200 and photo.mimetype == "image/jpeg"
    assert (
        photo.data
        == (Path(client.application.config["MEDIA_PATH"]) / report.photo_name).read_bytes()
    )  # type: ignore[operator]
    assert "no-store" in photo.headers["Cache-Control"]
    photo.close()
    # The status says nobody has read it yet, though the worker has sorted it.
    assert "Reçu" in own and "Pas encore lu" in own

    tracking = f"/suivi/{body['tracking_id']}"
    for url in (tracking, f"{tracking}?t=wrong-token", f"{tracking}?t="):
        public = text(client, url)
        assert "Le lampadaire devant" not in public and "own-photo" not in public
        assert "Ajouter une information" not in public
    for url in (f"{tracking}/photo", f"{tracking}/photo?t=wrong", f"{tracking}/photo?t={'x' * 32}"):
        assert client.get(url).status_code == 404
    # The JSON tracking resource: the photo and the text only with the token.
    api = client.get(f"/api/v1/reports/{body['tracking_id']}").get_json()
    assert api["photo_url"] is None and "description_public" not in api
    mine = client.get(f"/api/v1/reports/{body['tracking_id']}?t={body['token']}").get_json()
    assert mine["photo_url"].endswith(f"/photo?t={body['token']}")
    assert "[téléphone]" in mine["description_public"]
    # An idempotent retry answers the same token.
    again = client.post(
        "/api/v1/reports",
        json={"description": "x", **VIEUX_PORT},
        headers={"Idempotency-Key": "k1"},
    )
    replay = client.post(
        "/api/v1/reports",
        json={"description": "x", **VIEUX_PORT},
        headers={"Idempotency-Key": "k1"},
    )
    assert again.get_json()["token"] == replay.get_json()["token"]


def test_staff_reading_it_opens_it_once_and_changes_show_the_resident(
    client: FlaskClient, session: Session, run_jobs: Callable[[], int], agent: StaffUser
) -> None:
    body = file_report(client)
    run_jobs()
    report = stored(session)
    assert report.status == ReportStatus.RECEIVED
    assert login(client, AGENT).status_code == 302
    assert "ouvert" in text(client, f"/staff/reports/{report.id}")
    report = stored(session)
    assert report.status == ReportStatus.OPEN
    assert statuses(session, report) == [("received", None), ("open", AGENT)]
    audit = session.exec(select(AuditLog).where(AuditLog.action == "report.read")).one()
    assert audit.actor == AGENT and audit.target == f"report:{report.id}"
    text(client, f"/staff/reports/{report.id}")  # read again: nothing new
    assert len(statuses(session, report)) == 2
    assert report.id is not None
    set_status_as_staff(client, report.id, "fixed")
    own = text(client, path_of(body["tracking_url"]))
    assert "Réglé" in own and "Est-ce vraiment réglé" in own
    assert "le signalement est rouvert" in own  # the questionnaire says what "No" does


def test_a_category_correction_also_reads_it(
    client: FlaskClient, session: Session, run_jobs: Callable[[], int], agent: StaffUser
) -> None:
    file_report(client)
    run_jobs()
    report = stored(session)
    assert login(client, AGENT).status_code == 302
    token = csrf_token(client, "/staff/triage")
    response = client.post(
        f"/staff/reports/{report.id}/category",
        data={"service_code": "streetlight", "csrf_token": token},
    )
    assert response.status_code == 302
    report = stored(session)
    assert report.status == ReportStatus.OPEN
    assert statuses(session, report)[-1] == ("open", AGENT)


def test_not_fixed_within_the_window_reopens_and_staff_see_the_answer(
    client: FlaskClient, session: Session, run_jobs: Callable[[], int], agent: StaffUser
) -> None:
    body = file_report(client)
    run_jobs()
    report = stored(session)
    assert login(client, AGENT).status_code == 302
    assert report.id is not None
    set_status_as_staff(client, report.id, "fixed", "Lampe changée.")
    tracking = path_of(body["tracking_url"])
    answer = client.post(
        tracking, data={"fixed": "no", "satisfaction": "2", "comment": "Toujours éteint ce soir"}
    )
    assert answer.status_code == 303
    page = text(client, answer.headers["Location"])
    assert "Le signalement est rouvert" in page and "Ouvert" in page
    report = stored(session)
    assert report.status == ReportStatus.OPEN and report.closed_at is None
    assert statuses(session, report)[-1] == ("open", "resident")
    assert session.exec(select(Feedback)).one().reopened is True
    staff_page = text(client, f"/staff/reports/{report.id}")
    assert "Rouvert par l'habitant : pas réparé" in staff_page
    assert "Toujours éteint ce soir" in staff_page
    english = text(client, f"/staff/reports/{report.id}?lang=en")
    assert "Reopened by the resident: not fixed" in english
    # The answer is given once: a second "not fixed" is refused, the report stays as it is.
    again = client.post(tracking, data={"fixed": "no"})
    assert again.status_code in (200, 400)
    assert len(session.exec(select(Feedback)).all()) == 1


def test_not_fixed_after_the_window_is_recorded_but_does_not_reopen(
    client: FlaskClient,
    session: Session,
    run_jobs: Callable[[], int],
    agent: StaffUser,
    app: Flask,
) -> None:
    body = file_report(client)
    run_jobs()
    report = stored(session)
    assert login(client, AGENT).status_code == 302
    assert report.id is not None
    set_status_as_staff(client, report.id, "fixed")
    report = stored(session)
    assert report.closed_at is not None
    days = app.config["FEEDBACK_REOPEN_DAYS"]
    report.closed_at = report.closed_at - timedelta(days=days + 1)
    session.add(report)
    session.commit()
    tracking = path_of(body["tracking_url"])
    assert "ne le rouvre pas" in text(client, tracking)
    answer = client.post(tracking, data={"fixed": "no", "comment": "Encore en panne"})
    page = text(client, answer.headers["Location"])
    assert "il n'est donc pas rouvert" in page and 'href="/signaler"' in page
    report = stored(session)
    assert report.status == ReportStatus.FIXED
    feedback = session.exec(select(Feedback)).one()
    assert (feedback.fixed, feedback.reopened, feedback.comment) == (
        False,
        False,
        "Encore en panne",
    )
    staff_page = text(client, f"/staff/reports/{report.id}")
    assert "réponse après le délai de réouverture : non rouvert" in staff_page
    assert "Rouvert par l'habitant" not in staff_page
    # Through the API too: recorded, not reopened.
    other = file_report(client)
    late = stored_by(session, other["tracking_id"])
    late.status, late.closed_at = ReportStatus.FIXED, report.closed_at
    session.add(late)
    session.commit()
    url = f"/api/v1/reports/{other['tracking_id']}/feedback"
    # The questionnaire is the resident's: the tracking id alone (shown to neighbours among
    # the reports nearby) does not let anyone answer it.
    assert client.post(url, json={"fixed": False}).status_code == 404
    assert client.post(url + "?t=" + "x" * 32, json={"fixed": False}).status_code == 404
    response = client.post(url + "?t=" + other["token"], json={"fixed": False})
    assert response.status_code == 201
    assert (response.get_json()["reopened"], response.get_json()["status"]) == (False, "fixed")


def stored_by(session: Session, tracking_id: str) -> Report:
    session.expire_all()
    return session.exec(select(Report).where(Report.tracking_id == tracking_id)).one()


def test_the_resident_adds_information_and_a_photo_staff_see_it(
    client: FlaskClient, session: Session, run_jobs: Callable[[], int], agent: StaffUser
) -> None:
    body = file_report(client)
    run_jobs()
    tracking = f"/suivi/{body['tracking_id']}"
    added = client.post(
        f"{tracking}/ajouter",
        data={
            "t": body["token"],
            "text": "Le poteau penche aussi, écrivez à jean.dupont@example.org",
            "photo": (io.BytesIO(jpeg((10, 120, 10))), "poteau.png", "image/png"),
        },
        content_type="multipart/form-data",
    )
    assert added.status_code == 303, added.get_data(as_text=True)
    assert added.headers["Location"].endswith("#ajouts")
    addition = session.exec(select(ReportAddition)).one()
    assert addition.photo_name and addition.text_public is None
    pending = text(client, added.headers["Location"].split("#")[0])
    assert "Merci, votre information a été ajoutée" in pending
    assert "jean.dupont@example.org" not in pending  # not shown before it is scrubbed
    assert run_jobs() == 1  # the scrubbing job
    page = text(client, path_of(body["tracking_url"]))
    assert "Le poteau penche aussi" in page and "jean.dupont@example.org" not in page
    photo = re.search(r'src="(/suivi/[^"]+/ajouts/\d+/photo\?t=[^"]+)"', page)
    assert photo
    served = client.get(photo.group(1))
    assert served.status_code == 200 and served.mimetype == "image/jpeg"
    served.close()
    assert client.get(photo.group(1).split("?")[0]).status_code == 404
    assert login(client, AGENT).status_code == 302
    report = stored(session)
    staff_page = text(client, f"/staff/reports/{report.id}")
    # Staff read the words as written, in the history, with the photo.
    assert "Information ajoutée par l'habitant" in staff_page
    assert "jean.dupont@example.org" in staff_page
    assert f"/media/{addition.photo_name}" in staff_page


def test_bad_additions_are_refused_clearly_and_store_nothing(
    client: FlaskClient, session: Session, app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = file_report(client)
    tracking = f"/suivi/{body['tracking_id']}"
    media = Path(app.config["MEDIA_PATH"])
    before = set(media.glob("*"))

    def add(**data: Any) -> Any:
        return client.post(f"{tracking}/ajouter", data=data, content_type="multipart/form-data")

    # Without the token, or with a wrong one: like an unknown report.
    assert add(text="coucou").status_code == 404
    assert add(t="faux", text="coucou").status_code == 404
    not_image = add(t=body["token"], photo=(io.BytesIO(b"%PDF-1.4 not an image"), "x.jpg"))
    assert not_image.status_code == 400
    assert "Photo refusée" in not_image.get_data(as_text=True)
    monkeypatch.setitem(app.config, "PHOTO_MAX_BYTES", 1000)
    big = add(t=body["token"], photo=(io.BytesIO(jpeg(size=(600, 600))), "big.jpg"))
    assert big.status_code == 400 and "larger than" in big.get_data(as_text=True)
    empty = add(t=body["token"], text="   ")
    assert empty.status_code == 400
    assert "Écrivez quelque chose ou choisissez une photo" in empty.get_data(as_text=True)
    too_long = add(t=body["token"], text="x" * 2001)
    assert too_long.status_code == 400
    assert session.exec(select(ReportAddition)).all() == []
    assert set(media.glob("*")) == before
    # A closed report takes no more additions.
    report = stored(session)
    report.status = ReportStatus.REJECTED
    session.add(report)
    session.commit()
    closed = add(t=body["token"], text="encore")
    assert closed.status_code == 409 and "clos" in closed.get_data(as_text=True)
    assert "Ajouter une information" not in text(client, path_of(body["tracking_url"]))


def test_open311_answers_carry_the_residents_token_and_page(
    client: FlaskClient, session: Session
) -> None:
    from backend.services.apikeys import create_key

    _key, secret = create_key(session=session, name="appli-mobile")
    response = client.post(
        "/open311/v2/requests.json",
        data={"api_key": secret, "service_code": "streetlight", "lat": "43.2951", "long": "5.374"},
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    answer = response.get_json()[0]
    report = stored(session)
    assert answer["service_request_id"] == str(report.id)
    assert answer["tracking_url"].endswith(
        f"/suivi/{report.tracking_id}?t={answer['resident_token']}"
    )
    assert "Ce que vous avez signalé" in text(client, path_of(answer["tracking_url"]))
    resolved = client.get(f"/open311/v2/tokens/{answer['resident_token']}.json").get_json()
    assert resolved[0]["service_request_id"] == str(report.id)


def test_questionnaire_figures_per_service_for_the_roles_that_may_see_them(
    client: FlaskClient, session: Session, agent: StaffUser
) -> None:
    from backend.services.feedback import submit_feedback
    from backend.services.reports import set_status

    for code, fixed, mark in (
        ("streetlight", True, 5),
        ("streetlight", False, 1),
        ("graffiti", True, 4),
    ):
        file_report(client)
        report = session.exec(select(Report).order_by(Report.id.desc())).first()  # type: ignore[union-attr]
        assert report is not None
        report.service_code = code
        set_status(session=session, report=report, status=ReportStatus.FIXED)
        session.commit()
        submit_feedback(session=session, report=report, fixed=fixed, satisfaction=mark)
    create_staff(session=session, email="analyste@marseille.fr", role="analyst", password=PASSWORD)
    assert login(client, AGENT).status_code == 302
    mine = text(client, "/staff/questionnaires")
    cells = r"<td>([^<]+)</td>" * 4
    rows = re.findall(r'<tr><th scope="row">([^<]+)</th>' + cells + "</tr>", mine)
    assert rows == [("Éclairage public en panne", "2", "50 %", "3,0", "1")]  # not graffiti
    assert 'href="/staff/questionnaires"' in text(client, "/staff/")
    client.post("/staff/logout", data={"csrf_token": csrf_token(client, "/staff/")})
    assert login(client, "analyste@marseille.fr").status_code == 302
    every = text(client, "/staff/questionnaires?lang=en")
    assert "Graffiti" in every and "Street light out" in every and "50%" in every
    client.post("/staff/logout", data={"csrf_token": csrf_token(client, "/staff/")})
    assert client.get("/staff/questionnaires").status_code == 302  # login first


def test_a_back_office_update_reads_it_even_a_late_one(
    client: FlaskClient, session: Session
) -> None:
    from backend.services.apikeys import create_key

    _key, secret = create_key(session=session, name="gmao", can_post_updates=True)
    file_report(client)
    report = stored(session)
    assert report.id is not None and report.status == ReportStatus.RECEIVED
    # Dated before the report's last step: history only, yet the back office has read it.
    earlier = (report.created_at - timedelta(minutes=1)).isoformat()
    response = client.post(
        "/open311/v2/servicerequestupdates.json",
        data={
            "api_key": secret,
            "service_request_id": str(report.id),
            "update_id": "GMAO-1",
            "status": "INVESTIGATING",
            "updated_datetime": earlier,
        },
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    report = stored(session)
    assert report.status == ReportStatus.OPEN
    assert ("open", "open311:gmao") in statuses(session, report)


def test_the_questionnaire_needs_the_residents_link(
    client: FlaskClient, session: Session, run_jobs: Callable[[], int]
) -> None:
    """The public page (tracking id only) neither offers nor takes the questionnaire."""
    body = file_report(client)
    run_jobs()
    report = stored_by(session, body["tracking_id"])
    report.status, report.closed_at = ReportStatus.FIXED, utcnow()
    session.add(report)
    session.commit()
    public = f"/suivi/{body['tracking_id']}"
    assert 'name="fixed"' not in text(client, public)
    refused = client.post(public, data={"fixed": "no", "comment": "Encore en panne"})
    assert refused.status_code == 404
    assert session.exec(select(Feedback)).first() is None
    own = path_of(body["tracking_url"])
    assert 'name="fixed"' in text(client, own)
    answered = client.post(own, data={"fixed": "no", "comment": "Encore en panne"})
    assert answered.status_code == 303
    assert stored_by(session, body["tracking_id"]).status == ReportStatus.OPEN
