"""The resident's loop through their mailbox, in a real browser at 390x844 (issue 15).

A resident files a report on ``/signaler`` from the phone (position from the mocked
geolocation, e-mail given, consent ticked) and lands on their own tracking page; an agent sets
it fixed with a public note on the staff page; the jobs scrub the note and mail the resident
through a real local SMTP server (aiosmtpd); the resident opens the tracking link of that mail,
answers "not fixed" with a comment, and sees the report reopened; the agent's page shows the
answer. Screenshots in ``test-artifacts/public_site/mail-loop-*.png``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import expect
from sqlmodel import Session, select

from backend.models import Report
from backend.services.staff import create_staff
from tests.conftest import PHONE, needs_chromium
from tests.notify_fixtures import SmtpServer, mailing, smtp_server  # noqa: F401 (fixtures)
from tests.public_site.test_resident_loop import AGENT, PASSWORD

pytestmark = [pytest.mark.browser, needs_chromium]

RESIDENT = "habitante.panier@example.org"
HERE = {"latitude": 43.2951, "longitude": 5.3740}  # the Vieux-Port
NOTE = "Lampe changée ce matin. Questions : Paul Martin au 06 12 34 56 78."


def drain(run_jobs: Callable[[], int]) -> None:
    """Run the jobs, and the jobs they queue, until none is left (a bounded number of rounds)."""
    for _ in range(10):
        if run_jobs() == 0:
            return
    pytest.fail("jobs kept queueing jobs")


def test_the_mail_of_a_fixed_report_leads_the_resident_to_reopen_it(
    app: Flask,
    live_server: str,
    chromium: object,
    session: Session,
    mailing: SmtpServer,  # noqa: F811
    run_jobs: Callable[[], int],
    artifacts: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from playwright.sync_api import Browser

    assert isinstance(chromium, Browser)
    # The mails' links lead to this server, as they lead to the city's site in production.
    monkeypatch.setitem(app.config, "PUBLIC_BASE_URL", live_server)
    create_staff(
        session=session, email=AGENT, role="agent", password=PASSWORD, service_codes=["streetlight"]
    )

    phone = chromium.new_context(
        **PHONE,  # type: ignore[arg-type]
        locale="fr-FR",
        geolocation=HERE,  # type: ignore[arg-type]
        permissions=["geolocation"],
    )
    resident = phone.new_page()
    resident.goto(f"{live_server}/signaler")
    resident.fill("#description", "Le lampadaire du quai est éteint depuis deux soirs")
    resident.select_option("#service_code", "streetlight")
    resident.click("#locate")
    # The page's CSP forbids eval (wait_for_function): Playwright's own assertion polls.
    expect(resident.locator("#lat")).not_to_have_value("", timeout=15_000)
    resident.fill("#contact_email", RESIDENT)
    resident.check("#contact_consent_notifications")
    resident.screenshot(path=str(artifacts / "mail-loop-1-form.png"), full_page=True)
    resident.click("#send")
    resident.wait_for_url(re.compile(r"/suivi/[^?]+\?t="))
    expect(resident.locator("#status")).to_have_text("Reçu")
    expect(resident.locator("#own-text")).to_contain_text("en cours de vérification")
    report = session.exec(select(Report)).one()
    assert report.lat == pytest.approx(HERE["latitude"])
    drain(run_jobs)  # classified, scrubbed, routed
    resident.reload()
    expect(resident.locator("#own-text")).to_contain_text("Le lampadaire du quai")
    resident.screenshot(path=str(artifacts / "mail-loop-2-filed.png"), full_page=True)

    desk = chromium.new_context(viewport={"width": 1280, "height": 900}, locale="fr-FR")
    agent = desk.new_page()
    agent.goto(f"{live_server}/staff/login")
    agent.fill("#email", AGENT)
    agent.fill("#password", PASSWORD)
    agent.click("button[type=submit]")
    agent.goto(f"{live_server}/staff/reports/{report.id}")
    agent.select_option("#status", "fixed")
    agent.fill("#public_note", NOTE)
    agent.click("text=Enregistrer le statut")
    expect(agent.locator("h1")).to_contain_text("réparé")
    drain(run_jobs)  # the note scrubbed and published, then the mails sent

    fixed_mails = [m for m in mailing.to(RESIDENT) if "Réglé" in str(m.message["Subject"])]
    assert len(fixed_mails) == 1, [str(m.message["Subject"]) for m in mailing.messages]
    text = fixed_mails[0].text()
    assert "Lampe changée ce matin." in text
    for secret in ("Paul Martin", "06 12 34 56 78"):
        assert secret not in text
    links = re.findall(r"https?://\S+/suivi/\S+", text)
    assert len(links) == 1, text
    assert links[0].startswith(f"{live_server}/suivi/{report.tracking_id}")

    mailbox = phone.new_page()  # the resident taps the link in the mail
    mailbox.goto(links[0])
    expect(mailbox.locator("#status")).to_have_text("Réglé")
    expect(mailbox.locator("body")).to_contain_text("Lampe changée ce matin.")
    mailbox.check("input[name=fixed][value=no]")
    mailbox.fill("#comment", "Toujours éteint ce soir au quai")
    mailbox.screenshot(path=str(artifacts / "mail-loop-3-from-the-mail.png"), full_page=True)
    mailbox.click("text=Envoyer ma réponse")
    expect(mailbox.locator("#reopened")).to_be_visible()
    expect(mailbox.locator("#status")).to_have_text("Ouvert")
    mailbox.screenshot(path=str(artifacts / "mail-loop-4-reopened.png"), full_page=True)
    session.expire_all()
    assert session.exec(select(Report)).one().status == "open"

    agent.reload()
    expect(agent.locator(".reopened")).to_contain_text("Rouvert par l'habitant")
    expect(agent.locator(".reopened")).to_contain_text("Toujours éteint ce soir au quai")
    agent.screenshot(path=str(artifacts / "mail-loop-5-staff.png"), full_page=True)
    phone.close()
    desk.close()
