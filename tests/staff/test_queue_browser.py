"""The queue in a real browser at desktop size: select all, bulk assign; then two agents on
one report and the "changed meanwhile" answer that keeps the agent's input."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlmodel import Session
from werkzeug.serving import make_server

from backend.models import Report, StaffUser, Team
from backend.services import triage
from tests.conftest import needs_chromium
from tests.staff.conftest import PASSWORD
from tests.staff.triage_data import make_report

pytestmark = [pytest.mark.browser, needs_chromium]
PORTS = range(5150, 5160)  # this piece's own range on the shared machine


@pytest.fixture
def server(app: Flask) -> Iterator[str]:
    """The app over real HTTP, in a thread, on a free port of this piece's range.

    Not conftest's ``live_server``: pytest-flask's autouse request context reads ``.app`` on
    any fixture of that name, which a URL string has not (reported to the integrator).
    """
    for port in PORTS:
        try:
            httpd = make_server("127.0.0.1", port, app, threaded=True)
            break
        except OSError:
            continue
    else:
        pytest.skip("no free port in 5150-5159")
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    thread.join(timeout=5)


ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
DESKTOP = {"viewport": {"width": 1280, "height": 900}}
AGENT = "agent.nord@marseille.fr"


def test_select_all_bulk_assign_then_changed_meanwhile(
    server: str,
    chromium: Any,
    session: Session,
    make_staff: Callable[..., StaffUser],
) -> None:
    session.add(Team(code="nord", name="Feux Nord", department="roads"))
    session.commit()
    me = make_staff(AGENT, "agent", service_codes=["traffic_signal"], team_code="nord")
    colleague = make_staff("collegue@marseille.fr", "agent", service_codes=["traffic_signal"])
    reports = [make_report(session, description=f"Feu en panne n°{n}") for n in range(4)]
    for report in reports:
        report.team_code = "nord"
        session.add(report)
    session.commit()
    ARTIFACTS.mkdir(exist_ok=True)

    context = chromium.new_context(**DESKTOP, locale="fr-FR")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on(
        "console",
        lambda msg: errors.append(msg.text) if "Content Security Policy" in msg.text else None,
    )
    page.goto(f"{server}/staff/login")
    page.fill("input[name=email]", AGENT)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit] >> text=Se connecter")
    page.goto(f"{server}/staff/triage")
    assert page.locator("#tab-work").get_attribute("aria-current") == "page"
    assert page.locator('input[name="report_ids"]').count() == 4
    page.check("#select-all")  # shown and wired by the page's own script
    assert page.locator('input[name="report_ids"]:checked').count() == 4
    page.select_option("#bulk-action", "assign")
    page.select_option("#bulk-assignee", str(me.id))
    page.click("text=Appliquer à la sélection")
    page.wait_for_selector("text=Fait : 4 signalements modifiés.")
    page.screenshot(path=str(ARTIFACTS / "staff-queue-bulk-assigned.png"), full_page=True)
    session.expire_all()
    assert {session.get(Report, r.id).assignee_id for r in reports} == {me.id}  # type: ignore[union-attr]
    assert page.locator("#tab-mine .count").inner_text() == "(4)"

    # Two agents on one report: ours is open in the browser, the colleague saves first.
    target = reports[0]
    page.goto(f"{server}/staff/reports/{target.id}")
    page.select_option("#status", "fixed")
    page.fill("#public_note", "Lampe changée ce matin.")
    fresh = session.get(Report, target.id)
    assert fresh is not None
    triage.change_status(
        session=session, report=fresh, status="in_progress", public_note=None, staff=colleague
    )
    page.click("text=Enregistrer le statut")
    page.wait_for_selector("text=Quelqu'un a modifié ce signalement")
    assert "collegue@marseille.fr" in page.inner_text(".changes")
    assert page.input_value("#public_note") == "Lampe changée ce matin."  # nothing lost
    assert page.input_value("#status") == "fixed"
    page.screenshot(path=str(ARTIFACTS / "staff-report-changed-meanwhile.png"), full_page=True)
    page.click("text=Enregistrer le statut")  # saved again, now knowing what changed
    page.wait_for_selector("text=Statut enregistré.")
    session.expire_all()
    assert session.get(Report, target.id).status == "fixed"  # type: ignore[union-attr]
    assert errors == []  # the page's script ran under its CSP without a complaint
    context.close()
