"""``/staff/events``: roles × routes, French and English, forms, "changed meanwhile", CSP."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from flask.testing import FlaskClient
from sqlmodel import Session, select

from backend.db import utcnow
from backend.models import AuditLog, Event, EventResource, StaffUser
from tests.public_site.test_csp import directives, scripts_of
from tests.staff.conftest import csrf_token, login


def sign_in(client: FlaskClient, make_staff: Callable[..., StaffUser], role: str) -> None:
    extra = {"service_codes": ["streetlight"]} if role == "agent" else {}
    make_staff(f"{role}@ville.example", role, **extra)
    assert login(client, f"{role}@ville.example").status_code == 302


def _event(session: Session, **kw: object) -> Event:
    start = kw.pop("starts_at", datetime(2026, 5, 2, 19, tzinfo=UTC))
    values: dict[str, object] = {
        "name": "OM – Lyon",
        "kind": "match",
        "starts_at": start,
        "ends_at": start + timedelta(hours=2),  # type: ignore[operator]
        "lat": 43.2699,
        "lon": 5.3959,
        "radius_m": 900.0,
        "expected_attendance": 62000,
        "source": "calendar",
        "external_id": "OM-OL",
    }
    values.update(kw)
    event = Event(**values)  # type: ignore[arg-type]
    session.add(event)
    session.commit()
    return event


@pytest.fixture
def match(session: Session) -> Event:
    event = _event(session)
    for hour, agents in ((17, 40), (18, 80)):
        session.add(
            EventResource(
                event_id=event.id or 0,
                hour=datetime(2026, 5, 2, hour, tzinfo=UTC),
                agents=agents,
                barriers=150,
            )
        )
    session.commit()
    return event


ROUTES = ["/staff/events", "/staff/events/{id}", "/staff/events/new", "/staff/events/{id}/edit"]


@pytest.mark.parametrize(
    ("role", "status"),
    [("agent", 403), ("supervisor", 200), ("analyst", 200), ("admin", 200)],
)
def test_roles_and_routes(
    client: FlaskClient,
    make_staff: Callable[..., StaffUser],
    match: Event,
    role: str,
    status: int,
) -> None:
    for route in ROUTES:
        anonymous = client.get(route.format(id=match.id))
        assert anonymous.status_code == 302 and "/staff/login" in anonymous.headers["Location"]
    sign_in(client, make_staff, role)
    for route in ROUTES:
        assert client.get(route.format(id=match.id)).status_code == status, route
    if status == 200:
        assert client.get(f"/staff/events/{(match.id or 0) + 1}").status_code == 404
    home = client.get("/staff/").get_data(as_text=True)
    assert ('href="/staff/events"' in home) == (status == 200)
    # Deleting is the admin's alone.
    token = csrf_token(client, "/staff/")
    deleted = client.post(f"/staff/events/{match.id}/delete", data={"csrf_token": token})
    assert deleted.status_code == (302 if role == "admin" else 403)


def test_the_list_shows_coming_events_first_in_french_and_english(
    client: FlaskClient, session: Session, make_staff: Callable[..., StaffUser]
) -> None:
    now = utcnow()
    _event(session, name="Match passé", starts_at=now - timedelta(days=10), external_id="p1")
    _event(session, name="Match lointain", starts_at=now + timedelta(days=30), external_id="f2")
    _event(session, name="Match proche", starts_at=now + timedelta(days=2), external_id="f1")
    _event(
        session,
        name="Marché de la Plaine",
        kind="market",
        starts_at=now + timedelta(days=1),
        external_id="m1",
        expected_attendance=3000,
    )
    sign_in(client, make_staff, "analyst")
    page = client.get("/staff/events?lang=fr").get_data(as_text=True)
    names = re.findall(r'<a href="/staff/events/\d+[^"]*">([^<]+)</a>', page)
    assert names == ["Marché de la Plaine", "Match proche", "Match lointain", "Match passé"]
    assert "Événements" in page and "À venir" in page and "Passé" in page and "Marché" in page
    english = client.get("/staff/events?lang=en").get_data(as_text=True)
    assert "Events" in english and "Coming" in english and "Expected attendance" in english
    markets = client.get("/staff/events?kind=market").get_data(as_text=True)
    assert "Marché de la Plaine" in markets and "Match proche" not in markets
    day = (now + timedelta(days=2)).date().isoformat()
    one_day = client.get(f"/staff/events?from={day}&to={day}").get_data(as_text=True)
    assert "Match proche" in one_day and "Match lointain" not in one_day


def test_the_detail_shows_the_place_on_a_local_map_and_the_resources(
    client: FlaskClient, make_staff: Callable[..., StaffUser], match: Event
) -> None:
    sign_in(client, make_staff, "analyst")
    response = client.get(f"/staff/events/{match.id}?lang=fr")
    body = response.get_data(as_text=True)
    assert "OM – Lyon" in body and "Moyens déployés" in body
    # Local times: 19:00 UTC in May is 21:00 in Marseille; resources hour by hour.
    assert "2026-05-02 21:00" in body
    assert re.search(r"<td>2026-05-02 20:00</td><td[^>]*>80</td><td[^>]*>150</td>", body)
    assert "&#34;radius&#34;: 900.0" in body or '"radius": 900.0' in body
    nonce = re.fullmatch(
        r"'self' 'nonce-([A-Za-z0-9_-]{22})'",
        directives(response.headers["Content-Security-Policy"])["script-src"],
    )
    assert nonce
    scripts = scripts_of(body)
    local = [str(s["src"]).split("?")[0] for s in scripts if s.get("src")]  # "?v=" versions
    assert local == ["/static/vendor/leaflet/leaflet.js"]
    assert all(s.get("nonce") == nonce.group(1) for s in scripts)
    english = client.get(f"/staff/events/{match.id}?lang=en").get_data(as_text=True)
    assert "Resources deployed" in english and "Match" in english


def test_a_new_event_is_created_from_the_form_and_audited(
    client: FlaskClient, session: Session, make_staff: Callable[..., StaffUser]
) -> None:
    sign_in(client, make_staff, "supervisor")
    token = csrf_token(client, "/staff/events/new")
    form = {
        "csrf_token": token,
        "name": "Réunion de quartier Noailles",
        "kind": "neighbourhood_meeting",
        "start": "2026-06-03T18:30",
        "end": "2026-06-03T18:00",
        "place_kind": "areas",
        "area_codes": "1320103",
        "expected_attendance": "80",
    }
    refused = client.post("/staff/events/new", data=form)
    assert refused.status_code == 422
    assert "the end must come after the start" in refused.get_data(as_text=True)
    assert 'value="Réunion de quartier Noailles"' in refused.get_data(as_text=True)
    assert session.exec(select(Event)).all() == []
    done = client.post("/staff/events/new?lang=en", data={**form, "end": "2026-06-03T20:30"})
    assert done.status_code == 302
    event = session.exec(select(Event)).one()
    assert event.area_codes == ["1320103"] and event.source == "staff"
    assert event.starts_at == datetime(2026, 6, 3, 16, 30, tzinfo=UTC)
    assert done.headers["Location"].startswith(f"/staff/events/{event.id}?")
    assert "Saved." in client.get(done.headers["Location"]).get_data(as_text=True)
    audit = session.exec(select(AuditLog).where(AuditLog.action == "event.created")).one()
    assert audit.actor == "supervisor@ville.example"
    without_token = client.post(
        "/staff/events/new", data={k: v for k, v in form.items() if k != "csrf_token"}
    )
    assert without_token.status_code == 400


def test_an_edit_over_a_change_made_meanwhile_saves_nothing_and_says_so(
    client: FlaskClient, session: Session, make_staff: Callable[..., StaffUser], match: Event
) -> None:
    sign_in(client, make_staff, "analyst")
    path = f"/staff/events/{match.id}/edit"
    page = client.get(path).get_data(as_text=True)
    version = re.search(r'name="version" value="([^"]+)"', page)
    assert version and 'value="43.2699"' in page and 'value="900"' in page
    form = {
        "csrf_token": csrf_token(client, path),
        "version": version.group(1),
        "name": "OM – Lyon (reporté)",
        "kind": "match",
        "start": "2026-05-03T21:00",
        "end": "2026-05-03T23:00",
        "place_kind": "point",
        "lat": "43.2699",
        "lon": "5.3959",
        "radius_m": "900",
        "expected_attendance": "62000",
    }
    # Someone else changes the event in between.
    match.expected_attendance = 50000
    match.updated_at = utcnow()
    session.add(match)
    session.commit()
    stale = client.post(path, data=form)
    assert stale.status_code == 409
    assert "modifié par quelqu'un d'autre" in html.unescape(stale.get_data(as_text=True))
    session.expire_all()
    assert session.get(Event, match.id).name == "OM – Lyon"  # type: ignore[union-attr]
    fresh = re.search(r'name="version" value="([^"]+)"', stale.get_data(as_text=True))
    assert fresh
    saved = client.post(path, data={**form, "version": fresh.group(1)})
    assert saved.status_code == 302
    session.expire_all()
    event = session.get(Event, match.id)
    assert event is not None and event.name == "OM – Lyon (reporté)"
    assert event.starts_at == datetime(2026, 5, 3, 19, tzinfo=UTC)
