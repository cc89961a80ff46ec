"""The services' dashboard: exact figures on known reports, scope by role, CSV, API."""

from __future__ import annotations

import csv
import html
import io
import re
from collections.abc import Callable
from datetime import timedelta

import pytest
from flask.testing import FlaskClient
from sqlmodel import Session, select

from backend.db import utcnow
from backend.models import (
    AuditLog,
    Feedback,
    Report,
    ReportUpdate,
    Service,
    StaffSnapshot,
    StaffUser,
)
from tests.staff.conftest import login
from tests.staff.triage_data import make_report, token_for

SUPERVISOR = "chef.voirie@marseille.fr"  # department "roads": traffic_signal, road_sign...


def fixed_report(session: Session, *, days_to_fix: float, reopened: bool = False) -> Report:
    """A traffic-signal report received 10 days ago and fixed ``days_to_fix`` days later."""
    created = utcnow() - timedelta(days=10)
    report = make_report(session, created=created, status="open")
    closed = created + timedelta(days=days_to_fix)
    assert report.id is not None
    steps = []
    if reopened:
        steps += [("fixed", created + timedelta(hours=6)), ("open", created + timedelta(hours=12))]
    steps.append(("fixed", closed))
    for status, at in steps:
        session.add(ReportUpdate(report_id=report.id, status=status, created_at=at))
    report.status, report.closed_at = "fixed", closed
    session.add(report)
    session.commit()
    return report


@pytest.fixture
def known(session: Session) -> dict[str, Report]:
    """Two open traffic-signal reports (one late), three fixed ones, one graffiti."""
    reports = {
        "fresh": make_report(session, created=utcnow() - timedelta(hours=20)),
        "late": make_report(session, created=utcnow() - timedelta(days=30)),
        "one": fixed_report(session, days_to_fix=1, reopened=True),
        "two": fixed_report(session, days_to_fix=2),
        "four": fixed_report(session, days_to_fix=4),
        "tag": make_report(session, code="graffiti", created=utcnow() - timedelta(days=2)),
    }
    # Due dates as the routing sets them at intake (the service's target after arrival).
    reports["fresh"].due_at = utcnow() + timedelta(days=1)
    reports["late"].due_at = utcnow() - timedelta(days=20)
    session.add_all([reports["fresh"], reports["late"]])
    session.add(Feedback(report_id=reports["two"].id, fixed=True, satisfaction=4))  # type: ignore[arg-type]
    session.add(Feedback(report_id=reports["four"].id, fixed=False, satisfaction=2))  # type: ignore[arg-type]
    session.commit()
    return reports


def row_of(view: dict, code: str) -> dict:
    [row] = [r for r in view["services"] if r["service_code"] == code]
    return row


def test_the_api_gives_the_exact_figures_per_service_within_the_supervisors_department(
    client: FlaskClient, session: Session, known: dict[str, Report]
) -> None:
    headers = token_for(session, SUPERVISOR, "supervisor", department="roads")
    answer = client.get("/api/v1/staff/dashboard", headers=headers)
    assert answer.status_code == 200
    view = answer.get_json()
    assert {r["service_code"] for r in view["services"]} == {"traffic_signal"}  # not graffiti
    row = row_of(view, "traffic_signal")
    assert (row["backlog"], row["overdue"], row["fixed"]) == (2, 1, 3)
    assert row["median_days_to_fix"] == 2.0
    assert row["p90_days_to_fix"] == 3.6  # 2 + 0.8 x (4 - 2), linear interpolation
    assert (row["fixed_steps"], row["reopened"], row["reopen_rate"]) == (3, 1, 0.333)
    assert (row["answers"], row["fixed_share"], row["mean_satisfaction"]) == (2, 0.5, 3.0)
    assert row["department"] == "roads" and row["team_code"] is None
    assert len(view["weeks"]) == 12
    assert sum(w["inflow"] for w in view["weeks"]) == 5
    assert sum(w["outflow"] for w in view["weeks"]) == 3
    assert view["total"]["backlog"] == 2

    analyst = token_for(session, "analyste@marseille.fr", "analyst")
    everything = client.get("/api/v1/staff/dashboard?lang=en", headers=analyst).get_json()
    assert row_of(everything, "graffiti")["backlog"] == 1
    assert row_of(everything, "graffiti")["service_name"] == "Graffiti"
    assert everything["total"]["backlog"] == 3
    four = client.get("/api/v1/staff/dashboard?weeks=4", headers=analyst).get_json()
    assert len(four["weeks"]) == 4
    bad = client.get("/api/v1/staff/dashboard?weeks=5", headers=analyst)
    assert bad.status_code == 422
    other = client.get("/api/v1/staff/dashboard?service_code=graffiti", headers=headers)
    assert other.status_code == 404


