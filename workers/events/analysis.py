"""The work of the event jobs: profile an event, and once it is over, compare and scan.

``workers.jobs.profile_event`` and ``workers.jobs.profile_events`` call these; the results go
to ``EventProfile`` rows, which the web reads (``backend.services.event_analysis``).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, col, or_, select

from backend.db import utcnow
from backend.models import Event, EventProfile
from workers.events.data import HOUR, Settings
from workers.events.loading import EventData
from workers.events.observed import observed_counts, scan_event
from workers.events.profile import build_profile

log = logging.getLogger(__name__)


def analyse_event(
    session: Session,
    event_id: int,
    *,
    now: datetime | None = None,
    settings: Settings | None = None,
    scan_replications: int = 999,
) -> dict[str, Any]:
    """Fit and store the profile of one event; add the observed side if it is over.

    Parameters
    ----------
    session : Session
        The job's session (committed by the caller).
    event_id : int
        The event.
    now : datetime or None
        The time of the analysis (events whose profiled hours are over by then are
        "past"); the current time by default.
    settings : Settings or None
        Profile settings (the defaults otherwise).
    scan_replications : int
        Replications of the after-event scan.

    Returns
    -------
    dict
        A summary: status, number of training events, whether the observed side was made.
    """
    now = now or utcnow()
    settings = settings or Settings()
    event = session.get(Event, event_id)
    if event is None:
        return {"event_id": event_id, "status": "missing"}
    data = EventData(session, settings)
    target = data.spec(event)
    profile = build_profile(
        target,
        data.candidates(event, now),
        data.counts_for,
        settings=settings,
        exclude_for=data.exclude_for,
        fitted_at=now,
        seed=event_id,
    )
    row = session.get(EventProfile, event_id) or EventProfile(
        event_id=event_id,
        status=profile.status,
        model_version=profile.data["model_version"],
        fitted_at=now,
        event_updated_at=event.updated_at,
    )
    row.status = profile.status
    row.model_version = profile.data["model_version"]
    row.fitted_at = now
    row.event_updated_at = event.updated_at
    row.training_event_ids = list(profile.data["training_event_ids"])
    row.profile = profile.data
    over = target.hours(settings)[-1] + HOUR <= now
    if over:
        counts = data.counts_for(target)
        observed = observed_counts(profile.data, counts)
        hours = target.hours(settings)
        records = data.records(target.place, hours[0] - timedelta(days=7), hours[-1] + HOUR)
        observed["scan"] = scan_event(
            target, records, settings, replications=scan_replications, seed=event_id
        )
        row.observed = observed
        row.observed_at = now
    else:
        row.observed = None
        row.observed_at = None
    session.add(row)
    return {
        "event_id": event_id,
        "status": profile.status,
        "n_training": profile.data["n_training"],
        "observed": over,
    }


def events_to_refresh(session: Session) -> list[int]:
    """Events the nightly job refits: never profiled, not over when last profiled (new data
    came in since), or edited since their profile."""
    rows = session.exec(
        select(Event.id)
        .outerjoin(EventProfile, col(EventProfile.event_id) == col(Event.id))
        .where(
            or_(
                col(EventProfile.event_id).is_(None),
                col(EventProfile.observed_at).is_(None),
                col(Event.updated_at) > col(EventProfile.event_updated_at),
            )
        )
    ).all()
    return sorted(i for i in rows if i is not None)
