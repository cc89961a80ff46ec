"""Staff accounts as services: argon2 hashes, tokens, audit log, same-as-missing 404."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher
from flask import Flask
from sqlmodel import Session, select

from backend.models import AuditLog, StaffToken, StaffUser
from backend.services import audit
from backend.services.catalogue import UnknownServiceError
from backend.services.staff import (
    DuplicateEmailError,
    InvalidCredentialsError,
    UnknownRoleError,
    authenticate,
    create_staff,
    hash_token,
    issue_token,
    staff_for_token,
)

FAST = {"ARGON2_TIME_COST": 1, "ARGON2_MEMORY_COST": 1024, "ARGON2_PARALLELISM": 1}
SECRET = "une phrase de passe assez longue"


@pytest.fixture(autouse=True)
def fast_argon2(app: Flask, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for key, value in FAST.items():
        monkeypatch.setitem(app.config, key, value)
    yield


def test_password_is_stored_as_an_argon2id_hash_never_in_clear(session: Session) -> None:
    staff = create_staff(session=session, email="a@marseille.fr", role="admin", password=SECRET)
    assert staff.password_hash is not None
    assert staff.password_hash.startswith("$argon2id$")
    assert PasswordHasher().verify(staff.password_hash, SECRET)
    # Nowhere in the database: not in the account, not in the audit log.
    for table in ("staff_user", "audit_log"):
        rows = session.connection().execute(sa.text(f"SELECT * FROM {table}")).all()  # noqa: S608
        assert rows
        assert all(SECRET not in str(value) for row in rows for value in row)
    # Two accounts with the same password get different hashes (salted).
    other = create_staff(session=session, email="b@marseille.fr", role="admin", password=SECRET)
    assert other.password_hash != staff.password_hash


def test_emails_are_unique_whatever_the_case(session: Session) -> None:
    create_staff(session=session, email="Agent@Marseille.fr", role="analyst")
    with pytest.raises(DuplicateEmailError):
        create_staff(session=session, email=" agent@MARSEILLE.fr ", role="admin")
    with pytest.raises(UnknownRoleError):
        create_staff(session=session, email="x@marseille.fr", role="root")
    with pytest.raises(UnknownServiceError, match="nope"):
        create_staff(session=session, email="y@marseille.fr", role="agent", service_codes=["nope"])
    assert len(session.exec(select(StaffUser)).all()) == 1


def test_authenticate_does_one_argon2_verification_whatever_the_failure(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Unknown e-mail, disabled account, no password, wrong password: same error, same work."""
    create_staff(session=session, email="ok@marseille.fr", role="admin", password=SECRET)
    create_staff(session=session, email="token-only@marseille.fr", role="analyst")
    off = create_staff(session=session, email="off@marseille.fr", role="admin", password=SECRET)
    off.active = False
    session.add(off)
    session.commit()

    calls: list[str] = []
    real_verify = PasswordHasher.verify

    def counting_verify(self: PasswordHasher, hash: str, password: str) -> bool:
        calls.append(hash)
        return real_verify(self, hash, password)

    monkeypatch.setattr(PasswordHasher, "verify", counting_verify)
    attempts = [
        ("nobody@marseille.fr", SECRET),
        ("off@marseille.fr", SECRET),
        ("token-only@marseille.fr", SECRET),
        ("ok@marseille.fr", "a wrong password here"),
    ]
    messages = set()
    for email, password in attempts:
        calls.clear()
        with pytest.raises(InvalidCredentialsError) as error:
            authenticate(session=session, email=email, password=password)
        messages.add(str(error.value))
        assert len(calls) == 1, email
    assert messages == {"Wrong e-mail or password."}
    assert authenticate(session=session, email="OK@marseille.fr", password=SECRET).email == (
        "ok@marseille.fr"
    )


def test_token_is_random_stored_hashed_and_found_by_its_hash(session: Session) -> None:
    staff = create_staff(session=session, email="a@marseille.fr", role="analyst")
    tokens = {issue_token(session=session, staff=staff) for _ in range(5)}
    assert len(tokens) == 5 and all(len(t) > 40 for t in tokens)
    rows = session.exec(select(StaffToken)).all()
    assert {row.token_hash for row in rows} == {hash_token(t) for t in tokens}
    token = next(iter(tokens))
    found = staff_for_token(session=session, token=token)
    assert found is not None and found.id == staff.id
    assert staff_for_token(session=session, token=token[:-1] + "x") is None
    assert staff_for_token(session=session, token=hash_token(token)) is None


def test_audit_rows_for_account_actions_and_for_others(session: Session) -> None:
    staff = create_staff(
        session=session,
        email="agent@marseille.fr",
        role="agent",
        password=SECRET,
        service_codes=["graffiti"],
        actor="cli",
    )
    issue_token(session=session, staff=staff, name="tablet")
    authenticate(
        session=session, email="agent@marseille.fr", password=SECRET, remote_addr="10.0.0.7"
    )
    # The API other pieces use, e.g. for a contact read (the caller commits).
    audit.record(
        session=session,
        actor=staff,
        action="contact.read",
        target="report:42",
        details={"fields": ["email"]},
    )
    session.commit()
    rows = audit.recent(session=session)
    assert [r.action for r in rows] == [
        "contact.read",
        "staff.login",
        "staff.token_issued",
        "staff.created",
    ]
    read = rows[0]
    assert (read.actor, read.actor_id, read.target) == ("agent@marseille.fr", staff.id, "report:42")
    assert read.details == {"fields": ["email"]} and read.at.tzinfo is not None
    assert rows[1].details == {"ip": "10.0.0.7"}
    assert rows[3].details["role"] == "agent" and rows[3].actor == "cli"
    assert [r.action for r in audit.recent(session=session, target="report:42")] == ["contact.read"]
    assert len(audit.recent(session=session, actions=["staff.created", "staff.login"])) == 2


def test_audit_row_rolls_back_with_its_action(session: Session) -> None:
    audit.record(session=session, actor="system", action="report.merged", target="report:1")
    session.rollback()
    assert session.exec(select(AuditLog)).all() == []