def test_agents_and_strangers_get_no_dashboard(client: FlaskClient, session: Session) -> None:
    agent = token_for(session, "agent@marseille.fr", "agent", service_codes=["traffic_signal"])
    assert client.get("/api/v1/staff/dashboard").status_code == 401
    assert client.get("/api/v1/staff/dashboard", headers=agent).status_code == 403


def test_the_page_and_its_csv_show_the_same_figures_and_the_export_is_audited(
    client: FlaskClient,
    session: Session,
    make_staff: Callable[..., StaffUser],
    known: dict[str, Report],
) -> None:
    graffiti = session.get(Service, "graffiti")
    assert graffiti is not None
    graffiti.name_fr = '=HYPERLINK("http://x")'
    session.add(graffiti)
    session.commit()
    make_staff("analyste@marseille.fr", "analyst")
    login(client, "analyste@marseille.fr")
    shown = html.unescape(client.get("/staff/dashboard").get_data(as_text=True))
    assert "Tableau de bord des services" in shown
    row = shown[shown.index('data-service="traffic_signal"') :]
    cells = re.findall(r"<td>([^<]*)</td>", row[: row.index("</tr>")])
    assert cells == ["–", "2", "1", "3", "2,0", "3,6", "33 %", "2", "50 %", "3,0"]
    assert "Dashboard of the services" in client.get("/staff/dashboard?lang=en").get_data(
        as_text=True
    )
    exported = client.get("/staff/dashboard.csv")
    assert exported.status_code == 200 and exported.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(exported.get_data(as_text=True))))
    by_code = {r["service_code"]: r for r in rows}
    assert by_code["traffic_signal"]["p90_days_to_fix"] == "3.6"
    assert by_code["graffiti"]["service_name"] == '\'=HYPERLINK("http://x")'  # not a formula
    assert by_code["total"]["backlog"] == "3"
    session.expire_all()
    [audit] = session.exec(select(AuditLog).where(AuditLog.action == "dashboard.exported")).all()
    assert audit.actor == "analyste@marseille.fr"


def test_an_agents_page_is_refused(
    client: FlaskClient, make_staff: Callable[..., StaffUser]
) -> None:
    make_staff("agent@marseille.fr", "agent", service_codes=["traffic_signal"])
    login(client, "agent@marseille.fr")
    assert client.get("/staff/dashboard").status_code == 403
    assert client.get("/staff/dashboard.csv").status_code == 403


def test_percentiles_of_counted_hours_match_the_standard_librarys() -> None:
    import random
    import statistics
    from collections import Counter

    from backend.services.dashboard import _percentile

    rng = random.Random(7)
    for size in (1, 2, 3, 10, 101, 1000):
        values = [rng.randint(0, 500) for _ in range(size)]
        counts = Counter(values)
        if size == 1:
            assert _percentile(counts, 0.9) == values[0]
            continue
        cuts = statistics.quantiles(values, n=10, method="inclusive")
        assert _percentile(counts, 0.9) == pytest.approx(cuts[8])
        assert _percentile(counts, 0.5) == pytest.approx(statistics.median(values))
    assert _percentile({}, 0.5) is None


def test_the_figures_are_the_stored_ones_until_the_scheduled_job_refreshes_them(
    client: FlaskClient, session: Session, known: dict[str, Report]
) -> None:
    from workers.jobs import refresh_dashboard

    analyst = token_for(session, "analyste@marseille.fr", "analyst")

    def backlog() -> int:
        view = client.get("/api/v1/staff/dashboard", headers=analyst).get_json()
        return int(view["total"]["backlog"])

    assert backlog() == 3  # none stored yet: computed, then stored
    make_report(session, created=utcnow() - timedelta(hours=1))
    assert backlog() == 3  # the stored figures, at most 5 minutes old
    assert refresh_dashboard() == 5  # one row per period offered, and the map grid
    assert backlog() == 4
    names = {s.name for s in session.exec(select(StaffSnapshot))}
    assert names >= {"dashboard-4", "dashboard-12", "dashboard-26", "dashboard-52"}
