"""Events and incidents of the simulated city, written to the test database."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert
from sqlmodel import Session

from backend.models import Event, Incident
from workers.events.simulate import VENUES, demo_incidents

VELODROME = VENUES[0]


def insert_matches(session: Session, *, seed: int = 1, days: int = 200) -> list[Event]:
    """The simulation's matches at the Vélodrome and the incidents around it (committed)."""
    events, incidents = demo_incidents(seed, days=days)
    rows = [Event(**e) for e in events if e["kind"] == "match"]
    session.add_all(rows)
    near = [
        i
        for i in incidents
        if abs(i["lat"] - VELODROME.lat) < 0.01 and abs(i["lon"] - VELODROME.lon) < 0.01
    ]
    session.execute(insert(Incident), near)
    session.commit()
    for row in rows:
        session.refresh(row)
    return sorted(rows, key=lambda e: e.starts_at)


def lone_event(session: Session, **fields: Any) -> Event:
    """One neighbourhood meeting, the only one of its kind (committed)."""
    values: dict[str, Any] = {
        "name": "Réunion de quartier, Belsunce",
        "kind": "neighbourhood_meeting",
        "starts_at": datetime(2026, 12, 10, 17, tzinfo=UTC),
        "ends_at": datetime(2026, 12, 10, 19, tzinfo=UTC),
        "lat": 43.2990,
        "lon": 5.3770,
        "radius_m": 100.0,
        "expected_attendance": 60,
        **fields,
    }
    event = Event(**values)
    session.add(event)
    session.commit()
    session.refresh(event)
    return event
