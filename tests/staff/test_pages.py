"""The /staff pages: login with a session cookie and CSRF tokens, logout, the landing page."""

from __future__ import annotations

import html
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Blueprint, Flask, request
from flask.testing import FlaskClient
from sqlmodel import Session, col, select

from backend.auth import current_staff
from backend.models import AuditLog, StaffUser
from backend.services.staff import disable_staff, set_password
from backend.staff.pages import staff_page_required
from tests.conftest import make_test_app
from tests.staff.conftest import PASSWORD, csrf_token, login

BAD_LOGIN_FR = "Adresse e-mail ou mot de passe incorrect."


def audit_actions(session: Session) -> list[str]:
    session.expire_all()
    return [row.action for row in session.exec(select(AuditLog).order_by(col(AuditLog.id)))]


def test_login_page_is_a_form_with_a_csrf_token(client: FlaskClient) -> None:
    response = client.get("/staff/login")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert '<html lang="fr">' in page
    assert 'name="csrf_token"' in page and 'type="password"' in page
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Cache-Control"] == "no-store"
    english = client.get("/staff/login?lang=en").get_data(as_text=True)
    assert '<html lang="en">' in english and "Password" in english


def test_landing_page_needs_a_login(client: FlaskClient) -> None:
    response = client.get("/staff/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/staff/login?next=/staff/")


def test_login_then_landing_page_lists_what_the_role_can_do(
    client: FlaskClient, make_staff: Callable[..., StaffUser], session: Session
) -> None:
    make_staff("Agent.Lumiere@Marseille.fr", "agent", service_codes=["streetlight"])
    response = login(client, "agent.lumiere@marseille.fr")
    assert response.status_code == 302
    assert response.headers["Location"] == "/staff/"
    page = client.get("/staff/").get_data(as_text=True)
    assert "agent.lumiere@marseille.fr" in page
    assert "Éclairage public en panne" in page  # the agent's service, by name
    assert "Traiter votre file : mon travail, mon équipe, en retard" in html.unescape(page)
    assert "coordonnées" in page  # agents may read contacts, and are told each read is logged
    english = client.get("/staff/?lang=en").get_data(as_text=True)
    assert "Work your queue: my work, my team, overdue" in english
    assert "Merge duplicates" not in english  # no such page in this app: not promised
    assert audit_actions(session)[-1] == "staff.login"


def test_analyst_landing_page_says_no_contact_data(
    client: FlaskClient, make_staff: Callable[..., StaffUser]
) -> None:
    make_staff("analyste@marseille.fr", "analyst")
    login(client, "analyste@marseille.fr")
    page = html.unescape(client.get("/staff/?lang=en").get_data(as_text=True))
    assert "Never any reporter's contact details." in page
    assert "Work your queue" not in page


def test_post_without_csrf_token_is_refused(
    client: FlaskClient, make_staff: Callable[..., StaffUser], session: Session
) -> None:
    make_staff("admin@marseille.fr", "admin")
    client.get("/staff/login")  # a session cookie exists, but the form token is missing
    response = client.post(
        "/staff/login", data={"email": "admin@marseille.fr", "password": PASSWORD}
    )
    assert response.status_code == 400
    assert "expiré" in response.get_data(as_text=True)
    assert client.get("/staff/").status_code == 302  # not logged in
    forged = client.post(
        "/staff/login",
        data={"email": "admin@marseille.fr", "password": PASSWORD, "csrf_token": "forged"},
    )
    assert forged.status_code == 400
    assert "staff.login" not in audit_actions(session)


def test_csrf_token_from_another_session_is_refused(
    app: Flask, client: FlaskClient, make_staff: Callable[..., StaffUser]
) -> None:
    make_staff("admin@marseille.fr", "admin")
    other = app.test_client()
    token_of_other = csrf_token(other)
    client.get("/staff/login")
    response = client.post(
        "/staff/login",
        data={"email": "admin@marseille.fr", "password": PASSWORD, "csrf_token": token_of_other},
    )
    assert response.status_code == 400


