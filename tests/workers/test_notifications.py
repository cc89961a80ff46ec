"""Residents hear back: e-mails on each status change and public note, received by a real
SMTP server (aiosmtpd), in their language, with their links; never twice; retried when the
server is down; the questionnaire invitation; development's .eml folder."""

from __future__ import annotations

import logging
import smtplib
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient
from rq import Queue
from sqlmodel import Session, col, select

from backend.db import utcnow
from backend.jobs import NOTIFY_UPDATE
from backend.models import (
    Feedback,
    Notification,
    OutboxMessage,
    ReportStatus,
    ReportUpdate,
)
from backend.services import notifications
from backend.services.contacts import ContactCipher
from tests.notify_fixtures import (  # noqa: F401 (fixtures)
    SmtpServer,
    add_follower,
    add_reporter,
    change,
    cipher,
    mailing,
    smtp_server,
)
from tests.staff.triage_data import make_report, token_for
from workers import jobs

BASE = "https://lanterne.example"  # the tests' PUBLIC_BASE_URL


def rows(session: Session) -> list[Notification]:
    session.expire_all()
    return list(session.exec(select(Notification).order_by(col(Notification.id))))


def test_a_staff_status_change_mails_the_reporter_in_french_with_the_published_note(
    client: FlaskClient,
    session: Session,
    cipher: ContactCipher,  # noqa: F811
    mailing: SmtpServer,  # noqa: F811
    run_jobs: Callable[[], int],
) -> None:
    report = make_report(session)
    add_reporter(session, cipher, report, "habitante@example.org", consent=True)
    agent = token_for(session, "agent.feux@marseille.fr", "agent", service_codes=["traffic_signal"])
    answer = client.post(
        f"/api/v1/staff/reports/{report.id}/status",
        json={
            "status": "in_progress",
            "public_note": "Une équipe passe demain. Questions : Paul Martin au 06 12 34 56 78.",
        },
        headers=agent,
    )
    assert answer.status_code == 200, answer.json
    run_jobs()  # the scrubbing publishes the note, and queues the e-mail in its transaction
    assert mailing.messages == []
    run_jobs()
    [mail] = mailing.messages
    assert mail.rcpt_tos == ["habitante@example.org"]
    message = mail.message
    assert message["To"] == "habitante@example.org"
    assert message["From"] == "Ville de Marseille <signalements@marseille.fr>"
    assert message["Subject"] == "Votre signalement\u202f: En cours"
    assert message["Content-Language"] == "fr"
    assert message["Message-ID"].endswith("@marseille.fr>")
    text = mail.text()
    assert "Bonjour," in text
    assert "Feu tricolore défectueux" in text  # the category, in French
    assert "Une équipe passe demain." in text
    # Only the scrubbed note leaves: no name, no phone number.
    for secret in ("06 12 34 56 78", "Paul Martin", "0612345678"):
        assert secret not in text and secret not in mail.html()
    tracking = f"{BASE}/suivi/{report.tracking_id}?lang=fr"
    assert tracking in text and f'href="{tracking}"' in mail.html()
    [unsubscribe] = [line for line in text.splitlines() if "/desabonner/" in line]
    assert unsubscribe.startswith(f"{BASE}/desabonner/")
    assert message["List-Unsubscribe"].strip() == f"<{unsubscribe}>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    [row] = rows(session)
    assert (row.status, row.attempts, row.channel) == ("sent", 1, "email")
    assert "habitante" not in row.recipient  # the keyed hash, never the address


def test_followers_in_their_language_and_nobody_without_consent_or_after_unsubscribing(
    session: Session,
    cipher: ContactCipher,  # noqa: F811
    mailing: SmtpServer,  # noqa: F811
    run_jobs: Callable[[], int],
) -> None:
    report = make_report(session)
    add_reporter(session, cipher, report, "sans.accord@example.org", consent=False)
    add_follower(session, cipher, report, "visitor@example.com", language="en")
    add_follower(session, cipher, report, "muet@example.org", consent=False)
    add_follower(session, cipher, report, None)  # a +1 only
    gone = add_follower(session, cipher, report, "parti@example.org")
    gone.unsubscribed_at = utcnow()
    session.add(gone)
    session.commit()
    change(session, report, "fixed")
    run_jobs()
    [mail] = mailing.messages
    assert mail.rcpt_tos == ["visitor@example.com"]
    assert mail.message["Subject"] == "A report you follow: Fixed"
    assert mail.message["Content-Language"] == "en"
    text = mail.text()
    assert "A report you follow (Traffic signal fault) is now: Fixed." in text
    assert f"{BASE}/suivi/{report.tracking_id}?lang=en" in text
    assert "/desabonner/" in text and "?lang=en" in mail.message["List-Unsubscribe"]


