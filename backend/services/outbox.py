"""The transactional outbox: jobs are rows first, and reach RQ after the commit.

Whoever has a job for the workers adds a row to the outbox in its own transaction
(``add_job``, or intake's own statement) and does nothing more: nothing on a request's path
talks to RQ. The relay (``lanterne outbox relay``, ``relay_waiting``) claims the rows that
wait, oldest first and a batch at a time, and pushes each batch to RQ in one round trip,
which costs less in all than one push per request (decision 0006). Delivery is at least
once: the scheduled catch-up (``dispatch_pending``, every few seconds) pushes again any row
not done that RQ does not hold, e.g. because Redis lost it. Jobs are idempotent and mark
their own row done. The web process never imports ``workers``: jobs are named by their
dotted path.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Sequence
from datetime import timedelta
from typing import Any, NamedTuple

import redis
from rq import Queue, Retry
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from rq.worker import Worker
from sqlalchemy import Engine, insert, update
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, col, func, select

from backend.db import insert_row, utcnow
from backend.jobs import REPORTS
from backend.models import OutboxMessage

log = logging.getLogger(__name__)

# Retries with backoff: a job that fails for a passing reason (a locked database, a restart)
# is tried again; the job itself is idempotent.
DEFAULT_RETRY = Retry(max=3, interval=[10, 60, 300])
# A row younger than this is left to the relay.
GRACE = timedelta(seconds=5)
# How long the catch-up waits before it looks again at a job that seems lost (``_lost``).
RECHECK_PAUSE = 0.5


class PendingJob(NamedTuple):
    """What ``push_many`` needs of a job, as the relay's claim returns it (no ORM instance)."""

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
    queue: str = REPORTS,
) -> OutboxMessage:
    """Add a job to the outbox in the caller's transaction (committed with the caller's data).

    The row is inserted at once (``insert_row``); the returned instance is not tracked by the
    session, so later changes to it are not saved.
    """
    message = OutboxMessage(job_path=job_path, args=args, job_id=job_id, queue=queue)
    insert_row(session, message)
    return message


def add_jobs(*, session: Session, jobs: Sequence[PendingJob]) -> None:
    """Add many jobs to the outbox at once, in the caller's transaction (one executemany
    INSERT, no ORM instances: a bulk action on 500 reports queues ~1,000 jobs)."""
    if not jobs:
        return
    now = utcnow()
    table = OutboxMessage.__table__  # type: ignore[attr-defined]
    rows = [
        {
            "job_path": job.job_path,
            "args": list(job.args),
            "job_id": job.job_id,
            "queue": job.queue,
            "created_at": now,
            "attempts": 0,
        }
        for job in jobs
    ]
    session.execute(insert(table), rows)


def push_many(
    messages: Sequence[OutboxMessage | PendingJob],
    *,
    connection: redis.Redis,
    job_timeout: int = 300,
) -> None:
    """Enqueue outbox rows on RQ in one round trip; raises ``redis.RedisError`` if it fails.

    RQ writes each job and its queue entry through one pipeline (``Queue.enqueue_many``); the
    rows keep their order within each queue.
    """
    by_queue: dict[str, list[Any]] = {}
    for message in messages:
        by_queue.setdefault(message.queue, []).append(
            Queue.prepare_data(
                message.job_path,
                tuple(message.args),
                job_id=message.job_id,
                timeout=job_timeout,
                retry=DEFAULT_RETRY,
                result_ttl=3600,
                failure_ttl=7 * 24 * 3600,
            )
        )
    with connection.pipeline() as pipe:
        for name, datas in by_queue.items():
            Queue(name, connection=connection).enqueue_many(datas, pipeline=pipe)
        pipe.execute()


def relay_waiting(*, engine: Engine, connection: redis.Redis, limit: int = 500) -> int:
    """Push to RQ the oldest rows that wait for the relay (up to ``limit``); return how many.

    One transaction: the rows are claimed (``dispatched_at`` set) by one ``UPDATE ...
    RETURNING``, pushed, and the claim commits only once RQ has them. If Redis fails, the
    claim rolls back and the rows wait for the next call (the error is raised). On PostgreSQL
    the claim skips rows another relay holds (``SKIP LOCKED``), so relays can run side by
    side; on SQLite the database's write lock takes them in turn.
    """
    table = OutboxMessage.__table__  # type: ignore[attr-defined]
    waiting = (
        select(table.c.id).where(table.c.dispatched_at.is_(None)).order_by(table.c.id).limit(limit)
    )
    if engine.dialect.name == "postgresql":
        waiting = waiting.with_for_update(skip_locked=True)
    claim = (
        update(table)
        .where(table.c.id.in_(waiting.scalar_subquery()))
        .values(dispatched_at=utcnow(), attempts=table.c.attempts + 1)
        .returning(table.c.id, table.c.job_path, table.c.args, table.c.job_id, table.c.queue)
    )
    with engine.begin() as conn:
        rows = sorted(conn.execute(claim).all())  # RETURNING has no order: oldest first
        if rows:
            push_many(
                [PendingJob(r.job_path, r.args, r.job_id, r.queue) for r in rows],
                connection=connection,
            )
    return len(rows)


def relay_all(*, engine: Engine, connection: redis.Redis, limit: int = 500) -> int:
    """Push batches until none waits; return how many jobs were pushed.

    Errors are raised as ``relay_waiting`` raises them; the batches pushed before stay pushed.
    """
    total = 0
    while sent := relay_waiting(engine=engine, connection=connection, limit=limit):
        total += sent
    return total


