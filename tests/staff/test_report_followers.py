"""Staff see how many residents follow a report (its "+1"s) on the report page."""

from __future__ import annotations

from collections.abc import Callable

from flask.testing import FlaskClient
from sqlmodel import Session

from backend.models import StaffUser
from tests.staff.test_triage_pages import page, signed_in_agent
from tests.staff.triage_data import make_report


def test_the_report_page_shows_its_followers(
    client: FlaskClient, session: Session, make_staff: Callable[..., StaffUser]
) -> None:
    report = make_report(session, hint="streetlight")
    session.commit()
    signed_in_agent(client, make_staff)
    assert '<dd id="followers">0</dd>' in page(client, f"/staff/reports/{report.id}")
    url = f"/api/v1/reports/{report.tracking_id}/follow"
    client.post(url, json={"email": "a@example.org", "consent": True})
    client.post(url, json={})
    shown = page(client, f"/staff/reports/{report.id}")
    assert "Habitants qui le suivent (+1)" in shown
    assert '<dd id="followers">2</dd>' in shown