def test_no_job_at_all_when_nobody_asked_to_hear_back(
    session: Session,
    cipher: ContactCipher,  # noqa: F811
) -> None:
    report = make_report(session)
    add_reporter(session, cipher, report, "sans.accord@example.org", consent=False)
    change(session, report, "in_progress")
    paths = [m.job_path for m in session.exec(select(OutboxMessage))]
    assert NOTIFY_UPDATE.path not in paths


def test_the_job_run_twice_sends_once(
    session: Session,
    cipher: ContactCipher,  # noqa: F811
    mailing: SmtpServer,  # noqa: F811
) -> None:
    report = make_report(session)
    add_reporter(session, cipher, report, "habitante@example.org", consent=True)
    add_follower(session, cipher, report, "voisin@example.org")
    update_id = change(session, report, "in_progress")
    first = jobs.notify_update(update_id)
    second = jobs.notify_update(update_id)
    assert (first["sent"], second["sent"], second["skipped"]) == (2, 0, 2)
    assert sorted(m.rcpt_tos[0] for m in mailing.messages) == [
        "habitante@example.org",
        "voisin@example.org",
    ]


def test_the_same_person_as_reporter_and_follower_gets_one_mail(
    session: Session,
    cipher: ContactCipher,  # noqa: F811
    mailing: SmtpServer,  # noqa: F811
) -> None:
    report = make_report(session)
    add_reporter(session, cipher, report, "habitante@example.org", consent=True)
    add_follower(session, cipher, report, "Habitante@example.org")
    jobs.notify_update(change(session, report, "in_progress"))
    assert len(mailing.messages) == 1
    assert "Votre signalement" in mailing.messages[0].message["Subject"]


def test_smtp_down_the_job_is_retried_with_backoff_and_the_mail_goes_once_back(
    session: Session,
    cipher: ContactCipher,  # noqa: F811
    mailing: SmtpServer,  # noqa: F811
    redis_client: redis.Redis,
    run_jobs: Callable[[], int],
) -> None:
    report = make_report(session)
    add_reporter(session, cipher, report, "habitante@example.org", consent=True)
    update_id = change(session, report, "in_progress")
    mailing.stop()
    run_jobs()
    # The job failed, and RQ holds it for a retry later (backoff), nothing was lost.
    queue = Queue(NOTIFY_UPDATE.queue, connection=redis_client)
    job_id = notifications.notify_job_id(update_id)
    assert job_id in queue.scheduled_job_registry
    [row] = rows(session)
    assert row.status == "retry" and "Connection" in (row.last_error or "")
    mailing.start()
    result = jobs.notify_update(update_id)  # the retry, run now rather than in 10 s
    assert result["sent"] == 1
    assert [m.rcpt_tos for m in mailing.messages] == [["habitante@example.org"]]
    [row] = rows(session)
    assert (row.status, row.attempts) == ("sent", 2)


def test_an_address_the_server_refuses_is_given_up_and_the_others_still_go(
    session: Session,
    cipher: ContactCipher,  # noqa: F811
    mailing: SmtpServer,  # noqa: F811
) -> None:
    report = make_report(session)
    add_reporter(session, cipher, report, "inconnu@example.org", consent=True)
    add_follower(session, cipher, report, "voisin@example.org")
    mailing.refused.add("inconnu@example.org")
    result = jobs.notify_update(change(session, report, "fixed"))
    assert (result["sent"], result["failed"]) == (1, 1)
    assert [m.rcpt_tos for m in mailing.messages] == [["voisin@example.org"]]
    statuses = sorted(r.status for r in rows(session))
    assert statuses == ["failed", "sent"]
    assert jobs.notify_update(change(session, report, "closed"))["failed"] == 1


def test_a_worker_that_died_mid_send_is_taken_over_with_the_same_message_id(
    app: Flask,
    session: Session,
    cipher: ContactCipher,  # noqa: F811
    mailing: SmtpServer,  # noqa: F811
) -> None:
    report = make_report(session)
    add_reporter(session, cipher, report, "habitante@example.org", consent=True)
    update_id = change(session, report, "in_progress")
    jobs.notify_update(update_id)
    [row] = rows(session)
    first_id = mailing.messages[0].message["Message-ID"]
    # As a worker killed between booking and hearing the answer leaves it: "sending".
    row.status = "sending"
    row.updated_at = utcnow()
    session.add(row)
    session.commit()
    # While it may still be running elsewhere, nobody sends: the job is tried again later.
    with pytest.raises(Exception, match="under way"):
        jobs.notify_update(update_id)
    assert len(mailing.messages) == 1
    # Once older than any send may take, it is taken over: the copy has the same Message-ID.
    row = rows(session)[0]
    row.updated_at = utcnow() - timedelta(minutes=5)
    session.add(row)
    session.commit()
    assert jobs.notify_update(update_id)["resent"] == 1
    assert [m.message["Message-ID"] for m in mailing.messages] == [first_id, first_id]
    assert rows(session)[0].status == "sent"


