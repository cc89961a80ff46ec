"""Event analysis for the web: queue the profile job, read what it stored, suggest staffing.

The numbers are made by the workers (``workers.events``, with statsmodels); the web only
reads the ``EventProfile`` row and turns it into answers (``backend.api.event_analysis``,
``backend.staff.event_analysis``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session

from backend.jobs import PROFILE_EVENT
from backend.models import Event, EventProfile
from backend.services import outbox

ANALYSIS_ROLES = frozenset({"analyst", "supervisor", "admin"})
"""Staff roles that see event analyses (agents do not: for them an event does not exist)."""


def profile_job_id(event_id: int) -> str:
    """The RQ job id of an event's profile job."""
    return f"event-profile-{event_id}"


def queue_profile(session: Session, event_id: int) -> None:
    """Queue the profile job of an event, in the caller's transaction (the outbox).

    The events service calls this when an event is created or changed; the job refits the
    profile from scratch, so queueing it twice is harmless.
    """
    outbox.add_job(
        session=session,
        job_path=PROFILE_EVENT.path,
        args=[event_id],
        job_id=profile_job_id(event_id),
        queue=PROFILE_EVENT.queue,
    )


def stored_profile(session: Session, event_id: int) -> EventProfile | None:
    """The stored analysis of an event, or None while the job has not run."""
    return session.get(EventProfile, event_id)


def is_stale(event: Event, row: EventProfile) -> bool:
    """True when the event was changed after its profile was fitted."""
    return _naive(event.updated_at) > _naive(row.event_updated_at)


def _naive(moment: datetime) -> datetime:
    return moment.replace(tzinfo=None) if moment.tzinfo else moment


def profile_answer(event: Event, row: EventProfile) -> dict[str, Any]:
    """The ``/profile`` answer: the stored JSON with the row's metadata."""
    return {
        "event_id": event.id,
        "status": row.status,
        "stale": is_stale(event, row),
        "model_version": row.model_version,
        "fitted_at": row.fitted_at,
        "training_event_ids": list(row.training_event_ids),
        "n_training": row.profile.get("n_training", len(row.training_event_ids)),
        "min_events": row.profile.get("settings", {}).get("min_events"),
        "settings": row.profile.get("settings", {}),
        "hours": row.profile.get("hours", []),
        "offsets": row.profile.get("offsets", []),
        "phases": row.profile.get("phases", []),
        "reference_attendance": row.profile.get("reference_attendance"),
        "series": [
            {
                **s,
                "excess": [
                    round(e - b, 4) for e, b in zip(s["expected"], s["baseline"], strict=True)
                ],
            }
            for s in row.profile.get("series", [])
        ],
    }
