"""``/api/v1/events/<id>/profile``, ``/staffing``, ``/observed``: staff read what the job stored."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from flask.testing import FlaskClient
from sqlmodel import Session

from backend.models import EventResource
from backend.services.event_analysis import queue_profile
from backend.services.staff import create_staff, issue_token
from tests.event_data import insert_matches, lone_event
from workers.events.analysis import analyse_event


def _token(session: Session, role: str, **kw: object) -> dict[str, str]:
    staff = create_staff(session=session, email=f"{role}@ville.example", role=role, **kw)  # type: ignore[arg-type]
    return {"Authorization": f"Bearer {issue_token(session=session, staff=staff)}"}


def test_roles_pending_unknown_and_too_little_history(
    client: FlaskClient, session: Session, run_jobs: Callable[[], int]
) -> None:
    event = lone_event(session)
    url = f"/api/v1/events/{event.id}"
    analyst = _token(session, "analyst")
    # Before the job has run: 202 with Retry-After, on every view.
    for view in ("profile", "staffing", "observed"):
        response = client.get(f"{url}/{view}", headers=analyst)
        assert response.status_code == 202, view
        assert int(response.headers["Retry-After"]) > 0
    queue_profile(session, event.id)  # type: ignore[arg-type]
    session.commit()
    run_jobs()
    assert client.get(f"{url}/profile").status_code == 401
    agent = _token(session, "agent", service_codes=["public_order"])
    unknown = client.get("/api/v1/events/999999/profile", headers=analyst)
    hidden = client.get(f"{url}/profile", headers=agent)
    # An agent cannot tell this event from one that does not exist.
    assert unknown.status_code == hidden.status_code == 404
    assert unknown.get_json() == hidden.get_json()
    supervisor = _token(session, "supervisor", department="police_municipale")
    admin = _token(session, "admin")
    for headers in (analyst, supervisor, admin):
        body = client.get(f"{url}/profile", headers=headers).get_json()
        assert body["status"] == "insufficient_history"
        assert body["n_training"] == 0 and body["min_events"] == 5
        assert body["series"] == []
    staffing = client.get(f"{url}/staffing", headers=analyst).get_json()
    assert staffing["status"] == "insufficient_history" and staffing["hours"] == []
    # Not over yet (10 December): nothing observed to show.
    observed = client.get(f"{url}/observed", headers=analyst)
    assert observed.status_code == 409
    assert "not over" in observed.get_json()["message"]


def test_profile_staffing_and_observed_of_a_match(client: FlaskClient, session: Session) -> None:
    matches = insert_matches(session)
    target = matches[-1]
    # Two past matches had their deployment recorded.
    for past in matches[-3:-1]:
        start = past.starts_at.replace(minute=0)
        session.add(EventResource(event_id=past.id, hour=start, agents=20, barriers=150))  # type: ignore[arg-type]
        session.add(EventResource(event_id=past.id, hour=start + timedelta(hours=2), agents=30))  # type: ignore[arg-type]
    session.commit()
    analyse_event(session, target.id, scan_replications=99)  # type: ignore[arg-type]
    session.commit()
    headers = _token(session, "analyst")
    url = f"/api/v1/events/{target.id}"
    profile = client.get(f"{url}/profile", headers=headers).get_json()
    assert profile["status"] == "ok" and profile["stale"] is False
    assert profile["model_version"].startswith("event-profile")
    assert target.id not in profile["training_event_ids"]
    order = next(
        s
        for s in profile["series"]
        if (s["source"], s["family"], s["zone"]) == ("incidents", "public_order", "inside")
    )
    peak = profile["phases"].index("after1")
    assert order["excess"][peak] > 0.5
    assert order["low"][peak] <= order["expected"][peak] <= order["high"][peak]

    staffing = client.get(f"{url}/staffing", headers=headers).get_json()
    hours = staffing["hours"]
    assert len(hours) == len(profile["hours"])
    # The crowd's exit needs more agents than three hours before kick-off.
    assert hours[peak]["agents"] > hours[0]["agents"]
    assert any("ordre public" in r and "intervalle à 90 %" in r for r in hours[peak]["reasons_fr"])
    assert any("public order" in r for r in hours[peak]["reasons_en"])
    # Barriers around the 300 m stadium disc, from two hours before the start to the end.
    assert staffing["perimeter_m"] > 1800
    assert hours[0]["barriers"] == 0 and hours[3]["barriers"] > 0
    # What past similar matches had at the same hour from the start.
    start_hour = profile["offsets"].index(0)
    assert hours[start_hour]["past_events"] == 2 and hours[start_hour]["past_agents"] == 20

    observed = client.get(f"{url}/observed", headers=headers).get_json()
    assert len(observed["series"]) == len(profile["series"])
    assert observed["scan"]["ran"] is True
    assert isinstance(observed["scan"]["signal"], bool)


def test_the_views_are_in_the_openapi_document(client: FlaskClient) -> None:
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    for view in ("profile", "staffing", "observed"):
        operation = paths[f"/api/v1/events/{{event_id}}/{view}"]["get"]
        assert {"200", "202", "404"} <= set(operation["responses"])
        assert operation["security"] == [{"bearerAuth": []}]