def test_the_reporter_is_invited_to_the_questionnaire_once_n_days_after_fixed(
    session: Session,
    cipher: ContactCipher,  # noqa: F811
    mailing: SmtpServer,  # noqa: F811
) -> None:
    due = make_report(session)
    add_reporter(session, cipher, due, "habitante@example.org", consent=True)
    recent = make_report(session)
    add_reporter(session, cipher, recent, "recente@example.org", consent=True)
    answered = make_report(session)
    add_reporter(session, cipher, answered, "repondu@example.org", consent=True)
    silent = make_report(session)
    add_reporter(session, cipher, silent, "muet@example.org", consent=False)
    for report, days in ((due, 4), (recent, 1), (answered, 4), (silent, 4)):
        assert report.id is not None
        report.status = ReportStatus.FIXED
        session.add(report)
        when = utcnow() - timedelta(days=days)
        session.add(ReportUpdate(report_id=report.id, status="fixed", created_at=when))
    assert answered.id is not None
    session.add(Feedback(report_id=answered.id, fixed=True))
    session.commit()
    assert jobs.invite_questionnaires()["sent"] == 1
    [mail] = mailing.messages
    assert mail.rcpt_tos == ["habitante@example.org"]
    assert mail.message["Subject"] == "Est-ce vraiment réglé\u202f?"
    assert f"{BASE}/suivi/{due.tracking_id}?lang=fr#questionnaire" in mail.text()
    assert mail.message["List-Unsubscribe"].strip().startswith(f"<{BASE}/desabonner/")
    assert jobs.invite_questionnaires()["sent"] == 0  # once only
    assert len(mailing.messages) == 1


