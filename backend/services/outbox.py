"""The transactional outbox: jobs are rows first, and reach RQ after the commit.

Delivery is at least once. The web process pushes a job to RQ right after its commit, without
writing to the database again (that keeps intake fast); the job marks its row done when it has
run. A relay (``dispatch_pending``, scheduled every few seconds) pushes again any row that is
not done and that RQ does not hold, e.g. because Redis was down. Jobs are idempotent.
The web process never imports ``workers``: jobs are named by their dotted path.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any, NamedTuple

import redis
from rq import Queue, Retry
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from sqlalchemy import update
from sqlmodel import Session, col, func, select

from backend.db import insert_row, utcnow
from backend.models import OutboxMessage

log = logging.getLogger(__name__)

# Retries with backoff: a job that fails for a passing reason (a locked database, a restart)
# is tried again; the job itself is idempotent.
DEFAULT_RETRY = Retry(max=3, interval=[10, 60, 300])
# A row younger than this is left to the web process's own push.
GRACE = timedelta(seconds=5)
LIVE_STATUSES = {JobStatus.QUEUED, JobStatus.STARTED, JobStatus.SCHEDULED, JobStatus.DEFERRED}


class PendingJob(NamedTuple):
    """What ``push`` needs of a job whose outbox row was written by a statement of its own."""

    job_path: str
    args: list[Any]
    job_id: str
    queue: str


def add_job(
    *,
    session: Session,
    job_path: str,
    args: list[Any],
    job_id: str,
    queue: str = "reports",
) -> OutboxMessage:
    """Add a job to the outbox in the caller's transaction (committed with the caller's data).

    The row is inserted at once (``insert_row``); the returned instance is not tracked by the
    session, so later changes to it are not saved.
    """
    message = OutboxMessage(job_path=job_path, args=args, job_id=job_id, queue=queue)
    insert_row(session, message)
    return message


def push(
    message: OutboxMessage | PendingJob, *, connection: redis.Redis, job_timeout: int = 300
) -> bool:
    """Enqueue one outbox row on RQ; False (and a warning) when Redis is unreachable."""
    try:
        # One round trip: RQ writes the queue's name, the job and the queue entry through the
        # given pipeline and leaves its execution to us.
        with connection.pipeline() as pipe:
            Queue(message.queue, connection=connection).enqueue(
                message.job_path,
                *message.args,
                job_id=message.job_id,
                job_timeout=job_timeout,
                retry=DEFAULT_RETRY,
                result_ttl=3600,
                failure_ttl=7 * 24 * 3600,
                pipeline=pipe,
            )
            pipe.execute()
    except redis.RedisError as exc:
        log.warning("outbox: Redis unavailable, %s stays pending (%s)", message.job_id, exc)
        return False
    return True


def _held_by_rq(job_id: str, connection: redis.Redis) -> bool:
    try:
        status = Job.fetch(job_id, connection=connection).get_status(refresh=False)
    except NoSuchJobError:
        return False
    return status in LIVE_STATUSES


def dispatch_pending(
    *, session: Session, connection: redis.Redis, limit: int = 500, job_timeout: int = 300
) -> int:
    """Push again the rows not done that RQ does not hold; return how many were pushed.

    Rows are locked with SKIP LOCKED where the database has it (PostgreSQL), so several
    relays never push the same row at once; on SQLite the database lock serialises them.
    """
    stmt = (
        select(OutboxMessage)
        .where(col(OutboxMessage.done_at).is_(None))
        .where(col(OutboxMessage.created_at) < utcnow() - GRACE)
        .order_by(col(OutboxMessage.id))
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    sent = 0
    try:
        for message in session.exec(stmt).all():
            try:
                if _held_by_rq(message.job_id, connection):
                    continue
            except redis.RedisError as exc:
                message.last_error = str(exc)[:500]
                break
            message.attempts += 1
            if not push(message, connection=connection, job_timeout=job_timeout):
                message.last_error = "Redis unavailable"
                break
            message.dispatched_at = utcnow()
            sent += 1
    finally:
        session.commit()
    return sent


def mark_done(*, session: Session, job_id: str) -> None:
    """Record that a job ran to the end (called by the job itself, in its own transaction)."""
    session.execute(
        update(OutboxMessage)
        .where(col(OutboxMessage.job_id) == job_id, col(OutboxMessage.done_at).is_(None))
        .values(done_at=utcnow())
    )


def pending_count(*, session: Session) -> int:
    """How many outbox rows are not done yet."""
    stmt = (
        select(func.count()).select_from(OutboxMessage).where(col(OutboxMessage.done_at).is_(None))
    )
    return session.exec(stmt).one()
