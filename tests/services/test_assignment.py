"""Routing rules, due dates (working days, the city's holidays), assignment and bulk actions,
on the real database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from sqlmodel import Session, col, select

from backend.models import AuditLog, Report, ReportUpdate, RoutingRule, Service, Team
from backend.services import assignment, bulk
from backend.services.assignment import DeadlineSettings, due_date
from backend.services.staff import create_staff
from tests.staff.triage_data import make_report

FR = DeadlineSettings(timezone="Europe/Paris", country="FR")


def test_calendar_days_count_every_day() -> None:
    start = datetime(2026, 12, 24, 9, 0, tzinfo=UTC)
    due = due_date(start=start, target_days=2, working_days=False, settings=FR)
    assert due == datetime(2026, 12, 26, 9, 0, tzinfo=UTC)


def test_working_days_skip_weekends_and_french_holidays() -> None:
    # Thursday 24 December 2026, 10:00 in Marseille; Christmas (Fri 25) is a holiday, then a
    # weekend: the 1st working day after is Monday 28, the 2nd Tuesday 29, same local hour.
    start = datetime(2026, 12, 24, 9, 0, tzinfo=UTC)
    due = due_date(start=start, target_days=2, working_days=True, settings=FR)
    assert due == datetime(2026, 12, 29, 9, 0, tzinfo=UTC)
    # 14 July 2026 (Tuesday) is a holiday: from Monday 13, 1 working day is Wednesday 15.
    monday = datetime(2026, 7, 13, 8, 0, tzinfo=UTC)
    assert due_date(start=monday, target_days=1, working_days=True, settings=FR).day == 15
    # Without the holiday (another country's calendar) it is Tuesday 14.
    uk = DeadlineSettings(timezone="Europe/Paris", country="GB")
    assert due_date(start=monday, target_days=1, working_days=True, settings=uk).day == 14


def test_moselle_has_its_own_holidays() -> None:
    # 26 December is a holiday in Alsace-Moselle (subdivision 57), not in the rest of France.
    start = datetime(2025, 12, 24, 9, 0, tzinfo=UTC)  # a Wednesday; 25th is a holiday
    france = due_date(start=start, target_days=1, working_days=True, settings=FR)
    moselle = due_date(
        start=start,
        target_days=1,
        working_days=True,
        settings=DeadlineSettings(country="FR", subdivision="57"),
    )
    assert (france.day, moselle.day) == (26, 29)


def _teams(session: Session) -> None:
    session.add(Team(code="nord", name="Voirie Nord", department="roads"))
    session.add(Team(code="sud", name="Voirie Sud", department="roads"))
    session.add(Team(code="feux", name="Feux", department="roads"))
    session.commit()


def test_the_most_specific_routing_rule_wins(session: Session) -> None:
    _teams(session)
    session.add(RoutingRule(service_code="traffic_signal", team_code="sud"))
    session.add(RoutingRule(service_code="traffic_signal", area_prefix="13215", team_code="nord"))
    session.add(RoutingRule(service_code="traffic_signal", area_prefix="132", team_code="feux"))
    session.add(
        RoutingRule(service_code="traffic_signal", area_prefix="132", team_code="sud", priority=5)
    )
    session.commit()

    def route(area: str | None) -> str | None:
        return assignment.route_team(session=session, service_code="traffic_signal", area_code=area)

    assert route("1321501") == "nord"  # longest prefix
    assert route("1320601") == "sud"  # same prefix length: the higher priority
    assert route(None) == "sud"  # no area: the rule for every area
    assert assignment.route_team(session=session, service_code="graffiti", area_code=None) is None


def test_the_classification_job_routes_and_dates_a_new_report(
    app: Flask, session: Session, run_jobs: object
) -> None:
    """A report of the API goes through the real worker: team and due date once classified."""
    _teams(session)
    for service in session.exec(select(Service)):
        session.add(RoutingRule(service_code=service.code, team_code="sud"))
    session.commit()
    client = app.test_client()
    sent = client.post(
        "/api/v1/reports",
        json={
            "description": "Le lampadaire devant chez moi est éteint depuis trois jours",
            "lat": 43.2965,
            "lon": 5.3698,
        },
    )
    assert sent.status_code == 201, sent.get_data(as_text=True)
    run_jobs()  # type: ignore[operator]
    session.expire_all()
    [report] = session.exec(select(Report)).all()
    service = session.get(Service, report.service_code)
    assert service is not None and report.team_code == "sud"
    assert report.due_at == report.created_at + timedelta(days=service.target_days)


def test_reassigning_needs_a_reason_and_is_audited(session: Session) -> None:
    _teams(session)
    agent = create_staff(
        session=session,
        email="a@x.fr",
        role="agent",
        service_codes=["traffic_signal"],
        team_code="nord",
    )
    other = create_staff(
        session=session,
        email="b@x.fr",
        role="agent",
        service_codes=["graffiti"],
        team_code="sud",
    )
    report = make_report(session)
    assignment.assign(
        session=session, report=report, staff=agent, team_code="nord", assignee_id=None, reason=None
    )
    # One of the team takes the team's case: no reason needed.
    assignment.assign(
        session=session, report=report, staff=agent, team_code=None, assignee_id=agent.id, reason=""
    )
    with pytest.raises(assignment.AssignmentError) as out_of_scope:
        assignment.assign(
            session=session,
            report=report,
            staff=agent,
            team_code=None,
            assignee_id=other.id,
            reason="x",
        )
    assert out_of_scope.value.reason == "person_out_of_scope"
    with pytest.raises(assignment.AssignmentError) as no_reason:
        assignment.assign(
            session=session,
            report=report,
            staff=agent,
            team_code="sud",
            assignee_id=None,
            reason="",
        )
    assert no_reason.value.reason == "reason_required"
    assignment.assign(
        session=session,
        report=report,
        staff=agent,
        team_code="sud",
        assignee_id=None,
        reason="Côté sud",
    )
    assert (report.team_code, report.assignee_id) == ("sud", None)
    history = assignment.assignment_history(session=session, report=report)
    assert [(h["to_team"], h["to_assignee_email"], h["reason"]) for h in history] == [
        ("nord", None, None),
        ("nord", "a@x.fr", None),
        ("sud", None, "Côté sud"),
    ]


def test_a_bulk_status_change_is_all_or_nothing_and_audited_per_report(
    session: Session,
) -> None:
    agent = create_staff(
        session=session, email="a@x.fr", role="agent", service_codes=["traffic_signal"]
    )
    reports = [make_report(session) for _ in range(3)]
    closed = make_report(session, status="closed")
    hidden = make_report(session, code="graffiti")
    ids = [r.id for r in reports] + [closed.id, hidden.id, 999_999]
    with pytest.raises(bulk.BulkRefusedError) as refused:
        bulk.bulk_apply(
            session=session,
            staff=agent,
            report_ids=ids,  # type: ignore[arg-type]
            action="status",
            status="in_progress",
            public_note="Intervention planifiée",
        )
    assert {(r.report_id, r.reason) for r in refused.value.refusals} == {
        (closed.id, "transition"),
        (hidden.id, "not_found"),  # another service: like a missing one
        (999_999, "not_found"),
    }
    session.expire_all()
    assert {r.status for r in session.exec(select(Report))} == {"open", "closed"}
    assert session.exec(select(AuditLog).where(AuditLog.action == "report.status_set")).all() == []

    changed = bulk.bulk_apply(
        session=session,
        staff=agent,
        report_ids=[r.id for r in reports],  # type: ignore[misc]
        action="status",
        status="in_progress",
        public_note="Intervention planifiée",
    )
    assert len(changed) == 3
    session.expire_all()
    rows = session.exec(select(AuditLog).where(AuditLog.action == "report.status_set")).all()
    assert sorted(r.target for r in rows) == sorted(f"report:{r.id}" for r in reports)
    notes = session.exec(
        select(ReportUpdate.public_note).where(col(ReportUpdate.status) == "in_progress")
    ).all()
    assert notes == ["Intervention planifiée"] * 3


def test_a_long_queue_ranked_in_the_database_gives_the_same_pages(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past RANK_IN_PYTHON reports only the rows that can reach the page are ranked: the
    pages must be those of the whole queue ranked here, links and ties included."""
    import random

    from backend.db import utcnow
    from backend.services import queues, triage
    from tests.staff.triage_data import link, make_accident, north

    rng = random.Random(5)
    agent = create_staff(
        session=session, email="a@x.fr", role="agent", service_codes=["traffic_signal"]
    )
    now = utcnow()
    same_time = now - timedelta(days=3)
    reports = []
    for n in range(40):
        created = same_time if n % 7 == 0 else now - timedelta(hours=rng.randrange(1, 400))
        reports.append(
            make_report(
                session,
                created=created,
                confidence=rng.choice([None, 0.2, 0.5, 0.9, 0.99]),
                needs_triage=rng.random() < 0.5,
                lat=north(5000 + 100 * n),
            )
        )
    near = [make_report(session, created=now - timedelta(days=1)) for _ in range(3)]
    make_accident(session, 1, when=now - timedelta(hours=20), severity="hospitalised")
    link(session, *near)
    services = triage.services_by_code(session)
    filters = triage.TriageFilters(needs_triage=None, tab="all")

    def pages() -> list[list[tuple[int, float]]]:
        result = []
        for page in range(1, 6):
            items, total = triage.rank_queue(
                session=session,
                staff=agent,
                filters=filters,
                services=services,
                page=page,
                page_size=10,
                now=now,
            )
            assert total == 43
            result.append([(r.id, p.total) for r, p in items])
        return result

    whole = pages()
    assert any(p > 2 for page in whole for _, p in page)  # the linked ones climbed
    monkeypatch.setattr(queues, "RANK_IN_PYTHON", 0)
    monkeypatch.setattr(queues, "RANK_MARGIN", 0)
    assert pages() == whole


def test_the_cli_puts_an_account_in_a_team_or_says_the_team_is_unknown(
    app: Flask, session: Session
) -> None:
    from backend.cli import main
    from backend.services.staff import get_staff_by_email

    _teams(session)
    runner = app.test_cli_runner()
    args = ["staff", "create", "a@x.fr", "--role", "agent", "--service", "road_damage"]
    unknown = runner.invoke(main, [*args, "--team", "personne"])
    assert unknown.exit_code != 0 and "Unknown team 'personne'" in unknown.output
    done = runner.invoke(main, [*args, "--team", "nord"])
    assert done.exit_code == 0, done.output
    staff = get_staff_by_email(session=session, email="a@x.fr")
    assert staff is not None and staff.team_code == "nord"
