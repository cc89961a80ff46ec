"""The admin pages: accounts, teams, API keys, catalogue, routing rules, audit log; admins
only (404 for anyone else), every change audited, FR/EN."""

from __future__ import annotations

import html
import re
from collections.abc import Callable

import pytest
from flask import g
from flask.testing import FlaskClient
from sqlmodel import Session, select

from backend.models import ApiKey, AuditLog, RoutingRule, Service, StaffUser, Team
from backend.services.apikeys import find_key
from tests.staff.conftest import csrf_token, login

ADMIN = "admin@marseille.fr"
PAGES = (
    "/staff/admin/accounts",
    "/staff/admin/teams",
    "/staff/admin/api-keys",
    "/staff/admin/services",
    "/staff/admin/routing",
    "/staff/admin/audit",
)


def text(response: object) -> str:
    return html.unescape(response.get_data(as_text=True))  # type: ignore[attr-defined]


def actions(session: Session) -> list[str]:
    session.expire_all()
    return [row.action for row in session.exec(select(AuditLog).order_by(AuditLog.id))]


@pytest.fixture
def admin(client: FlaskClient, make_staff: Callable[..., StaffUser]) -> str:
    make_staff(ADMIN, "admin")
    assert login(client, ADMIN).status_code == 302
    return csrf_token(client, "/staff/admin/accounts")


@pytest.mark.parametrize("role", ["agent", "supervisor", "analyst"])
def test_admin_pages_are_404_for_every_other_role(
    client: FlaskClient, make_staff: Callable[..., StaffUser], role: str
) -> None:
    make_staff(f"{role}@marseille.fr", role, department="roads" if role == "supervisor" else None)
    login(client, f"{role}@marseille.fr")
    token = csrf_token(client, "/staff/")
    for url in PAGES:
        assert client.get(url).status_code == 404, url
        if url.endswith("/audit"):
            continue  # read-only: no POST for anyone
        posted = client.post(url, data={"csrf_token": token, "name": "x", "email": "x@x.fr"})
        assert posted.status_code == 404, url
    assert "/staff/admin" not in client.get("/staff/").get_data(as_text=True)


def test_the_start_page_of_an_admin_links_its_pages(client: FlaskClient, admin: str) -> None:
    start = text(client.get("/staff/"))
    for url in PAGES:
        assert f'href="{url}"' in start
    assert "Journal d'audit : qui a fait quoi, quand" in start
    assert "Audit log: who did what, when" in text(client.get("/staff/?lang=en"))
    for url in PAGES:
        assert client.get(url).status_code == 200, url


def test_accounts_created_with_a_password_shown_once_then_edited_and_disabled(
    client: FlaskClient, session: Session, admin: str
) -> None:
    session.add(Team(code="nord", name="Voirie Nord", department="roads"))
    session.commit()
    created = client.post(
        "/staff/admin/accounts",
        data={
            "csrf_token": admin,
            "email": "Nouvel.Agent@marseille.fr",
            "role": "agent",
            "team_code": "nord",
            "service_codes": ["road_damage", "road_sign"],
        },
    )
    assert created.status_code == 201
    shown = re.search(r"affiché cette seule fois\s*: (\S+)</p>", text(created))
    assert shown
    account = session.exec(
        select(StaffUser).where(StaffUser.email == "nouvel.agent@marseille.fr")
    ).one()
    assert (account.team_code, account.service_codes) == ("nord", ["road_damage", "road_sign"])
    assert shown[1] not in text(client.get("/staff/admin/accounts"))  # once
    duplicate = client.post(
        "/staff/admin/accounts",
        data={"csrf_token": admin, "email": "nouvel.agent@marseille.fr", "role": "agent"},
    )
    assert duplicate.status_code == 422 and "already exists" in text(duplicate)

    url = f"/staff/admin/accounts/{account.id}"
    edited = client.post(
        url,
        data={"csrf_token": admin, "role": "supervisor", "department": "roads", "team_code": ""},
    )
    assert edited.status_code == 302
    disabled = client.post(url, data={"csrf_token": admin, "action": "disable"})
    assert disabled.status_code == 302
    session.expire_all()
    account = session.get(StaffUser, account.id)  # type: ignore[assignment]
    assert (account.role, account.department, account.team_code, account.active) == (
        "supervisor",
        "roads",
        None,
        False,
    )
    assert actions(session)[-3:] == ["staff.created", "staff.updated", "staff.disabled"]
    # The new account logs in with the password it was given (before it was disabled).