def relay(
    *,
    engine: Engine,
    connection: redis.Redis,
    stop: threading.Event,
    interval: float = 0.2,
    limit: int = 500,
) -> int:
    """Run the relay until ``stop`` is set; return how many jobs it pushed.

    A full batch is followed at once by the next; otherwise the relay looks again after
    ``interval`` seconds, so a job waits about that long at most when the relay keeps up.
    While Redis or the database fails, it says so once, retries with a growing pause (up to
    5 s), and says when it is back.
    """
    total = since_log = 0
    failing = False
    pause = interval
    logged_at = time.monotonic()
    while not stop.is_set():
        try:
            sent = relay_waiting(engine=engine, connection=connection, limit=limit)
        except (redis.RedisError, DBAPIError) as exc:
            if not failing:
                log.warning("outbox relay: cannot push, jobs wait in the outbox (%s)", exc)
            failing = True
            pause = min(pause * 2, 5.0)
            stop.wait(pause)
            continue
        if failing:
            log.warning("outbox relay: pushing again")
            failing, pause = False, interval
        total += sent
        since_log += sent
        if time.monotonic() - logged_at >= 60:
            if since_log:
                log.info("outbox relay: %d jobs pushed in the last minute", since_log)
            since_log, logged_at = 0, time.monotonic()
        if sent < limit:
            stop.wait(interval)
    return total


def waiting_count(*, session: Session) -> int:
    """How many outbox rows wait for the relay."""
    stmt = (
        select(func.count())
        .select_from(OutboxMessage)
        .where(col(OutboxMessage.dispatched_at).is_(None))
    )
    return session.exec(stmt).one()


def _held_by_rq(job_id: str, connection: redis.Redis) -> bool:
    """Whether RQ will run the job or runs it now: its status and where it sits agree.

    A job ``queued`` must be in its queue's list, ``started`` in its queue's started registry
    with a live worker, ``scheduled`` or ``deferred`` in that registry. A status alone is not
    enough: a worker killed between taking a job from its queue and starting it leaves the
    job ``queued`` in no queue, and a worker killed mid-job leaves it ``started`` for good.
    """
    try:
        job = Job.fetch(job_id, connection=connection)
    except NoSuchJobError:
        return False
    status = job.get_status(refresh=False)
    queue = Queue(job.origin, connection=connection)
    if status == JobStatus.QUEUED:
        return queue.get_job_position(job_id) is not None
    if status == JobStatus.STARTED:
        return job_id in queue.started_job_registry and _worker_alive(job.worker_name, connection)
    if status == JobStatus.SCHEDULED:
        return job_id in queue.scheduled_job_registry
    if status == JobStatus.DEFERRED:
        return job_id in queue.deferred_job_registry
    return False


def _worker_alive(name: str | None, connection: redis.Redis) -> bool:
    """Whether the RQ worker ``name`` lives: its key has not expired and, on this machine,
    its process runs (a worker killed mid-job keeps its key for the job's timeout)."""
    if not name:
        return False
    key = Worker.redis_worker_namespace_prefix + name
    hostname, pid = connection.hmget(key, ["hostname", "pid"])
    if hostname is None or pid is None:
        return bool(connection.exists(key))
    if hostname.decode() != socket.gethostname():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _lost(job_ids: Sequence[str], connection: redis.Redis) -> set[str]:
    """The jobs of ``job_ids`` that RQ does not hold, looked at twice.

    A worker moves a job from its queue to its started registry in two steps; a job seen
    between them looks lost, so the suspects are looked at again a moment later.
    """
    suspects = [job_id for job_id in job_ids if not _held_by_rq(job_id, connection)]
    if suspects:
        time.sleep(RECHECK_PAUSE)
    return {job_id for job_id in suspects if not _held_by_rq(job_id, connection)}


def dispatch_pending(
    *, session: Session, connection: redis.Redis, limit: int = 500, job_timeout: int = 300
) -> int:
    """Push again the rows not done that RQ does not hold; return how many were pushed.

    The scheduled catch-up (``workers.jobs.drain_outbox``) and ``lanterne outbox drain``.
    Rows are locked with SKIP LOCKED where the database has it (PostgreSQL), so neither
    pushes a row that the relay or another catch-up holds; on SQLite the database lock
    serialises them.
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
    lost: list[OutboxMessage] = []
    try:
        messages = session.exec(stmt).all()
        lost_ids = _lost([message.job_id for message in messages], connection)
        lost = [message for message in messages if message.job_id in lost_ids]
        if lost:
            _forget_stale_entries(lost, connection)
            push_many(lost, connection=connection, job_timeout=job_timeout)
    except redis.RedisError as exc:
        log.warning("outbox: Redis unavailable, %d jobs stay pending (%s)", len(lost), exc)
        for message in lost:
            message.last_error = str(exc)[:500]
        session.commit()
        return 0
    for message in lost:
        message.attempts += 1
        message.dispatched_at = utcnow()
        message.last_error = None
    session.commit()
    return len(lost)


def _forget_stale_entries(messages: Sequence[OutboxMessage], connection: redis.Redis) -> None:
    # A job left in a queue's intermediate list by a dead worker would later be failed by
    # RQ's own clean-up, whatever became of the job pushed again.
    with connection.pipeline() as pipe:
        for message in messages:
            queue = Queue(message.queue, connection=connection)
            pipe.lrem(queue.intermediate_queue_key, 0, message.job_id)
        pipe.execute()


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
