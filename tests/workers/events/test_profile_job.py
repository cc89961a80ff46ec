"""The profile job on the database: queued through the outbox, run by a real RQ worker."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from sqlmodel import Session, select

from backend.models import Event, EventProfile, OutboxMessage
from backend.services.event_analysis import queue_profile
from tests.event_data import insert_matches, lone_event
from workers.events.analysis import analyse_event, events_to_refresh


def _series(profile: dict, family: str, zone: str = "inside") -> dict:
    (found,) = [
        s
        for s in profile["series"]
        if s["source"] == "incidents" and s["family"] == family and s["zone"] == zone
    ]
    return found


def test_a_queued_profile_is_fitted_on_past_matches_and_stored(
    session: Session, run_jobs: Callable[[], int]
) -> None:
    matches = insert_matches(session)
    target = matches[-1]
    assert target.id is not None
    queue_profile(session, target.id)
    session.commit()
    assert run_jobs() == 1
    session.expire_all()
    row = session.get(EventProfile, target.id)
    assert row is not None and row.status == "ok"
    # Learned from the other matches only, the event itself left out.
    assert target.id not in row.training_event_ids
    assert set(row.training_event_ids) <= {m.id for m in matches}
    assert len(row.training_event_ids) >= 5
    profile = row.profile
    hours = profile["hours"]
    assert len(hours) == 3 + 2 + 3  # 3 h before, a 2-hour match, 3 h after
    order = _series(profile, "public_order")
    peak = profile["phases"].index("after1")
    # The simulated crowd leaving the stadium: far above the normal, within its interval.
    assert order["expected"][peak] > 3 * order["baseline"][peak]
    assert order["low"][peak] <= order["expected"][peak] <= order["high"][peak]
    assert order["model"]["distribution"] in {"poisson", "negative_binomial"}
    # The match is over: observed counts and the scan are there too.
    assert row.observed is not None
    seen = [s for s in row.observed["series"] if s["family"] == "public_order"]
    assert seen and len(seen[0]["observed"]) == len(hours)
    assert row.observed["scan"]["ran"] is True
    # The job marked its own outbox row done.
    message = session.exec(select(OutboxMessage)).one()
    assert message.done_at is not None


def test_too_little_history_is_said_not_made_up(session: Session) -> None:
    event = lone_event(session)
    assert event.id is not None
    summary = analyse_event(session, event.id, now=datetime(2026, 12, 1, tzinfo=UTC))
    session.commit()
    assert summary["status"] == "insufficient_history"
    row = session.get(EventProfile, event.id)
    assert row is not None
    assert row.profile["n_training"] == 0 and row.profile["series"] == []
    assert row.observed is None  # not over on 1 December


def test_the_nightly_job_refits_what_is_new_or_changed(session: Session) -> None:
    event = lone_event(session)
    other = lone_event(
        session,
        name="Autre réunion",
        starts_at=datetime(2026, 12, 11, 17, tzinfo=UTC),
        ends_at=datetime(2026, 12, 11, 18, tzinfo=UTC),
    )
    assert event.id and other.id
    assert events_to_refresh(session) == sorted([event.id, other.id])
    # Both profiled after they were over: nothing left to do until one is edited.
    for e in (event, other):
        analyse_event(session, e.id, now=datetime(2026, 12, 20, tzinfo=UTC))  # type: ignore[arg-type]
    session.commit()
    assert events_to_refresh(session) == []
    edited = session.get(Event, other.id)
    assert edited is not None
    edited.updated_at = datetime(2026, 12, 21, tzinfo=UTC)
    session.add(edited)
    session.commit()
    assert events_to_refresh(session) == [other.id]
