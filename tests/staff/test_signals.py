"""``/staff/signals``: the signals on a map and in a table, for analysts; verdicts by form."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import Session

from backend.models import Signal
from backend.services.staff import create_staff
from tests.conftest import scan_signal_in_13203

PASSWORD = "a long enough test password"


@pytest.fixture(autouse=True)
def _fast_argon2(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in {
        "ARGON2_TIME_COST": 1,
        "ARGON2_MEMORY_COST": 1024,
        "ARGON2_PARALLELISM": 1,
    }.items():
        monkeypatch.setitem(app.config, key, value)


def _csrf(client: FlaskClient, path: str) -> str:
    page = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, page
    return match.group(1)


def _login(client: FlaskClient, session: Session, role: str, **kw: object) -> None:
    create_staff(
        session=session,
        email=f"{role}@ville.example",
        role=role,
        password=PASSWORD,
        **kw,  # type: ignore[arg-type]
    )
    data = {"email": f"{role}@ville.example", "password": PASSWORD}
    data["csrf_token"] = _csrf(client, "/staff/login")
    assert client.post("/staff/login", data=data).status_code == 302


@pytest.fixture
def one_signal(session: Session, marseille_areas: int) -> Signal:
    row = scan_signal_in_13203(
        session,
        key="scan:test",
        observed=12,
        expected=1,
        statistic=20,
        explanation_fr="12 signalements d'éclairage public en panne <b>en 3 jours</b>.",
        explanation_en="12 street-light outage reports in 3 days.",
    )
    session.commit()
    return row


def test_the_page_needs_a_login_and_the_analyst_role(
    client: FlaskClient, session: Session, one_signal: Signal
) -> None:
    response = client.get("/staff/signals")
    assert response.status_code == 302 and "/staff/login" in response.headers["Location"]
    _login(client, session, "agent", service_codes=["streetlight"])
    assert client.get("/staff/signals").status_code == 403


def test_an_analyst_sees_the_map_and_the_table_and_sets_a_status(
    client: FlaskClient, session: Session, one_signal: Signal
) -> None:
    _login(client, session, "analyst")
    page = client.get("/staff/signals?lang=fr")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert "Signaux faibles" in body and 'class="signals-map"' in body
    # the explanation is escaped in the table (never HTML) and on the map (in srcdoc)
    assert "&lt;b&gt;en 3 jours&lt;/b&gt;" in body
    assert "<b>en 3 jours</b>" not in body
    assert "srcdoc=" in body and "Feature" in body
    english = client.get("/staff/signals?lang=en").get_data(as_text=True)
    assert "Weak signals" in english and "street-light outage reports" in english

    path = f"/staff/signals/{one_signal.id}/status"
    refused = client.post(path, data={"status": "dismissed"})
    assert refused.status_code == 400  # no CSRF token
    token = _csrf(client, "/staff/signals")
    done = client.post(path, data={"status": "dismissed", "note": "Travaux", "csrf_token": token})
    assert done.status_code == 302
    session.expire_all()
    row = session.get(Signal, one_signal.id)
    assert row is not None and row.status == "dismissed" and row.status_note == "Travaux"
    assert row.status_changed_by == "analyst@ville.example"
    filtered = client.get("/staff/signals?status=new").get_data(as_text=True)
    assert f'id="signal-{one_signal.id}"' not in filtered