def test_wrong_password_and_unknown_email_get_the_same_answer(
    client: FlaskClient, make_staff: Callable[..., StaffUser], session: Session
) -> None:
    make_staff("agent@marseille.fr", "agent", service_codes=["graffiti"])
    wrong = login(client, "agent@marseille.fr", "not the password at all")
    unknown = login(client, "nobody@marseille.fr", "not the password at all")
    assert wrong.status_code == unknown.status_code == 200
    assert BAD_LOGIN_FR in wrong.get_data(as_text=True)
    # Same page, apart from the form's fresh CSRF token.
    strip = lambda r: r.get_data(as_text=True).split('name="csrf_token"')[0]  # noqa: E731
    assert strip(wrong) == strip(unknown)
    assert client.get("/staff/").status_code == 302
    failures = session.exec(select(AuditLog).where(AuditLog.action == "staff.login_failed")).all()
    # Only the existing account's failure is logged (the unknown e-mail may be anyone's).
    assert [(f.target, f.details["reason"]) for f in failures] == [
        (f"staff:{session.exec(select(StaffUser)).one().id}", "password")
    ]


def test_disabled_account_cannot_log_in_and_its_session_ends(
    client: FlaskClient, make_staff: Callable[..., StaffUser], session: Session
) -> None:
    make_staff("agent@marseille.fr", "agent", service_codes=["graffiti"])
    assert login(client, "agent@marseille.fr").status_code == 302
    assert client.get("/staff/").status_code == 200
    disable_staff(session=session, email="agent@marseille.fr")
    assert client.get("/staff/").status_code == 302  # the open session ended
    response = login(client, "agent@marseille.fr")
    assert response.status_code == 200
    assert BAD_LOGIN_FR in response.get_data(as_text=True)  # not "disabled": say nothing


def test_new_password_ends_open_sessions(
    client: FlaskClient, make_staff: Callable[..., StaffUser], session: Session
) -> None:
    staff = make_staff("sup@marseille.fr", "supervisor", department="roads")
    login(client, "sup@marseille.fr")
    assert client.get("/staff/").status_code == 200
    set_password(session=session, staff=staff, password="another long password")
    assert client.get("/staff/").status_code == 302
    assert login(client, "sup@marseille.fr", "another long password").status_code == 302


def test_logout_needs_the_csrf_token(
    client: FlaskClient, make_staff: Callable[..., StaffUser], session: Session
) -> None:
    make_staff("admin@marseille.fr", "admin")
    login(client, "admin@marseille.fr")
    assert client.post("/staff/logout").status_code == 400  # another site cannot log us out
    assert client.get("/staff/").status_code == 200
    response = client.post("/staff/logout", data={"csrf_token": csrf_token(client, "/staff/")})
    assert response.status_code == 302
    assert client.get("/staff/").status_code == 302
    assert audit_actions(session)[-1] == "staff.logout"


@pytest.mark.parametrize(
    "target", ["https://evil.example/", "//evil.example/staff", "/public", "/\\evil.example"]
)
def test_login_never_redirects_off_the_staff_pages(
    client: FlaskClient, make_staff: Callable[..., StaffUser], target: str
) -> None:
    make_staff("admin@marseille.fr", "admin")
    response = login(client, "admin@marseille.fr", next=target)
    assert response.headers["Location"] == "/staff/"


def test_login_follows_next_within_the_staff_pages(
    client: FlaskClient, make_staff: Callable[..., StaffUser]
) -> None:
    make_staff("admin@marseille.fr", "admin")
    response = login(client, "admin@marseille.fr", next="/staff/?lang=en")
    assert response.headers["Location"] == "/staff/?lang=en"


