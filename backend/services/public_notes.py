"""Public notes: written by staff or a back office, published only once a worker scrubbed them.

Why a worker, and not the web at write time: names are found by spaCy's statistical NER
(``nlp.scrub``, the ``fr_core_news_sm`` model) plus token patterns run on spaCy's tokens, and
the web process never loads spaCy. Scrubbing the regular-expression kinds (e-mails, phones)
in the web and leaving names to a job would publish a half-scrubbed note in between, and
would copy the scrubber's logic outside ``nlp``. So the note is stored as written (staff
only), a job on the ``high`` queue scrubs it (``workers.jobs.scrub_note``, queued through the
outbox in the same transaction: a Redis outage delays it, never loses it), and until then
nothing of it is public. The agent's request waits briefly for that worker, as the category
suggestion does, so that the answer can show what will be published and what was removed.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

import redis
from rq import Queue, Worker
from sqlalchemy import select as sa_select
from sqlmodel import Session, col

from backend.jobs import SCRUB_NOTE
from backend.models import ReportUpdate
from backend.services import outbox

# How often the waiting request looks whether the worker has published the note.
_POLL_SECONDS = 0.05


def scrub_job_id(update_id: int) -> str:
    """The RQ job id of a note's scrubbing: one per history step."""
    return f"scrub-note-{update_id}"


def scrubbing_job(update: ReportUpdate) -> outbox.PendingJob | None:
    """The outbox job scrubbing a stored step's note (None: no note, nothing to scrub)."""
    if not update.public_note:
        return None
    assert update.id is not None, "the history step must be stored (flushed) first"
    return outbox.PendingJob(
        job_path=SCRUB_NOTE.path,
        args=[update.id],
        job_id=scrub_job_id(update.id),
        queue=SCRUB_NOTE.queue,
    )


def queue_scrubbing(*, session: Session, update: ReportUpdate) -> None:
    """Queue the scrubbing of a step's note, in the caller's transaction (no note: nothing)."""
    if not update.public_note:
        return
    if update.id is None:
        session.flush()
    message = scrubbing_job(update)
    assert message is not None
    outbox.add_job(
        session=session,
        job_path=message.job_path,
        args=message.args,
        job_id=message.job_id,
        queue=message.queue,
    )


def publish(*, update: ReportUpdate, text: str, removed: Iterable[str]) -> None:
    """Store the scrubbed note and the kinds of personal data taken out (the worker's step)."""
    update.public_note_published = text
    update.public_note_removed = sorted(set(removed))


def wait_until_scrubbed(
    *, session: Session, connection: redis.Redis, update_id: int, wait_seconds: float
) -> bool:
    """Wait up to ``wait_seconds`` for a worker to publish a committed note; True once done.

    Returns at once when no worker listens on the queue (nothing could answer) or when Redis
    cannot be reached (the outbox delivers the job later). Reads the database, not RQ, so it
    does not matter which of the relay or the catch-up pushed the job.
    """
    try:
        if Worker.count(queue=Queue(SCRUB_NOTE.queue, connection=connection)) == 0:
            return False
    except redis.RedisError:
        return False
    stmt = sa_select(col(ReportUpdate.public_note_published)).where(
        col(ReportUpdate.id) == update_id
    )
    deadline = time.monotonic() + wait_seconds
    while True:
        # A new transaction each look: SQLite would otherwise keep showing its first snapshot.
        session.rollback()
        if session.execute(stmt).scalar_one_or_none() is not None:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(_POLL_SECONDS)
