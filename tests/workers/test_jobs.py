"""The report pipeline through a real RQ worker and a real Redis, and the outbox."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient
from rq import Queue
from sqlmodel import Session, select

from backend.models import OutboxMessage, Report
from tests.conftest import make_test_app

BODY = {"description": "Lampadaire éteint rue de Rome", "lat": 43.2951, "lon": 5.3800}


def test_new_report_is_relayed_to_rq_and_processed_by_the_worker_but_stays_received(
    client: FlaskClient,
    session: Session,
    redis_client: object,
    relay: Callable[[], int],
    run_jobs: Callable[[], int],
) -> None:
    tracking = client.post("/api/v1/reports", json=BODY).json["tracking_id"]
    queue = Queue("reports", connection=redis_client)  # type: ignore[arg-type]
    report = session.exec(select(Report)).one()
    assert queue.job_ids == []  # intake only writes the outbox row
    assert relay() == 1
    assert queue.job_ids == [f"process-report-{report.id}"]
    assert relay() == 0  # claimed once
    message = session.exec(select(OutboxMessage)).one()
    assert (message.attempts, message.done_at) == (1, None)
    assert message.dispatched_at is not None
    assert run_jobs() == 1
    session.expire_all()
    assert session.exec(select(OutboxMessage)).one().done_at is not None
    body = client.get(f"/api/v1/reports/{tracking}").json
    # Classified and scrubbed, yet nobody at the city has read it: still "received".
    assert session.exec(select(Report)).one().predicted_code is not None
    assert body["status"] == "received"
    assert [h["status"] for h in body["history"]] == ["received"]


def test_the_job_is_safe_to_run_twice(
    client: FlaskClient, session: Session, run_jobs: Callable[[], int]
) -> None:
    from workers.jobs import process_report

    tracking = client.post("/api/v1/reports", json=BODY).json["tracking_id"]
    run_jobs()
    report = session.exec(select(Report)).one()
    process_report(report.id)
    assert len(client.get(f"/api/v1/reports/{tracking}").json["history"]) == 1
    assert process_report(10_000_000)["status"] == "missing"


def test_redis_down_still_accepts_and_the_outbox_drains_when_it_is_back(
    app: Flask,
    database_url: str,
    instance_path: Path,
    session: Session,
    redis_client: object,
    run_jobs: Callable[[], int],
) -> None:
    # Port 9 (discard) on loopback: nothing answers, as when Redis is down.
    down = make_test_app(
        database_url,
        "redis://127.0.0.1:9/0",
        instance_path,
        RATELIMIT_STORAGE_URI="memory://",
    )
    with down.test_client() as phone:
        response = phone.post("/api/v1/reports", json=BODY)
    down.extensions["lanterne.db"].dispose()
    assert response.status_code == 201
    pending = session.exec(select(OutboxMessage)).one()
    assert pending.done_at is None
    # The scheduled catch-up leaves rows younger than its grace period to the relay.
    from workers.jobs import drain_outbox

    assert drain_outbox() == 0
    pending.created_at = pending.created_at - timedelta(seconds=30)
    session.commit()

    # Redis is back: the scheduled relay pushes the job once, the worker runs it.
    assert drain_outbox() == 1
    assert drain_outbox() == 0  # already queued in RQ: not pushed twice
    assert run_jobs() == 1
    session.expire_all()
    assert session.exec(select(Report)).one().predicted_code is not None
    assert session.exec(select(OutboxMessage)).one().done_at is not None
    assert drain_outbox() == 0


def test_cli_outbox_drain_reports_what_it_sent(app: Flask, session: Session) -> None:
    from backend.cli import main
    from backend.services import outbox

    outbox.add_job(session=session, job_path="workers.jobs.process_report", args=[1], job_id="x-1")
    session.commit()
    message = session.exec(select(OutboxMessage)).one()
    message.created_at = message.created_at - timedelta(minutes=1)  # past the grace period
    session.commit()
    result = app.test_cli_runner().invoke(main, ["outbox", "drain"])
    assert result.exit_code == 0, result.output
    assert "1 jobs pushed to RQ; 1 not done yet" in result.output


def test_cli_outbox_drain_says_what_to_do_when_redis_is_down(
    app: Flask, database_url: str, instance_path: Path
) -> None:
    from backend.cli import main

    down = make_test_app(database_url, "redis://127.0.0.1:9/0", instance_path)
    with down.app_context():  # the command runs in the app whose Redis is down
        result = down.test_cli_runner().invoke(main, ["outbox", "drain"])
    down.extensions["lanterne.db"].dispose()
    assert result.exit_code == 1, result.output
    assert "Redis does not answer" in result.output and "run this again" in result.output


def test_a_job_for_a_deleted_report_is_done_not_resent(
    client: FlaskClient, session: Session, run_jobs: Callable[[], int]
) -> None:
    from backend.services import outbox

    client.post("/api/v1/reports", json=BODY)
    report = session.exec(select(Report)).one()
    session.delete(report)  # withdrawn before the worker got to it
    session.commit()
    assert run_jobs() == 1
    session.expire_all()
    assert outbox.pending_count(session=session) == 0


def test_a_detection_queued_through_the_outbox_marks_its_row_done(
    session: Session, run_jobs: Callable[[], int]
) -> None:
    # The demo queues a first detection this way; a row never marked done would be pushed
    # again by the catch-up, and the detection would run again and again.
    from backend.jobs import DETECT_SIGNALS
    from backend.services import outbox

    outbox.add_job(
        session=session,
        job_path=DETECT_SIGNALS.path,
        args=[],
        job_id="detect-signals-test",
        queue=DETECT_SIGNALS.queue,
    )
    session.commit()
    assert run_jobs() == 1
    session.expire_all()
    assert session.exec(select(OutboxMessage)).one().done_at is not None