def test_without_an_smtp_url_mails_are_eml_files_and_a_line_on_the_log(
    app: Flask,
    session: Session,
    cipher: ContactCipher,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setitem(app.config, "SMTP_URL", None)
    monkeypatch.setitem(app.config, "MAIL_PATH", tmp_path / "mail")
    report = make_report(session)
    add_reporter(session, cipher, report, "habitante@example.org", consent=True)
    with caplog.at_level(logging.INFO, logger="workers.notifications.mail"):
        assert jobs.notify_update(change(session, report, "fixed"))["sent"] == 1
    [eml] = list((tmp_path / "mail").glob("*.eml"))
    content = eml.read_text()
    assert "To: habitante@example.org" in content and "List-Unsubscribe:" in content
    assert str(eml) in caplog.text


def test_the_smtp_url_forms_are_understood() -> None:
    from workers.notifications.mail import parse_smtp_url

    plain = parse_smtp_url("smtp://mailer:p%40ss@mail.example.org:2525")
    assert (plain.host, plain.port, plain.security) == ("mail.example.org", 2525, "none")
    assert (plain.username, plain.password) == ("mailer", "p@ss")
    assert parse_smtp_url("smtps://mail.example.org").port == 465
    assert parse_smtp_url("smtp+starttls://mail.example.org").security == "starttls"
    with pytest.raises(ValueError, match="LANTERNE_SMTP_URL"):
        parse_smtp_url("http://mail.example.org")


class WorkerKilledError(BaseException):
    """Stands for kill -9 at one point of the SMTP conversation: nothing after it runs (not
    an Exception, so no ``except Exception`` of the code under test catches it), and the
    connection is closed as the kernel closes a dead process's sockets."""


def wait_for_messages(server: SmtpServer, count: int) -> None:
    """aiosmtpd answers in its own thread: wait (bounded) until it has handled ``count``."""
    deadline = time.monotonic() + 10
    while len(server.messages) < count and time.monotonic() < deadline:
        time.sleep(0.05)


def age(session: Session, row: Notification) -> None:
    """As the row looks once older than any send may take (the takeover's condition)."""
    row.updated_at = utcnow() - timedelta(minutes=5)
    session.add(row)
    session.commit()


def test_killed_before_the_final_dot_the_server_keeps_nothing_and_the_retry_sends_once(
    session: Session,
    cipher: ContactCipher,  # noqa: F811
    mailing: SmtpServer,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    report = make_report(session)
    add_reporter(session, cipher, report, "habitante@example.org", consent=True)
    update_id = change(session, report, "in_progress")

    def die(**_: object) -> None:
        raise WorkerKilledError  # the whole message is on the wire, not its final "."

    with monkeypatch.context() as patch, pytest.raises(WorkerKilledError):
        patch.setattr(notifications, "mark_committing", die)
        jobs.notify_update(update_id)
    [row] = rows(session)
    assert row.status == "sending"
    # The connection closed mid-DATA: the server discarded the unfinished message. A QUIT
    # on a fresh connection proves the server went through the dead one first.
    smtplib.SMTP("127.0.0.1", mailing.port, timeout=5).quit()
    assert mailing.messages == []
    age(session, row)
    result = jobs.notify_update(update_id)
    assert (result["sent"], result["uncertain"]) == (1, 0)
    assert [m.rcpt_tos for m in mailing.messages] == [["habitante@example.org"]]
    [row] = rows(session)
    assert (row.status, row.attempts) == ("sent", 2)


def test_killed_after_the_final_dot_the_mail_is_never_sent_again_and_marked_uncertain(
    session: Session,
    cipher: ContactCipher,  # noqa: F811
    mailing: SmtpServer,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    report = make_report(session)
    add_reporter(session, cipher, report, "habitante@example.org", consent=True)
    add_follower(session, cipher, report, "voisin@example.org")
    update_id = change(session, report, "in_progress")
    real_send = smtplib.SMTP.send

    def send_then_die(smtp: smtplib.SMTP, data: str | bytes) -> None:
        real_send(smtp, data)
        if data == b".\r\n":
            raise WorkerKilledError  # the dot went; the server's 250 is never read

    with monkeypatch.context() as patch, pytest.raises(WorkerKilledError):
        patch.setattr(smtplib.SMTP, "send", send_then_die)
        jobs.notify_update(update_id)
    wait_for_messages(mailing, 1)
    assert len(mailing.messages) == 1  # the server took it, its answer never arrived
    first = mailing.messages[0]
    [row] = rows(session)  # the second recipient was never reached
    assert row.status == "committing"
    # Young, it may be an attempt still waiting for its answer: nobody touches it.
    with pytest.raises(Exception, match="under way"):
        jobs.notify_update(update_id)
    age(session, row)
    with caplog.at_level(logging.WARNING):
        result = jobs.notify_update(update_id)
    assert (result["sent"], result["uncertain"], result["resent"]) == (1, 1, 0)
    assert "may be missing" in caplog.text
    # No copy for the first recipient; the second one got theirs.
    received = sorted(m.rcpt_tos[0] for m in mailing.messages)
    assert received == ["habitante@example.org", "voisin@example.org"]
    assert mailing.messages[0] is first
    statuses = {r.recipient: r.status for r in rows(session)}
    assert sorted(statuses.values()) == ["sent", "uncertain"]
    # And it stays so: a later run sends nothing.
    later = jobs.notify_update(update_id)
    assert (later["sent"], later["skipped"]) == (0, 2)
    assert len(mailing.messages) == 2


def test_no_answer_after_the_final_dot_is_uncertain_not_retried(
    session: Session,
    cipher: ContactCipher,  # noqa: F811
    mailing: SmtpServer,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    report = make_report(session)
    add_reporter(session, cipher, report, "habitante@example.org", consent=True)
    update_id = change(session, report, "in_progress")
    real_send = smtplib.SMTP.send
    dot_sent = False

    def send_and_note_the_dot(smtp: smtplib.SMTP, data: str | bytes) -> None:
        nonlocal dot_sent
        real_send(smtp, data)
        dot_sent = dot_sent or data == b".\r\n"

    real_getreply = smtplib.SMTP.getreply

    def line_lost_after_the_dot(smtp: smtplib.SMTP) -> tuple[int, bytes]:
        if dot_sent:
            raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")
        return real_getreply(smtp)

    with monkeypatch.context() as patch:
        patch.setattr(smtplib.SMTP, "send", send_and_note_the_dot)
        patch.setattr(smtplib.SMTP, "getreply", line_lost_after_the_dot)
        result = jobs.notify_update(update_id)
    assert (result["sent"], result["uncertain"]) == (0, 1)
    [row] = rows(session)
    assert row.status == "uncertain" and "no answer" in (row.last_error or "")
    age(session, row)
    again = jobs.notify_update(update_id)
    assert (again["sent"], again["skipped"]) == (0, 1)  # not sent again
    assert len(mailing.messages) <= 1