def test_login_is_rate_limited(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "STAFF_LOGIN_RATE_LIMIT", "3 per minute")
    token = csrf_token(client)
    answers = [
        client.post(
            "/staff/login",
            data={"email": "x@marseille.fr", "password": "guess number {i}", "csrf_token": token},
        ).status_code
        for i in range(5)
    ]
    assert answers == [200, 200, 200, 429, 429]
    page = client.post("/staff/login", data={"csrf_token": token}).get_data(as_text=True)
    assert "Trop de tentatives" in page
    assert client.get("/staff/login").status_code == 200  # reading the form is not limited


def test_login_upgrades_the_hash_when_argon2_parameters_change(
    app: Flask,
    client: FlaskClient,
    make_staff: Callable[..., StaffUser],
    session: Session,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    staff = make_staff("admin@marseille.fr", "admin")
    original = staff.password_hash
    assert original is not None and ",t=1," in original
    monkeypatch.setitem(app.config, "ARGON2_TIME_COST", 2)
    assert login(client, "admin@marseille.fr").status_code == 302
    session.expire_all()
    upgraded = session.get(StaffUser, staff.id)
    assert upgraded is not None and upgraded.password_hash is not None
    assert ",t=2," in upgraded.password_hash and upgraded.password_hash != original
    assert upgraded.last_login_at is not None
    # The new hash still verifies the same password.
    client.post("/staff/logout", data={"csrf_token": csrf_token(client, "/staff/")})
    assert login(client, "admin@marseille.fr").status_code == 302


def test_json_api_posts_need_no_csrf_token(client: FlaskClient) -> None:
    """CSRF protects the cookie-authenticated pages only; the API takes no cookies."""
    response = client.post(
        "/api/v1/reports", json={"description": "Lampadaire éteint", "lat": 43.2951, "lon": 5.374}
    )
    assert response.status_code == 201, response.json


@pytest.fixture
def page_app(database_url: str, redis_url: str, instance_path: Path) -> Iterator[Flask]:
    """An app with a test-only admin page in a blueprint of its own (as other pieces add)."""
    pages = Blueprint("test_admin_pages", __name__, url_prefix="/staff/test-admin")

    @pages.route("", methods=["GET", "POST"])
    @staff_page_required("admin")
    def admin_only() -> str:
        return f"admin page for {current_staff().email} ({request.method})"

    flask_app = make_test_app(database_url, redis_url, instance_path)
    flask_app.register_blueprint(pages)
    yield flask_app
    flask_app.extensions["lanterne.db"].dispose()
    flask_app.extensions["lanterne.redis"].close()


def test_pages_of_other_blueprints_get_login_roles_and_csrf(
    page_app: Flask, make_staff: Callable[..., StaffUser]
) -> None:
    make_staff("admin@marseille.fr", "admin")
    make_staff("analyste@marseille.fr", "analyst")
    with page_app.test_client() as browser:
        anonymous = browser.get("/staff/test-admin")
        assert anonymous.status_code == 302
        assert anonymous.headers["Location"] == "/staff/login?next=/staff/test-admin"

        login(browser, "analyste@marseille.fr")
        refused = browser.get("/staff/test-admin")
        assert refused.status_code == 403
        assert "Votre rôle ne donne pas accès à cette page." in refused.get_data(as_text=True)
        assert refused.headers["X-Frame-Options"] == "DENY"
        browser.post("/staff/logout", data={"csrf_token": csrf_token(browser, "/staff/")})

        login(browser, "admin@marseille.fr")
        page = browser.get("/staff/test-admin")
        assert page.get_data(as_text=True) == "admin page for admin@marseille.fr (GET)"
        assert page.headers["Cache-Control"] == "no-store"
        assert browser.post("/staff/test-admin").status_code == 400  # no CSRF token
        posted = browser.post(
            "/staff/test-admin", data={"csrf_token": csrf_token(browser, "/staff/")}
        )
        assert posted.get_data(as_text=True) == "admin page for admin@marseille.fr (POST)"
