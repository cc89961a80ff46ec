"""Failed logins are limited per account (from any address) as well as per address."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from flask import Flask, g
from flask.testing import FlaskClient

from backend.models import StaffUser
from tests.conftest import make_test_app
from tests.staff.conftest import FAST_ARGON2, PASSWORD, csrf_token

KNOWN = "agent@marseille.fr"
UNKNOWN = "nobody@marseille.fr"


@pytest.fixture
def account_limit(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    """3 failures per account; the per-address limit out of the way."""
    monkeypatch.setitem(app.config, "STAFF_LOGIN_ACCOUNT_RATE_LIMIT", "3 per 15 minutes")
    monkeypatch.setitem(app.config, "STAFF_LOGIN_RATE_LIMIT", "1000 per minute")


def browser_token(browser: FlaskClient) -> str:
    """The login form's CSRF token for a new browser."""
    # Flask-WTF caches the token on ``g``, which pytest-flask's app context shares between
    # test clients: forget it, as a new request context would.
    g.pop("csrf_token", None)
    return csrf_token(browser)


def post_login(
    client: FlaskClient, email: str, password: str, address: str, token: str
) -> tuple[int, str]:
    response = client.post(
        "/staff/login",
        data={"email": email, "password": password, "csrf_token": token},
        environ_base={"REMOTE_ADDR": address},
    )
    # The page without its CSRF token (the same for every post of one browser anyway).
    page = re.sub(r'value="[^"]*"', 'value=""', response.get_data(as_text=True))
    return response.status_code, page


def test_one_account_guessed_from_many_addresses_is_stopped(
    client: FlaskClient, make_staff: Callable[..., StaffUser], account_limit: None
) -> None:
    make_staff(KNOWN, "agent")
    token = csrf_token(client)
    answers = [
        post_login(client, KNOWN, f"guess {i}", f"203.0.113.{i}", token)[0] for i in range(5)
    ]
    assert answers == [200, 200, 200, 429, 429]
    # Even the right password, from yet another address: a success would confirm the guess.
    status, page = post_login(client, KNOWN, PASSWORD, "198.51.100.1", token)
    assert status == 429
    assert "Trop de tentatives. Réessayez dans 15 min." in page
    # Another account is not concerned.
    make_staff("other@marseille.fr", "agent")
    ok = client.post(
        "/staff/login",
        data={"email": "other@marseille.fr", "password": PASSWORD, "csrf_token": token},
    )
    assert ok.status_code == 302


def test_known_and_unknown_accounts_get_the_same_answers(
    app: Flask, make_staff: Callable[..., StaffUser], account_limit: None
) -> None:
    make_staff(KNOWN, "agent")
    answers: dict[str, list[tuple[int, str]]] = {}
    for email in (KNOWN, UNKNOWN):
        with app.test_client() as browser:
            token = browser_token(browser)
            answers[email] = [
                post_login(browser, email, f"guess {i}", f"192.0.2.{i}", token) for i in range(5)
            ]
    assert [a[0] for a in answers[KNOWN]] == [200, 200, 200, 429, 429]
    # Status and page alike (the form does not even echo the e-mail typed).
    assert answers[KNOWN] == answers[UNKNOWN]
    assert "Adresse e-mail ou mot de passe incorrect." in answers[UNKNOWN][0][1]


def test_the_account_is_the_e_mail_as_the_login_reads_it(
    client: FlaskClient, make_staff: Callable[..., StaffUser], account_limit: None
) -> None:
    make_staff(KNOWN, "agent")
    token = csrf_token(client)
    spellings = ["Agent@Marseille.fr", " agent@marseille.fr ", "AGENT@MARSEILLE.FR"]
    answers = [post_login(client, e, "guess", "203.0.113.9", token)[0] for e in spellings]
    assert answers == [200, 200, 200]
    assert post_login(client, KNOWN, PASSWORD, "203.0.113.9", token)[0] == 429


def test_successful_logins_do_not_count(
    app: Flask, make_staff: Callable[..., StaffUser], account_limit: None
) -> None:
    make_staff(KNOWN, "agent")
    for _ in range(5):
        with app.test_client() as browser:
            token = browser_token(browser)
            assert post_login(browser, KNOWN, PASSWORD, "203.0.113.1", token)[0] == 302


def test_redis_keeps_no_e_mail_address(
    app: Flask, client: FlaskClient, account_limit: None
) -> None:
    token = csrf_token(client)
    post_login(client, "someone.private@gmail.com", "guess", "203.0.113.1", token)
    keys = redis.Redis.from_url(app.config["REDIS_URL"]).keys("*")
    assert keys and not any(b"gmail" in key or b"someone" in key for key in keys)


@pytest.fixture
def proxied_app(
    database_url: str, redis_url: str, instance_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Flask]:
    """The app behind one proxy (PROXY_COUNT=1), which appends the client's address."""
    flask_app = make_test_app(
        database_url,
        redis_url,
        instance_path,
        PROXY_COUNT=1,
        STAFF_LOGIN_RATE_LIMIT="3 per minute",
        STAFF_LOGIN_ACCOUNT_RATE_LIMIT="5 per 15 minutes",
        **FAST_ARGON2,
    )
    yield flask_app
    flask_app.extensions["lanterne.db"].dispose()
    flask_app.extensions["lanterne.redis"].close()


def test_behind_a_proxy_a_forged_forwarded_for_does_not_reset_the_address_limit(
    proxied_app: Flask,
) -> None:
    with proxied_app.test_client() as browser:
        token = csrf_token(browser)
        answers = []
        for i in range(5):
            # The client forges the left part; the proxy appends the address it saw.
            forwarded = f"10.9.8.{i}, 198.51.100.7"
            response = browser.post(
                "/staff/login",
                data={"email": f"user{i}@marseille.fr", "password": "x", "csrf_token": token},
                headers={"X-Forwarded-For": forwarded},
            )
            answers.append(response.status_code)
    assert answers == [200, 200, 200, 429, 429]


def test_behind_a_proxy_many_real_addresses_share_the_account_limit(
    proxied_app: Flask,
) -> None:
    with proxied_app.test_client() as browser:
        token = csrf_token(browser)
        answers = [
            browser.post(
                "/staff/login",
                data={"email": UNKNOWN, "password": f"guess {i}", "csrf_token": token},
                headers={"X-Forwarded-For": f"198.51.100.{i}"},
            ).status_code
            for i in range(7)
        ]
    assert answers == [200, 200, 200, 200, 200, 429, 429]
