"""The catch-up (``outbox.dispatch_pending``) against real RQ states in a real Redis: a job
that RQ says it holds but does not is pushed again; one it really holds is left alone."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import timedelta

import redis
from flask import Flask
from rq import Queue
from rq.job import Job, JobStatus
from sqlmodel import Session, select

from backend.models import OutboxMessage, Report
from backend.services import outbox

BODY = {"description": "Lampadaire éteint rue de Rome", "lat": 43.2951, "lon": 5.3800}


def _age_rows(session: Session) -> None:
    """Put every row past the catch-up's grace period (it leaves young rows to the relay)."""
    for message in session.exec(select(OutboxMessage)).all():
        message.created_at = message.created_at - timedelta(minutes=1)
    session.commit()


def _drain(session: Session, redis_client: redis.Redis) -> int:
    return outbox.dispatch_pending(session=session, connection=redis_client)


def test_a_job_taken_from_its_queue_by_a_worker_that_died_is_pushed_again(
    client: Flask,
    session: Session,
    redis_client: redis.Redis,
    relay: Callable[[], int],
    run_jobs: Callable[[], int],
) -> None:
    client.post("/api/v1/reports", json=BODY)
    assert relay() == 1
    _age_rows(session)
    assert _drain(session, redis_client) == 0  # queued in its queue: held
    queue = Queue("reports", connection=redis_client)
    # What a worker does first (RQ's own dequeue), then dies before it starts the job: the
    # job says "queued" but sits in no queue.
    job, _ = Queue.dequeue_any([queue], None, connection=redis_client)  # type: ignore[misc]
    assert job.get_status() == JobStatus.QUEUED and queue.job_ids == []

    assert _drain(session, redis_client) == 1
    assert queue.job_ids == [job.id]
    assert _drain(session, redis_client) == 0  # pushed once
    assert run_jobs() == 1
    session.expire_all()
    assert session.exec(select(Report)).one().predicted_code is not None
    assert outbox.pending_count(session=session) == 0


def test_a_job_started_by_a_worker_killed_mid_job_is_pushed_again(
    app: Flask, session: Session, redis_client: redis.Redis
) -> None:
    # A job that runs long enough to be killed in the middle (a real RQ worker process).
    outbox.add_job(
        session=session, job_path="time.sleep", args=[120], job_id="slow-1", queue="default"
    )
    session.commit()
    assert outbox.relay_all(engine=session.get_bind(), connection=redis_client) == 1  # type: ignore[arg-type]
    _age_rows(session)
    worker = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "rq.cli", "worker", "--burst", "--url", app.config["REDIS_URL"]]
        + ["--worker-class", "rq.SimpleWorker", "default"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while Job.fetch("slow-1", connection=redis_client).get_status() != JobStatus.STARTED:
            assert worker.poll() is None and time.monotonic() < deadline, "the job never started"
            time.sleep(0.1)
        assert _drain(session, redis_client) == 0  # started by a live worker: held
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait()
        # RQ still says "started" (and keeps the worker's key until its heartbeat expires).
        assert Job.fetch("slow-1", connection=redis_client).get_status() == JobStatus.STARTED
        assert _drain(session, redis_client) == 1
        assert Queue("default", connection=redis_client).job_ids == ["slow-1"]
        assert _drain(session, redis_client) == 0
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()


def test_a_job_whose_data_redis_lost_is_pushed_again(
    client: Flask, session: Session, redis_client: redis.Redis, relay: Callable[[], int]
) -> None:
    client.post("/api/v1/reports", json=BODY)
    assert relay() == 1
    _age_rows(session)
    report = session.exec(select(Report)).one()
    job_id = f"process-report-{report.id}"
    redis_client.delete(Job.key_for(job_id))  # the job's data gone, its queue entry left
    assert _drain(session, redis_client) == 1
    assert Job.fetch(job_id, connection=redis_client).get_status() == JobStatus.QUEUED