def test_api_keys_created_shown_once_and_revoked(
    client: FlaskClient, session: Session, admin: str
) -> None:
    created = client.post(
        "/staff/admin/api-keys",
        data={"csrf_token": admin, "name": "Appli Mairie", "rate_limit": "10/minute"},
    )
    assert created.status_code == 201
    plain = re.search(r"(lnt_[A-Za-z0-9_-]+)", text(created))
    assert plain and find_key(session=session, plain=plain[1]) is not None
    listing = text(client.get("/staff/admin/api-keys"))
    assert plain[1] not in listing and plain[1][:10] in listing
    bad = client.post(
        "/staff/admin/api-keys", data={"csrf_token": admin, "name": "X", "rate_limit": "vite"}
    )
    assert bad.status_code == 422 and "not understood" in text(bad)
    revoked = client.post(
        "/staff/admin/api-keys",
        data={"csrf_token": admin, "action": "revoke", "name": "Appli Mairie"},
    )
    assert revoked.status_code == 302
    session.expire_all()
    [key] = session.exec(select(ApiKey)).all()
    assert key.revoked_at is not None
    assert actions(session)[-2:] == ["apikey.created", "apikey.revoked"]


def test_catalogue_teams_and_routing_rules_edited_and_audited(
    client: FlaskClient, session: Session, admin: str
) -> None:
    service = client.post(
        "/staff/admin/services",
        data={
            "csrf_token": admin,
            "code": "road_damage",
            "name_fr": "Nid-de-poule, chaussée abîmée",
            "name_en": "Pothole",
            "target_days": "10",
            "working_days": "1",
            "department": "roads",
            "active": "1",
        },
    )
    assert service.status_code == 302
    bad = client.post(
        "/staff/admin/services",
        data={
            "csrf_token": admin,
            "code": "road_damage",
            "name_fr": "x",
            "name_en": "x",
            "target_days": "beaucoup",
            "department": "roads",
        },
    )
    assert bad.status_code == 422 and "nombre entier" in text(bad)
    session.expire_all()
    stored = session.get(Service, "road_damage")
    assert stored is not None
    assert (stored.name_fr, stored.target_days, stored.working_days) == (
        "Nid-de-poule, chaussée abîmée",
        10,
        True,
    )
    team = client.post(
        "/staff/admin/teams",
        data={
            "csrf_token": admin,
            "code": "voirie-nord",
            "name": "Voirie Nord",
            "department": "roads",
        },
    )
    assert team.status_code == 302
    rule = client.post(
        "/staff/admin/routing",
        data={
            "csrf_token": admin,
            "service_code": "road_damage",
            "area_prefix": "13215",
            "team_code": "voirie-nord",
            "priority": "1",
        },
    )
    assert rule.status_code == 302
    listing = text(client.get("/staff/admin/routing"))
    assert "Nid-de-poule, chaussée abîmée" in listing and "13215" in listing
    [row] = session.exec(select(RoutingRule)).all()
    unknown = client.post(
        "/staff/admin/routing",
        data={"csrf_token": admin, "service_code": "road_damage", "team_code": "personne"},
    )
    assert unknown.status_code == 422
    client.post(
        "/staff/admin/routing",
        data={"csrf_token": admin, "action": "delete", "rule_id": str(row.id)},
    )
    session.expire_all()
    assert session.exec(select(RoutingRule)).all() == []
    assert actions(session)[-4:] == [
        "service.updated",
        "team.created",
        "routing_rule.created",
        "routing_rule.deleted",
    ]


def test_the_audit_log_filters_and_pages_read_only(
    client: FlaskClient, session: Session, admin: str
) -> None:
    for n in range(60):
        session.add(AuditLog(actor="cli", action="staff.token_issued", target=f"staff:{n}"))
    session.commit()
    first = text(client.get("/staff/admin/audit?action=staff.token"))
    assert "60 entrées" in first and "Page 1 / 2" in first and 'rel="next"' in first
    one = text(client.get("/staff/admin/audit?target=staff:7&lang=en"))
    assert "1 entries" in one and "Read-only" in one
    assert client.post("/staff/admin/audit", data={"csrf_token": admin}).status_code == 405
    g.pop("csrf_token", None)
