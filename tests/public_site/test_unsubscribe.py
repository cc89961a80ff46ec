"""The unsubscribe link of every e-mail: a page that confirms, a POST that stops the e-mails
(and only them), the one-click POST of mail clients, and no page for a forged token."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import Session, select
from werkzeug.serving import make_server

from backend.models import Contact, Report, Subscription
from backend.services.contacts import ContactCipher
from tests.conftest import PHONE, needs_chromium
from tests.notify_fixtures import (  # noqa: F401 (fixtures)
    SmtpServer,
    add_follower,
    add_reporter,
    change,
    cipher,
    mailing,
    smtp_server,
)
from tests.staff.triage_data import make_report
from workers import jobs


def unsubscribe_path(server: SmtpServer) -> str:
    """The path of the unsubscribe link of the last e-mail received."""
    text = server.messages[-1].text()
    [url] = re.findall(r"https://lanterne\.example(/desabonner/\S+)", text)
    return str(url)


def notify(session: Session, report: Report, status: str) -> dict[str, int]:
    return jobs.notify_update(change(session, report, status))


def test_the_reporter_unsubscribes_from_the_link_and_hears_no_more(
    client: FlaskClient,
    session: Session,
    cipher: ContactCipher,  # noqa: F811
    mailing: SmtpServer,  # noqa: F811
) -> None:
    report = make_report(session)
    add_reporter(session, cipher, report, "habitante@example.org", consent=True)
    assert notify(session, report, "in_progress")["sent"] == 1
    path = unsubscribe_path(mailing)

    page = client.get(path)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Ne plus recevoir de courriels sur ce signalement" in html
    assert page.headers["Cache-Control"] == "no-store"
    assert page.headers["Referrer-Policy"] == "no-referrer"
    # Looking at the page changes nothing: only the button does.
    assert notify(session, report, "fixed")["sent"] == 1

    done = client.post(path)
    assert done.status_code == 200
    assert "vous ne recevrez plus de courriels" in done.get_data(as_text=True)
    closed = notify(session, report, "closed")
    assert (closed["sent"], closed["skipped"], closed["failed"]) == (0, 0, 0)
    assert len(mailing.messages) == 2
    # The contact details and the report stay; only the consent went.
    session.expire_all()
    contact = session.exec(select(Contact)).one()
    assert contact.consent_notifications is False
    assert client.get(f"/suivi/{report.tracking_id}").status_code == 200
    again = client.get(path)
    assert "Vous ne recevez déjà plus de courriels" in again.get_data(as_text=True)


def test_a_follower_unsubscribes_in_one_click_and_keeps_their_plus_one(
    client: FlaskClient,
    session: Session,
    cipher: ContactCipher,  # noqa: F811
    mailing: SmtpServer,  # noqa: F811
) -> None:
    report = make_report(session)
    add_follower(session, cipher, report, "visitor@example.com", language="en")
    notify(session, report, "in_progress")
    path = unsubscribe_path(mailing)
    assert path.endswith("?lang=en")
    page = client.get(path)
    assert "Receive no more e-mails about this report" in page.get_data(as_text=True)
    # RFC 8058: the mail client POSTs this body to the List-Unsubscribe address.
    one_click = client.post(path, data={"List-Unsubscribe": "One-Click"})
    assert one_click.status_code == 200
    session.expire_all()
    follower = session.exec(select(Subscription)).one()
    assert follower.unsubscribed_at is not None  # the row, hence the +1, stays
    assert notify(session, report, "fixed")["sent"] == 0
    assert len(mailing.messages) == 1


def test_a_forged_or_unknown_token_is_a_404_page(client: FlaskClient, session: Session) -> None:
    report = make_report(session)
    for token in ("eyJyIjoxfQ.forged", "nothing-like-a-token", "x" * 300):
        page = client.get(f"/desabonner/{token}")
        assert page.status_code == 404, token
        assert "lien de désabonnement n’est pas valable" in page.get_data(as_text=True)
        assert client.post(f"/desabonner/{token}").status_code == 404
    assert report.tracking_id not in client.get("/desabonner/nothing-like-a-token").get_data(
        as_text=True
    )


@pytest.fixture
def site(app: Flask) -> Iterator[str]:
    """The app on a free loopback port, in a thread (the shared ``live_server`` fixture's
    name is taken by pytest-flask's own, whose autouse hook then fails on a plain URL)."""
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    thread.join(timeout=5)


@pytest.mark.browser
@needs_chromium
def test_on_a_phone_the_link_of_the_mail_stops_the_mails(
    site: str,
    chromium: Any,
    session: Session,
    cipher: ContactCipher,  # noqa: F811
    mailing: SmtpServer,  # noqa: F811
) -> None:
    """The e-mail the SMTP server received, its link opened on a 390×844 phone, the button."""
    report = make_report(session)
    add_reporter(session, cipher, report, "habitante@example.org", consent=True)
    notify(session, report, "in_progress")
    path = unsubscribe_path(mailing)
    artifacts = Path("test-artifacts/notifications")
    artifacts.mkdir(parents=True, exist_ok=True)
    context = chromium.new_context(**PHONE)
    page = context.new_page()
    page.goto(site + path)
    page.screenshot(path=str(artifacts / "unsubscribe-phone.png"), full_page=True)
    button = page.get_by_role("button", name="Ne plus recevoir de courriels sur ce signalement")
    assert button.is_visible()
    box = button.bounding_box()
    assert box is not None and box["x"] + box["width"] <= 390  # fits the phone's width
    button.click()
    page.wait_for_load_state()
    assert page.get_by_role("status").inner_text().startswith("C’est fait")
    page.screenshot(path=str(artifacts / "unsubscribed-phone.png"), full_page=True)
    context.close()
    assert notify(session, report, "fixed")["sent"] == 0
