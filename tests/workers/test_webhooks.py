"""Signed webhooks to a city's own SMS/push provider: managed by the CLI, one POST per update
per endpoint, verifiable by the receiver, no personal data, retried, never twice."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
import redis
from flask import Flask
from rq import Queue
from sqlmodel import Session, col, select

from backend.cli_webhooks import webhooks_group
from backend.jobs import DELIVER_WEBHOOK
from backend.models import Notification, OutboxMessage, ReportStatus
from backend.services import notifications, public_notes
from backend.services.contacts import ContactCipher
from backend.services.reports import set_status
from tests.notify_fixtures import Receiver, add_reporter, cipher, receiver  # noqa: F401
from tests.staff.triage_data import make_report
from workers import jobs
from workers.notifications import webhooks


def add_endpoint(app: Flask, url: str, description: str = "SMS de la Ville") -> tuple[int, str]:
    """``lanterne webhooks add`` as an operator types it: (id, secret printed)."""
    result = app.test_cli_runner().invoke(
        webhooks_group, ["add", url, "--description", description]
    )
    assert result.exit_code == 0, result.output
    secret = result.stdout.strip()
    [endpoint] = [e for e in notifications_list(app) if e.url == url]
    assert endpoint.id is not None
    return endpoint.id, secret


def notifications_list(app: Flask) -> list:  # type: ignore[type-arg]
    from backend.extensions import db

    with db.new_session() as session:
        return notifications.list_endpoints(session=session)


def test_a_status_change_is_posted_signed_and_without_personal_data(
    app: Flask,
    session: Session,
    cipher: ContactCipher,  # noqa: F811
    receiver: Receiver,  # noqa: F811
    run_jobs: Callable[[], int],
) -> None:
    endpoint_id, secret = add_endpoint(app, receiver.url)
    report = make_report(session)
    add_reporter(session, cipher, report, "habitante@example.org", consent=True)
    update = set_status(
        session=session,
        report=report,
        status=ReportStatus.IN_PROGRESS,
        public_note="Une équipe passe demain ; appelez Paul Martin au 06 12 34 56 78.",
    )
    public_notes.queue_scrubbing(session=session, update=update)
    session.commit()
    run_jobs()  # scrubbed and published: the webhook is queued only now
    assert receiver.hooks == []
    run_jobs()
    [hook] = receiver.hooks
    # What the receiver does: the HMAC of the raw body with the shared secret.
    assert webhooks.verify(secret, hook.body, hook.headers["X-Lanterne-Signature"])
    assert not webhooks.verify("another secret", hook.body, hook.headers["X-Lanterne-Signature"])
    body = hook.json()
    assert body["tracking_id"] == report.tracking_id
    assert body["tracking_url"] == f"https://lanterne.example/suivi/{report.tracking_id}?lang=fr"
    assert (body["status"], body["language"]) == ("in_progress", "fr")
    assert body["public_note"].startswith("Une équipe passe demain")
    assert int(hook.headers["X-Lanterne-Timestamp"]) == body["sent_at"]
    assert hook.headers["X-Lanterne-Delivery"] == body["delivery_id"]
    raw = hook.body.decode()
    for personal in ("habitante", "example.org", "06 12", "Paul Martin", "Rue de Rome"):
        assert personal not in raw
    assert update.id is not None
    # The job again (a retry, the outbox catch-up): nothing more is posted.
    assert jobs.deliver_webhook(update.id, endpoint_id)["skipped"] == 1
    assert len(receiver.hooks) == 1


def test_a_failing_receiver_is_retried_with_backoff_then_served_once(
    app: Flask,
    session: Session,
    receiver: Receiver,  # noqa: F811
    redis_client: redis.Redis,
    run_jobs: Callable[[], int],
) -> None:
    endpoint_id, secret = add_endpoint(app, receiver.url)
    report = make_report(session)
    update = set_status(session=session, report=report, status=ReportStatus.FIXED)
    session.commit()
    assert update.id is not None
    receiver.answers.extend([503])
    run_jobs()
    queue = Queue(DELIVER_WEBHOOK.queue, connection=redis_client)
    assert notifications.webhook_job_id(update.id, endpoint_id) in queue.scheduled_job_registry
    [row] = session.exec(select(Notification)).all()
    assert (row.status, row.last_error) == ("retry", "HTTP 503")
    assert jobs.deliver_webhook(update.id, endpoint_id)["sent"] == 1  # the retry, run now
    first, second = receiver.hooks
    assert first.headers["X-Lanterne-Delivery"] == second.headers["X-Lanterne-Delivery"]
    assert webhooks.verify(secret, second.body, second.headers["X-Lanterne-Signature"])


def test_a_receiver_that_refuses_for_good_is_not_retried(
    app: Flask,
    session: Session,
    receiver: Receiver,  # noqa: F811
) -> None:
    endpoint_id, _ = add_endpoint(app, receiver.url)
    report = make_report(session)
    update = set_status(session=session, report=report, status=ReportStatus.FIXED)
    session.commit()
    assert update.id is not None
    receiver.answers.append(410)
    assert jobs.deliver_webhook(update.id, endpoint_id)["failed"] == 1
    assert jobs.deliver_webhook(update.id, endpoint_id)["skipped"] == 1
    assert len(receiver.hooks) == 1


def test_the_cli_lists_and_disables_endpoints_and_refuses_bad_urls(
    app: Flask,
    session: Session,
    receiver: Receiver,  # noqa: F811
) -> None:
    runner = app.test_cli_runner()
    empty = runner.invoke(webhooks_group, ["list"])
    assert "No webhook endpoints" in empty.output
    endpoint_id, _ = add_endpoint(app, receiver.url, "Push de l'appli")
    listed = runner.invoke(webhooks_group, ["list"])
    assert f"{endpoint_id}\tactive\t{receiver.url}\tPush de l'appli" in listed.output
    bad = runner.invoke(webhooks_group, ["add", "ftp://example.org/x"])
    assert bad.exit_code != 0 and "not an http(s) URL" in bad.stderr
    missing = runner.invoke(webhooks_group, ["disable", "999"])
    assert missing.exit_code != 0 and "no webhook endpoint has the id 999" in missing.stderr
    disabled = runner.invoke(webhooks_group, ["disable", str(endpoint_id)])
    assert disabled.exit_code == 0 and "disabled" in disabled.output
    # No delivery is queued for an update after that.
    report = make_report(session)
    set_status(session=session, report=report, status=ReportStatus.FIXED)
    session.commit()
    session.expire_all()
    paths = [
        m.job_path for m in session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id)))
    ]
    assert DELIVER_WEBHOOK.path not in paths
    assert "disabled" in runner.invoke(webhooks_group, ["list"]).output


@pytest.mark.parametrize("body", [b'{"a":1}', json.dumps({"note": "é"}).encode()])
def test_the_signature_is_the_hmac_of_the_raw_body(body: bytes) -> None:
    import hashlib
    import hmac

    expected = "sha256=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    assert webhooks.sign("s3cret", body) == expected
