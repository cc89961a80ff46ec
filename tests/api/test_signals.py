"""``/api/v1/signals``: analysts (and admins) only, filters, pagination, verdicts."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from flask.testing import FlaskClient
from sqlmodel import Session, select

from backend.models import Signal
from backend.models.staff import AuditLog
from backend.services.staff import create_staff, issue_token


def _token(session: Session, role: str, **kw: object) -> dict[str, str]:
    staff = create_staff(
        session=session,
        email=f"{role}@ville.example",
        role=role,
        **kw,  # type: ignore[arg-type]
    )
    return {"Authorization": f"Bearer {issue_token(session=session, staff=staff)}"}


def _signal(session: Session, *, as_of: date, key: str, areas: list[str], **kw: object) -> Signal:
    values: dict[str, object] = {
        "kind": "scan",
        "method": "space_time_permutation",
        "service_code": "streetlight",
        "start": as_of - timedelta(days=2),
        "end": as_of,
        "observed": 12.0,
        "expected": 1.0,
        "statistic": 20.5,
        "p_value": 0.001,
        "recurrence_interval_days": 1000.0,
        "explanation_fr": "12 signalements d'éclairage public en panne.",
        "explanation_en": "12 street-light outage reports.",
        "details": {"center": areas[0]},
    }
    values.update(kw)
    row = Signal(key=key, as_of=as_of, area_codes=areas, **values)  # type: ignore[arg-type]
    session.add(row)
    session.commit()
    return row


@pytest.fixture
def signals(session: Session) -> list[Signal]:
    day = date(2025, 3, 12)
    return [
        _signal(session, as_of=day - timedelta(days=i), key=f"scan:{i}", areas=[f"13203{i:02d}"])
        for i in range(5)
    ] + [
        _signal(
            session,
            as_of=day,
            key="temporal:x",
            areas=["1320101"],
            kind="temporal",
            method="ears_c1",
            service_code="graffiti",
            recurrence_interval_days=400.0,
        )
    ]


def test_anonymous_callers_get_401_and_other_roles_403(
    client: FlaskClient, session: Session, signals: list[Signal]
) -> None:
    response = client.get("/api/v1/signals")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert (
        client.get("/api/v1/signals", headers={"Authorization": "Bearer nope"}).status_code == 401
    )
    agent = _token(session, "agent", service_codes=["streetlight"])
    supervisor = _token(session, "supervisor", department="roads")
    for headers in (agent, supervisor):
        assert client.get("/api/v1/signals", headers=headers).status_code == 403
        assert client.get(f"/api/v1/signals/{signals[0].id}", headers=headers).status_code == 403
        patch = client.patch(
            f"/api/v1/signals/{signals[0].id}", json={"status": "dismissed"}, headers=headers
        )
        assert patch.status_code == 403
    assert session.get(Signal, signals[0].id).status == "new"  # type: ignore[union-attr]


def test_analysts_and_admins_list_filter_and_page(
    client: FlaskClient, session: Session, signals: list[Signal]
) -> None:
    analyst = _token(session, "analyst")
    for headers in (analyst, _token(session, "admin")):
        body = client.get("/api/v1/signals", headers=headers)
        assert body.status_code == 200
        assert len(body.get_json()) == 6
        assert body.get_json()[0]["as_of"] == "2025-03-12"
        assert {"explanation_fr", "explanation_en", "area_codes", "p_value"} <= set(
            body.get_json()[0]
        )
    page = client.get("/api/v1/signals?page=2&page_size=4", headers=analyst)
    assert page.status_code == 200 and len(page.get_json()) == 2
    assert '"total": 6' in page.headers["X-Pagination"]
    only = client.get("/api/v1/signals?kind=temporal", headers=analyst).get_json()
    assert [s["service_code"] for s in only] == ["graffiti"]
    by_area = client.get("/api/v1/signals?area_code=1320302", headers=analyst).get_json()
    assert [s["area_codes"] for s in by_area] == [["1320302"]]
    by_day = client.get("/api/v1/signals?as_of=2025-03-11", headers=analyst).get_json()
    assert len(by_day) == 1
    rare = client.get("/api/v1/signals?min_recurrence_days=500", headers=analyst).get_json()
    assert len(rare) == 5
    assert client.get("/api/v1/signals?status=bogus", headers=analyst).status_code == 422


def test_an_analyst_sets_a_status_and_it_is_audited(
    client: FlaskClient, session: Session, signals: list[Signal]
) -> None:
    analyst = _token(session, "analyst")
    target = signals[0].id
    response = client.patch(
        f"/api/v1/signals/{target}",
        json={"status": "confirmed", "note": "Panne de secteur confirmée par l'exploitant."},
        headers=analyst,
    )
    assert response.status_code == 200
    assert response.get_json()["status"] == "confirmed"
    assert response.get_json()["status_changed_by"] == "analyst@ville.example"
    one = client.get(f"/api/v1/signals/{target}", headers=analyst).get_json()
    assert one["status"] == "confirmed" and one["status_note"].startswith("Panne")
    confirmed = client.get("/api/v1/signals?status=confirmed", headers=analyst).get_json()
    assert [s["id"] for s in confirmed] == [target]
    logs = session.exec(select(AuditLog).where(AuditLog.action == "signal.status_set")).all()
    assert [(log.target, log.details["to"]) for log in logs] == [(f"signal:{target}", "confirmed")]
    bad = client.patch(f"/api/v1/signals/{target}", json={"status": "solved"}, headers=analyst)
    assert bad.status_code == 422
    missing = client.patch("/api/v1/signals/999999", json={"status": "new"}, headers=analyst)
    assert missing.status_code == 404
    assert client.get("/api/v1/signals/999999", headers=analyst).status_code == 404
