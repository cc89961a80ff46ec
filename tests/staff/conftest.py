"""Fixtures for staff accounts: fast argon2 parameters, accounts, logged-in clients."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import Session

from backend.models import StaffUser
from backend.services.staff import create_staff

# argon2-cffi's defaults cost ~64 MiB and tens of milliseconds a hash; the tests make many.
FAST_ARGON2 = {"ARGON2_TIME_COST": 1, "ARGON2_MEMORY_COST": 1024, "ARGON2_PARALLELISM": 1}
PASSWORD = "correct horse battery staple"


@pytest.fixture(autouse=True)
def fast_argon2(app: Flask, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Cheap argon2 parameters for this test (restored afterwards)."""
    for key, value in FAST_ARGON2.items():
        monkeypatch.setitem(app.config, key, value)
    yield


@pytest.fixture
def make_staff(session: Session) -> Callable[..., StaffUser]:
    """Create an account: ``make_staff("a@x.fr", "agent", service_codes=["streetlight"])``."""

    def _make(email: str, role: str, password: str | None = PASSWORD, **kw: object) -> StaffUser:
        return create_staff(session=session, email=email, role=role, password=password, **kw)  # type: ignore[arg-type]

    return _make


def csrf_token(client: FlaskClient, path: str = "/staff/login") -> str:
    """The CSRF token of the form on ``path`` (as a browser would read it)."""
    page = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, page
    return match.group(1)


def login(client: FlaskClient, email: str, password: str = PASSWORD, **extra: str):
    """Post the login form with its CSRF token."""
    data = {"email": email, "password": password, "csrf_token": csrf_token(client), **extra}
    return client.post("/staff/login", data=data)
