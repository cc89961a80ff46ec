"""``lanterne staff ...``: accounts and tokens from the command line."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import Session, col, select

from backend.cli import main
from backend.cli_staff import staff_cli
from backend.models import AuditLog, StaffToken, StaffUser
from backend.services.staff import authenticate
from tests.staff.conftest import PASSWORD


def run(app: Flask, *args: str, input: str | None = None):
    # The group itself: going through `main` would load every plugin group (spaCy...).
    return app.test_cli_runner().invoke(staff_cli, list(args), input=input)


def test_staff_group_is_part_of_lanterne() -> None:
    assert main.commands["staff"] is staff_cli
    assert {"create", "token", "list", "disable"} <= set(staff_cli.commands)


def test_create_prints_a_generated_password_that_logs_in(app: Flask, session: Session) -> None:
    result = run(app, "create", "Agent@Marseille.fr", "--role", "agent", "--service", "graffiti")
    assert result.exit_code == 0, result.output + result.stderr
    password = result.stdout.strip()
    assert len(password) >= 20 and "\n" not in password
    assert "shown once" in result.stderr
    staff = authenticate(session=session, email="agent@marseille.fr", password=password)
    assert staff.role == "agent" and staff.service_codes == ["graffiti"]
    assert staff.password_hash is not None and staff.password_hash.startswith("$argon2id$")
    assert password not in staff.password_hash


def test_create_reads_the_password_from_stdin(app: Flask, session: Session) -> None:
    result = run(
        app,
        "create",
        "sup@marseille.fr",
        "--role",
        "supervisor",
        "--department",
        "roads",
        "--password-stdin",
        input=PASSWORD + "\n",
    )
    assert result.exit_code == 0, result.output + result.stderr
    assert result.stdout == ""  # nothing to show: the operator chose it
    assert (
        authenticate(session=session, email="sup@marseille.fr", password=PASSWORD).department
        == "roads"
    )


def test_create_refuses_clearly(app: Flask, session: Session) -> None:
    assert run(app, "create", "a@marseille.fr", "--role", "analyst").exit_code == 0
    cases = [
        (["create", "A@marseille.fr", "--role", "analyst"], "already exists"),
        (["create", "b@marseille.fr", "--role", "superuser"], "Unknown role 'superuser'"),
        (
            ["create", "c@marseille.fr", "--role", "agent", "--service", "potholes"],
            "Unknown service code(s): potholes",
        ),
        (["create", "d@marseille.fr", "--role", "agent"], "at least one --service"),
        (
            ["create", "e@marseille.fr", "--role", "supervisor", "--department", "space"],
            "Unknown department 'space'",
        ),
        (["create", "not-an-email", "--role", "admin"], "not an e-mail address"),
    ]
    for args, message in cases:
        result = run(app, *args)
        assert result.exit_code != 0, args
        assert message in result.stderr, (args, result.stderr)
    short = run(
        app, "create", "f@marseille.fr", "--role", "admin", "--password-stdin", input="short\n"
    )
    assert short.exit_code != 0 and "at least 12 characters" in short.stderr
    session.expire_all()
    assert [s.email for s in session.exec(select(StaffUser))] == ["a@marseille.fr"]


def test_token_is_printed_once_and_opens_the_api(
    app: Flask, client: FlaskClient, session: Session
) -> None:
    run(app, "create", "analyst@marseille.fr", "--role", "analyst")
    result = run(app, "token", "analyst@marseille.fr", "--name", "notebook")
    assert result.exit_code == 0, result.stderr
    token = result.stdout.strip()
    assert token.startswith("lnt_")
    me = client.get("/api/v1/staff/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200 and me.get_json()["role"] == "analyst"
    assert session.exec(select(StaffToken)).one().name == "notebook"
    missing = run(app, "token", "nobody@marseille.fr")
    assert missing.exit_code != 0 and "No staff account" in missing.stderr


def test_list_disable_and_enable(app: Flask, client: FlaskClient, session: Session) -> None:
    assert "No staff accounts" in run(app, "list").stdout
    run(app, "create", "agent@marseille.fr", "--role", "agent", "--service", "streetlight")
    run(app, "create", "admin@marseille.fr", "--role", "admin")
    token = run(app, "token", "agent@marseille.fr").stdout.strip()
    listing = run(app, "list").stdout.splitlines()
    assert listing[0].split()[:3] == ["email", "role", "scope"]
    assert listing[1].split() == ["admin@marseille.fr", "admin", "-", "active", "-", "0"]
    assert listing[2].split() == ["agent@marseille.fr", "agent", "streetlight", "active", "-", "1"]

    result = run(app, "disable", "agent@marseille.fr")
    assert result.exit_code == 0, result.stderr
    me = client.get("/api/v1/staff/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 401
    assert run(app, "list").stdout.splitlines()[2].split()[3:] == ["disabled", "-", "0"]
    assert run(app, "disable", "ghost@marseille.fr").exit_code != 0

    assert run(app, "enable", "agent@marseille.fr").exit_code == 0
    # Re-enabled, but its old tokens stay revoked.
    me = client.get("/api/v1/staff/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 401

    session.expire_all()
    actions = [row.action for row in session.exec(select(AuditLog).order_by(col(AuditLog.id)))]
    assert actions == [
        "staff.created",
        "staff.created",
        "staff.token_issued",
        "staff.disabled",
        "staff.enabled",
    ]
    assert {row.actor for row in session.exec(select(AuditLog))} == {"cli"}
