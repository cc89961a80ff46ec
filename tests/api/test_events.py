"""``/api/v1/events``: roles (agents 404), validation of the place and times, ETag, audit."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlmodel import Session, select

from backend.models import Event, EventResource
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


MATCH: dict[str, Any] = {
    "name": "OM - Lyon",
    "kind": "match",
    "starts_at": "2026-05-02T21:00:00+02:00",
    "ends_at": "2026-05-02T23:00:00+02:00",
    "lat": 43.2698,
    "lon": 5.3959,
    "radius_m": 800,
    "expected_attendance": 60000,
    "resources": [
        {"hour": "2026-05-02T20:00:00+02:00", "agents": 60, "barriers": 150},
        {"hour": "2026-05-02 21:00", "agents": 90},
    ],
}


@pytest.fixture
def analyst(session: Session) -> dict[str, str]:
    return _token(session, "analyst")


def test_roles_agents_get_404_others_work_and_only_admins_delete(
    client: FlaskClient, session: Session
) -> None:
    assert client.get("/api/v1/events").status_code == 401
    analyst = _token(session, "analyst")
    created = client.post("/api/v1/events", json=MATCH, headers=analyst)
    assert created.status_code == 201, created.json
    event_id = created.json["id"]
    agent = _token(session, "agent", service_codes=["streetlight"])
    for method, path in (
        ("get", "/api/v1/events"),
        ("get", f"/api/v1/events/{event_id}"),
        ("patch", f"/api/v1/events/{event_id}"),
        ("delete", f"/api/v1/events/{event_id}"),
    ):
        answer = getattr(client, method)(path, headers=agent, json={"name": "x"})
        assert answer.status_code == 404, (method, path)
    assert client.get(f"/api/v1/events/{event_id + 1}", headers=analyst).json["message"] == (
        "No event has this id."
    )
    supervisor = _token(session, "supervisor", department="roads")
    listing = client.get("/api/v1/events", headers=supervisor)
    assert listing.status_code == 200 and [e["name"] for e in listing.json] == ["OM - Lyon"]
    etag = client.get(f"/api/v1/events/{event_id}", headers=analyst).headers["ETag"]
    refused = client.delete(f"/api/v1/events/{event_id}", headers={**analyst, "If-Match": etag})
    assert refused.status_code == 403
    admin = _token(session, "admin")
    deleted = client.delete(f"/api/v1/events/{event_id}", headers={**admin, "If-Match": etag})
    assert deleted.status_code == 204
    assert session.exec(select(Event)).all() == []
    assert session.exec(select(EventResource)).all() == []
    actions = [a.action for a in session.exec(select(AuditLog).order_by(AuditLog.id))]
    assert "event.created" in actions and actions[-1] == "event.deleted"


def test_create_stores_utc_times_and_resources(
    client: FlaskClient, session: Session, analyst: dict[str, str]
) -> None:
    created = client.post("/api/v1/events", json=MATCH, headers=analyst)
    assert created.status_code == 201, created.json
    body = created.json
    assert body["starts_at"].startswith("2026-05-02T19:00:00")
    assert body["source"] == "staff"
    assert [(r["agents"], r["barriers"]) for r in body["resources"]] == [(60, 150), (90, None)]
    event = session.exec(select(Event)).one()
    assert event.starts_at == datetime(2026, 5, 2, 19, tzinfo=UTC)
    hours = [r.hour for r in session.exec(select(EventResource).order_by(EventResource.hour))]
    assert hours == [datetime(2026, 5, 2, 18, tzinfo=UTC), datetime(2026, 5, 2, 19, tzinfo=UTC)]


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"ends_at": "2026-05-02T20:00:00+02:00"}, "end", "after the start"),
        ({"kind": "rave"}, "kind", "Must be one of"),
        ({"radius_m": 5}, "radius_m", "greater than or equal to 10"),
        ({"area_codes": ["13201105"]}, "place", "one kind of place"),
        ({"lat": None, "lon": None, "radius_m": None}, "place", "no place"),
        ({"lon": None}, "lon", "both lat and lon"),
        (
            {
                "lat": None,
                "lon": None,
                "radius_m": None,
                "geometry": {
                    "type": "Polygon",
                    "coordinates": [[[5.36, 43.29], [5.37, 43.3], [5.37, 43.29], [5.36, 43.3]]],
                },
            },
            "geometry",
            "Self-intersection",
        ),
        ({"geometry": {"type": "Point", "coordinates": [5.3, 43.2]}}, "geometry", "not Point"),
        ({"resources": [{"hour": "2026-05-02T20:30:00+02:00", "agents": 3}]}, "resources", "hour"),
        ({"resources": [{"hour": "2026-06-02T20:00:00+02:00", "agents": 3}]}, "resources", "12"),
    ],
)
def test_bad_events_get_a_422_naming_the_field(
    client: FlaskClient,
    session: Session,
    analyst: dict[str, str],
    change: dict[str, Any],
    field: str,
    words: str,
) -> None:
    answer = client.post("/api/v1/events", json={**MATCH, **change}, headers=analyst)
    assert answer.status_code == 422, answer.json
    errors = answer.json["errors"]["json"]
    flat = str(errors)
    assert field in flat and words in flat, errors
    assert session.exec(select(Event)).all() == []


def test_patch_needs_the_current_etag_and_checks_the_whole_event(
    client: FlaskClient, session: Session, analyst: dict[str, str]
) -> None:
    event_id = client.post("/api/v1/events", json=MATCH, headers=analyst).json["id"]
    path = f"/api/v1/events/{event_id}"
    assert client.patch(path, json={"name": "OM - OL"}, headers=analyst).status_code == 428
    etag = client.get(path, headers=analyst).headers["ETag"]
    renamed = client.patch(
        path, json={"expected_attendance": 62000}, headers={**analyst, "If-Match": etag}
    )
    assert renamed.status_code == 200, renamed.json
    assert renamed.json["expected_attendance"] == 62000
    assert renamed.headers["ETag"] != etag
    stale = client.patch(path, json={"name": "Autre"}, headers={**analyst, "If-Match": etag})
    assert stale.status_code == 412
    fresh = renamed.headers["ETag"]
    # An end before the stored start is refused even though only the end is sent.
    early = client.patch(
        path, json={"ends_at": "2026-05-01T10:00:00+02:00"}, headers={**analyst, "If-Match": fresh}
    )
    assert early.status_code == 422 and "after the start" in str(early.json)
    # A place given replaces the point: areas now, no radius left behind.
    moved = client.patch(
        path, json={"area_codes": ["13208109"]}, headers={**analyst, "If-Match": fresh}
    )
    assert moved.status_code == 200, moved.json
    assert moved.json["lat"] is None and moved.json["radius_m"] is None
    assert moved.json["area_codes"] == ["13208109"]
    audit = session.exec(select(AuditLog).where(AuditLog.action == "event.updated")).all()
    assert len(audit) == 2 and audit[-1].details["changed"] == [
        "area_codes",
        "lat",
        "lon",
        "radius_m",
    ]


def test_list_filters_and_paginates(
    client: FlaskClient, session: Session, analyst: dict[str, str]
) -> None:
    for day in range(1, 6):
        kind = "market" if day % 2 else "concert"
        body = {
            **MATCH,
            "name": f"{kind} {day}",
            "kind": kind,
            "starts_at": f"2026-05-0{day}T10:00:00+02:00",
            "ends_at": f"2026-05-0{day}T12:00:00+02:00",
            "resources": None,
        }
        if day == 5:
            body.update(lat=None, lon=None, radius_m=None, area_codes=["13201105"])
        assert client.post("/api/v1/events", json=body, headers=analyst).status_code == 201
    names = lambda r: [e["name"] for e in r.json]  # noqa: E731
    markets = client.get("/api/v1/events?kind=market", headers=analyst)
    assert names(markets) == ["market 1", "market 3", "market 5"]
    window = client.get("/api/v1/events?from=2026-05-02T00:00&to=2026-05-04T00:00", headers=analyst)
    assert names(window) == ["concert 2", "market 3"]
    assert names(client.get("/api/v1/events?area=13201105", headers=analyst)) == ["market 5"]
    page = client.get("/api/v1/events?page=2&page_size=2", headers=analyst)
    assert names(page) == ["market 3", "concert 4"]
    assert '"total": 5' in page.headers["X-Pagination"]
    bad = client.get("/api/v1/events?kind=rave&from=demain", headers=analyst)
    assert bad.status_code == 422 and {"kind", "from"} <= set(bad.json["errors"]["query"])


def test_the_events_api_is_in_the_openapi_document(client: FlaskClient) -> None:
    spec = client.get("/api/v1/openapi.json").json
    assert {"get", "post"} <= set(spec["paths"]["/api/v1/events"])
    assert {"get", "patch", "delete"} <= set(spec["paths"]["/api/v1/events/{event_id}"])
    assert "Event" in spec["components"]["schemas"]


def test_times_out_of_any_calendar_are_a_422_not_a_crash(
    client: FlaskClient, analyst: dict[str, str]
) -> None:
    for starts in ("0001-01-01T00:00:00+01:00", "1850-05-02T21:00:00+02:00"):
        answer = client.post("/api/v1/events", json={**MATCH, "starts_at": starts}, headers=analyst)
        assert answer.status_code == 422, answer.json
    listing = client.get("/api/v1/events?from=9999-12-31T23:59:00-05:00", headers=analyst)
    assert listing.status_code == 422 and "from" in listing.json["errors"]["query"]
