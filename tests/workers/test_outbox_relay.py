"""The outbox relay: jobs committed with their data reach RQ in batches, none lost, none twice."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
import redis
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from rq import Queue
from rq.job import Job
from sqlmodel import Session, select

from backend.cli import main
from backend.extensions import db
from backend.models import OutboxMessage
from backend.services import outbox
from tests.conftest import make_test_app

BODY = {"description": "Nid-de-poule rue Paradis", "lat": 43.2890, "lon": 5.3790}
DOWN = "redis://127.0.0.1:9/0"  # port 9 (discard) on loopback: nothing answers


def add_jobs(session: Session, count: int, queue: str = "default") -> list[str]:
    ids = [f"test-job-{queue}-{i}" for i in range(count)]
    for job_id in ids:
        outbox.add_job(
            session=session,
            job_path="workers.jobs.purge_contacts",
            args=[],
            job_id=job_id,
            queue=queue,
        )
    session.commit()
    return ids


def test_the_relay_pushes_the_oldest_jobs_first_a_batch_at_a_time(
    app: Flask, session: Session, redis_client: redis.Redis
) -> None:
    first = add_jobs(session, 3, queue="default")
    second = add_jobs(session, 2, queue="signals")
    assert outbox.relay_waiting(engine=db.engine, connection=redis_client, limit=4) == 4
    assert Queue("default", connection=redis_client).job_ids == first
    assert Queue("signals", connection=redis_client).job_ids == second[:1]
    assert outbox.relay_waiting(engine=db.engine, connection=redis_client, limit=4) == 1
    assert Queue("signals", connection=redis_client).job_ids == second
    assert outbox.relay_waiting(engine=db.engine, connection=redis_client) == 0
    assert outbox.waiting_count(session=session) == 0
    # Each job carries the outbox's timeout and retries, as a push of its own did.
    job = Job.fetch(first[0], connection=redis_client)
    assert (job.timeout, job.retries_left, job.retry_intervals) == (300, 3, [10, 60, 300])


def test_with_redis_down_the_jobs_wait_and_leave_when_it_is_back(
    app: Flask, database_url: str, instance_path: Path, session: Session, redis_client: redis.Redis
) -> None:
    [job_id] = add_jobs(session, 1)
    with pytest.raises(redis.RedisError):
        outbox.relay_waiting(engine=db.engine, connection=redis.Redis.from_url(DOWN))
    session.expire_all()
    message = session.exec(select(OutboxMessage)).one()
    assert (message.dispatched_at, message.attempts) == (None, 0)  # the claim rolled back
    assert outbox.relay_waiting(engine=db.engine, connection=redis_client) == 1
    assert Queue("default", connection=redis_client).job_ids == [job_id]


def test_the_relay_process_takes_a_new_report_to_rq_at_once_and_stops_cleanly(
    client: FlaskClient, session: Session, redis_client: redis.Redis
) -> None:
    stop = threading.Event()
    pushed: list[int] = []
    app = client.application

    def run() -> None:
        with app.app_context():
            pushed.append(
                outbox.relay(engine=db.engine, connection=redis_client, stop=stop, interval=0.05)
            )

    relay = threading.Thread(target=run)
    relay.start()
    try:
        assert client.post("/api/v1/reports", json=BODY).status_code == 201
        queue = Queue("reports", connection=redis_client)
        deadline = time.monotonic() + 10
        while not queue.job_ids and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(queue.job_ids) == 1
    finally:
        stop.set()
        relay.join(timeout=10)
    assert not relay.is_alive() and pushed == [1]


def test_cli_relay_once_says_what_it_pushed(app: Flask, session: Session) -> None:
    add_jobs(session, 3)
    result = app.test_cli_runner().invoke(main, ["outbox", "relay", "--once", "--batch", "2"])
    assert result.exit_code == 0, result.output
    assert "3 jobs pushed to RQ; none waits in the outbox." in result.output


def test_cli_relay_once_says_what_to_do_when_redis_is_down(
    app: Flask, database_url: str, instance_path: Path, session: Session
) -> None:
    add_jobs(session, 2)
    down = make_test_app(database_url, DOWN, instance_path)
    with down.app_context():
        result = down.test_cli_runner().invoke(main, ["outbox", "relay", "--once"])
    down.extensions["lanterne.db"].dispose()
    assert result.exit_code == 1, result.output
    assert "2 jobs wait in the outbox" in result.output and "run this again" in result.output


def test_cli_relay_refuses_a_bad_batch_size(app: Flask) -> None:
    result = app.test_cli_runner().invoke(main, ["outbox", "relay", "--batch", "0"])
    assert result.exit_code == 2
    assert "--batch" in result.output


def test_two_relays_never_push_the_same_job(
    app: Flask, session: Session, redis_client: redis.Redis
) -> None:
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SKIP LOCKED is PostgreSQL's; on SQLite the write lock takes relays in turn")
    first, second = add_jobs(session, 2)
    # Another relay holds the first row (claimed, its push not yet committed).
    with db.engine.connect() as other:
        other.execute(
            sa.text("SELECT id FROM outbox_message WHERE job_id = :j FOR UPDATE"), {"j": first}
        )
        # In a thread: a relay that waited for the lock instead of skipping it would hang.
        pushed: list[int] = []

        def claim() -> None:
            with app.app_context():
                pushed.append(outbox.relay_waiting(engine=db.engine, connection=redis_client))

        relay = threading.Thread(target=claim)
        relay.start()
        relay.join(timeout=10)
        assert not relay.is_alive(), "the relay waited for a row another relay holds"
        assert pushed == [1]
        assert Queue("default", connection=redis_client).job_ids == [second]
        other.rollback()
    assert outbox.relay_waiting(engine=db.engine, connection=redis_client) == 1
    assert Queue("default", connection=redis_client).job_ids == [second, first]


def test_cli_relay_once_says_what_to_do_when_the_database_is_down(
    app: Flask, redis_url: str, instance_path: Path
) -> None:
    # Port 9 (discard) on loopback: no database answers there.
    down = make_test_app("postgresql://postgres@127.0.0.1:9/lanterne", redis_url, instance_path)
    with down.app_context():
        result = down.test_cli_runner().invoke(main, ["outbox", "relay", "--once"])
    down.extensions["lanterne.db"].dispose()
    assert result.exit_code == 1, result.output
    assert "The database does not answer" in result.output and "DATABASE_URL" in result.output
