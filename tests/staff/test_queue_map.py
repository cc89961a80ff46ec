"""The map of the queue: reports grouped by the grid, the queue's filters and scope."""

from __future__ import annotations

from collections.abc import Callable

from flask.testing import FlaskClient
from sqlmodel import Session

from backend.models import StaffUser
from tests.staff.conftest import login
from tests.staff.triage_data import LAT, LON, make_report, north, token_for

AGENT = "agent.feux@marseille.fr"
BOX = {"south": LAT - 0.05, "west": LON - 0.05, "north": LAT + 0.05, "east": LON + 0.05}


def features(client: FlaskClient, url: str, **query: object) -> list[dict]:
    response = client.get(url, query_string={**BOX, **query})
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert body["type"] == "FeatureCollection" and body["truncated"] is False
    return body["features"]


def test_near_reports_are_grouped_until_zoomed_in_and_other_services_are_left_out(
    client: FlaskClient, session: Session, make_staff: Callable[..., StaffUser]
) -> None:
    a = make_report(session)
    b = make_report(session, lat=north(15))
    far = make_report(session, lat=north(2500), status="in_progress")
    make_report(session, code="graffiti", lat=north(5))  # another service
    make_report(session, lat=north(30), status="fixed")  # closed: not in the queue
    make_staff(AGENT, "agent", service_codes=["traffic_signal"])
    login(client, AGENT)

    wide = features(client, "/staff/map/data", zoom=12)
    assert sorted(f["properties"]["count"] for f in wide) == [1, 2]
    [single] = [f["properties"] for f in wide if f["properties"]["count"] == 1]
    assert single == {"count": 1, "id": far.id, "status": "in_progress"}
    close = features(client, "/staff/map/data", zoom=19)
    assert sorted(f["properties"]["id"] for f in close) == sorted([a.id, b.id, far.id])
    [point] = [f for f in close if f["properties"]["id"] == a.id]
    assert point["geometry"]["coordinates"] == [round(LON, 6), round(LAT, 6)]
    fixed = features(client, "/staff/map/data", zoom=19, status="fixed")
    assert [f["properties"]["status"] for f in fixed] == ["fixed"]
    assert features(client, "/staff/map/data", zoom=19, needs_triage="0") == []


def test_the_map_page_loads_leaflet_from_this_site_and_runs_no_inline_script(
    client: FlaskClient, make_staff: Callable[..., StaffUser]
) -> None:
    make_staff(AGENT, "agent", service_codes=["traffic_signal"])
    login(client, AGENT)
    response = client.get("/staff/map")
    text = response.get_data(as_text=True)
    assert response.status_code == 200 and "Carte de la file" in text
    assert "leaflet.js" in text and "leaflet.css" in text
    assert 'src="/staff/map/static/queue_map.js"' in text
    assert "https://" not in text.split("<body>")[0]  # no CDN
    assert "Map of the queue" in client.get("/staff/map?lang=en").get_data(as_text=True)
    with client.get("/staff/map/static/queue_map.js") as script:
        assert script.status_code == 200 and "textContent" in script.get_data(as_text=True)
    assert 'href="/staff/map"' in client.get("/staff/").get_data(as_text=True)


def test_map_roles_pages_and_api(
    client: FlaskClient, session: Session, make_staff: Callable[..., StaffUser]
) -> None:
    make_report(session)
    assert client.get("/staff/map").status_code == 302
    assert client.get("/api/v1/staff/map", query_string=BOX).status_code == 401
    analyst = token_for(session, "analyste@marseille.fr", "analyst")
    assert client.get("/api/v1/staff/map", query_string=BOX, headers=analyst).status_code == 403
    other = token_for(session, "agent.tags@marseille.fr", "agent", service_codes=["graffiti"])
    assert (
        client.get(
            "/api/v1/staff/map",
            query_string={**BOX, "service_code": "traffic_signal"},
            headers=other,
        ).status_code
        == 404
    )
    assert (
        client.get("/api/v1/staff/map", query_string=BOX, headers=other).get_json()["features"]
        == []
    )
    agent = token_for(session, AGENT, "agent", service_codes=["traffic_signal"])
    answer = client.get("/api/v1/staff/map", query_string={**BOX, "zoom": 19}, headers=agent)
    assert [f["properties"]["count"] for f in answer.get_json()["features"]] == [1]
    missing = client.get("/api/v1/staff/map", query_string={"zoom": 3}, headers=agent)
    assert missing.status_code == 422
    make_staff("analyste2@marseille.fr", "analyst")
    login(client, "analyste2@marseille.fr")
    assert client.get("/staff/map").status_code == 403
    assert client.get("/staff/map/data").status_code == 403


def test_zoomed_out_the_map_reads_the_stored_grid_zoomed_in_the_database(
    client: FlaskClient, session: Session, make_staff: Callable[..., StaffUser]
) -> None:
    from workers.jobs import refresh_dashboard

    make_report(session)
    make_staff(AGENT, "agent", service_codes=["traffic_signal"])
    login(client, AGENT)

    def total(zoom: int) -> int:
        return sum(f["properties"]["count"] for f in features(client, "/staff/map/data", zoom=zoom))

    assert total(12) == 1  # no grid stored yet: computed, then stored
    make_report(session, lat=north(500))
    assert total(12) == 1  # the stored grid, at most 5 minutes old
    assert total(16) == 2  # zoomed in: the database, now
    refresh_dashboard()
    assert total(12) == 2
    stored = client.get("/staff/map/data", query_string={**BOX, "zoom": 12}).get_json()
    assert stored["computed_at"] is not None
