"""The staff API: bearer tokens, roles (401/403 JSON), scope, and the OpenAPI document."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Blueprint, Flask, Response, jsonify
from flask.testing import FlaskClient
from sqlmodel import Session, select
from werkzeug.test import TestResponse

from backend.auth import current_staff, roles_required, visible_or_404
from backend.extensions import db
from backend.models import Report, StaffToken, StaffUser
from backend.services.access import can_see_service
from backend.services.staff import disable_staff, issue_token, revoke_tokens
from tests.conftest import make_test_app


def body(response: TestResponse) -> dict[str, Any]:
    """The JSON body of an answer (a dict, or the test fails)."""
    data = response.get_json()
    assert isinstance(data, dict), response.get_data(as_text=True)
    return data


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_me_without_a_token_is_401_json(client: FlaskClient) -> None:
    response = client.get("/api/v1/staff/me")
    assert response.status_code == 401
    assert body(response)["code"] == 401 and "Bearer" in body(response)["message"]
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "header", ["Bearer lnt_notarealtoken", "Bearer ", "Basic dXNlcjpwYXNz", "lnt_x"]
)
def test_me_with_a_bad_token_is_401(client: FlaskClient, header: str) -> None:
    response = client.get("/api/v1/staff/me", headers={"Authorization": header})
    assert response.status_code == 401
    assert body(response)["status"] == "Unauthorized"


def test_me_with_a_token_says_who_and_what(
    client: FlaskClient, make_staff: Callable[..., StaffUser], session: Session
) -> None:
    staff = make_staff("sup@marseille.fr", "supervisor", department="roads", password=None)
    token = issue_token(session=session, staff=staff, name="laptop")
    response = client.get("/api/v1/staff/me", headers=bearer(token))
    assert response.status_code == 200, response.json
    assert response.json == {
        "email": "sup@marseille.fr",
        "role": "supervisor",
        "department": "roads",
        "service_codes": [],
        "visible_services": ["road_damage", "road_sign", "street_furniture", "traffic_signal"],
        "can_read_contacts": True,
    }
    session.expire_all()
    row = session.exec(select(StaffToken)).one()
    assert row.last_used_at is not None and row.name == "laptop"
    # Only the hash is kept.
    assert token not in (row.token_hash, row.name) and len(row.token_hash) == 64


def test_revoked_token_and_disabled_account_are_refused(
    client: FlaskClient, make_staff: Callable[..., StaffUser], session: Session
) -> None:
    staff = make_staff("a@marseille.fr", "analyst", password=None)
    first = issue_token(session=session, staff=staff, name="one")
    second = issue_token(session=session, staff=staff, name="two")
    assert revoke_tokens(session=session, staff=staff, name="one") == 1
    assert client.get("/api/v1/staff/me", headers=bearer(first)).status_code == 401
    assert client.get("/api/v1/staff/me", headers=bearer(second)).status_code == 200
    disable_staff(session=session, email="a@marseille.fr")
    assert client.get("/api/v1/staff/me", headers=bearer(second)).status_code == 401


def test_session_cookie_does_not_open_the_api(
    client: FlaskClient, make_staff: Callable[..., StaffUser]
) -> None:
    from tests.staff.conftest import login

    make_staff("admin@marseille.fr", "admin")
    assert login(client, "admin@marseille.fr").status_code == 302
    assert client.get("/staff/").status_code == 200
    # The browser's cookie is ambient: honouring it would make the API forgeable.
    assert client.get("/api/v1/staff/me").status_code == 401


@pytest.fixture
def guarded_app(database_url: str, redis_url: str, instance_path: Path) -> Iterator[Flask]:
    """An app with a tiny test-only blueprint behind roles_required."""
    guarded = Blueprint("guarded", __name__)

    @guarded.get("/test-only/analysis")
    @roles_required("analyst", "admin")
    def analysis() -> Response:
        return jsonify(email=current_staff.email, role=current_staff().role)

    @guarded.get("/test-only/anyone")
    @roles_required()
    def anyone() -> Response:
        return jsonify(role=current_staff().role)

    @guarded.get("/test-only/reports/<int:report_id>")
    @roles_required("agent", "supervisor")
    def report(report_id: int) -> Response:
        staff = current_staff()
        found = visible_or_404(
            db.session.get(Report, report_id),
            lambda r: can_see_service(staff, r.service_code, db.session),
            message="No report has this id.",
        )
        return jsonify(id=found.id)

    flask_app = make_test_app(database_url, redis_url, instance_path)
    flask_app.register_blueprint(guarded)
    yield flask_app
    flask_app.extensions["lanterne.db"].dispose()
    flask_app.extensions["lanterne.redis"].close()


@pytest.mark.parametrize(
    ("role", "scope", "analysis", "anyone"),
    [
        ("agent", {"service_codes": ["graffiti"]}, 403, 200),
        ("supervisor", {"department": "cleanliness"}, 403, 200),
        ("analyst", {}, 200, 200),
        ("admin", {}, 200, 200),
    ],
)
def test_roles_required_answers_403_json_to_other_roles(
    guarded_app: Flask,
    make_staff: Callable[..., StaffUser],
    session: Session,
    role: str,
    scope: dict[str, object],
    analysis: int,
    anyone: int,
) -> None:
    staff = make_staff(f"{role}@marseille.fr", role, password=None, **scope)
    token = issue_token(session=session, staff=staff)
    with guarded_app.test_client() as test_client:
        response = test_client.get("/test-only/analysis", headers=bearer(token))
        assert response.status_code == analysis
        if analysis == 403:
            assert body(response)["code"] == 403
            assert role in body(response)["message"]
        else:
            assert response.json == {"email": f"{role}@marseille.fr", "role": role}
        assert test_client.get("/test-only/anyone", headers=bearer(token)).status_code == anyone
        assert test_client.get("/test-only/analysis").status_code == 401


def test_unknown_role_in_decorator_fails_at_import() -> None:
    with pytest.raises(ValueError, match="unknown role"):
        roles_required("analyst", "analysts")


def test_openapi_declares_bearer_security_on_staff_endpoints(client: FlaskClient) -> None:
    spec = body(client.get("/api/v1/openapi.json"))
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    operation = spec["paths"]["/api/v1/staff/me"]["get"]
    assert operation["security"] == [{"bearerAuth": []}]
    assert {"200", "401", "403"} <= set(operation["responses"])
    # Public endpoints stay public.
    assert "security" not in spec["paths"]["/api/v1/services"]["get"]


def test_ids_a_role_may_not_see_look_like_missing_ids(
    guarded_app: Flask, make_staff: Callable[..., StaffUser], session: Session
) -> None:
    agent = make_staff("ag@marseille.fr", "agent", password=None, service_codes=["graffiti"])
    token = issue_token(session=session, staff=agent)
    reports = {}
    for code in ("graffiti", "noise"):
        reports[code] = Report(tracking_id=f"t-{code}", description="x", service_code=code)
        session.add(reports[code])
    session.commit()
    with guarded_app.test_client() as test_client:
        mine = test_client.get(
            f"/test-only/reports/{reports['graffiti'].id}", headers=bearer(token)
        )
        assert mine.status_code == 200 and mine.json == {"id": reports["graffiti"].id}
        answers = [
            test_client.get(f"/test-only/reports/{report_id}", headers=bearer(token))
            for report_id in (reports["noise"].id, 987_654)
        ]
    hidden, missing = answers
    assert hidden.status_code == missing.status_code == 404
    assert hidden.get_data() == missing.get_data()
    assert body(hidden)["message"] == "No report has this id."
    skip = {"Date", "X-RateLimit-Reset", "Retry-After"}
    assert {k: v for k, v in hidden.headers if k not in skip} == {
        k: v for k, v in missing.headers if k not in skip
    }
