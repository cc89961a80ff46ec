"""The transactional outbox: jobs are rows first, and reach RQ after the commit.

The web process never imports ``workers``: jobs are named by their dotted path.
"""

from __future__ import annotations

import logging
from typing import Any

import redis
from rq import Queue, Retry
from sqlmodel import Session, col, select

from backend.db import utcnow
from backend.models import OutboxMessage

log = logging.getLogger(__name__)

# Retries with backoff: a job that fails for a passing reason (a locked database, a restart)
# is tried again; the job itself is idempotent.
DEFAULT_RETRY = Retry(max=3, interval=[10, 60, 300])


def add_job(
    *,
    session: Session,
    job_path: str,
    args: list[Any],
    job_id: str,
    queue: str = "reports",
) -> OutboxMessage:
    """Add a job to the outbox in the caller's transaction (committed with the caller's data)."""
    message = OutboxMessage(job_path=job_path, args=args, job_id=job_id, queue=queue)
    session.add(message)
    return message


def dispatch_pending(
    *, session: Session, connection: redis.Redis, limit: int = 200, job_timeout: int = 300
) -> int:
    """Push pending outbox rows to RQ; return how many went. Redis down: nothing is lost.

    Rows are locked with SKIP LOCKED where the database has it (PostgreSQL), so several
    dispatchers never push the same row at once; on SQLite the database lock serialises them.
    """
    stmt = (
        select(OutboxMessage)
        .where(col(OutboxMessage.dispatched_at).is_(None))
        .order_by(col(OutboxMessage.id))
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    sent = 0
    try:
        for message in session.exec(stmt).all():
            queue = Queue(message.queue, connection=connection)
            try:
                queue.enqueue(
                    message.job_path,
                    *message.args,
                    job_id=message.job_id,
                    job_timeout=job_timeout,
                    retry=DEFAULT_RETRY,
                    result_ttl=3600,
                    failure_ttl=7 * 24 * 3600,
                )
            except redis.RedisError as exc:
                message.attempts += 1
                message.last_error = str(exc)[:500]
                log.warning("outbox: Redis unavailable, %s stays pending (%s)", message.job_id, exc)
                break
            message.dispatched_at = utcnow()
            message.attempts += 1
            sent += 1
    finally:
        session.commit()
    return sent


def pending_count(*, session: Session) -> int:
    """How many outbox rows wait for Redis."""
    stmt = select(OutboxMessage).where(col(OutboxMessage.dispatched_at).is_(None))
    return len(session.exec(stmt).all())
