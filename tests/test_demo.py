"""The demo data set has the rhythms the pages and detectors are meant to show."""

from __future__ import annotations

from collections import Counter

from flask import Flask, g
from sqlmodel import Session, col, select

from backend.cli import main
from backend.models import Report, ReportUpdate


def test_demo_has_daily_weekly_rhythms_languages_and_history(
    app: Flask, session: Session, marseille_areas: int
) -> None:
    runner = app.test_cli_runner()
    result = runner.invoke(main, ["demo", "--reports", "1500", "--seed", "7"])
    assert result.exit_code == 0, result.output
    assert "1500 demo reports" in result.output
    # The demo's own reports (its further steps, such as the events', add reports of theirs).
    reports = session.exec(select(Report).where(col(Report.external_id).like("demo-7-%"))).all()
    assert len(reports) == 1500
    assert all(r.area_code and r.area_code.startswith("132") for r in reports)
    weekdays = Counter(r.created_at.weekday() for r in reports)
    assert weekdays[6] < min(weekdays[d] for d in range(5))  # quieter Sundays
    night = Counter(
        r.service_code for r in reports if r.created_at.hour >= 21 or r.created_at.hour < 6
    )
    totals = Counter(r.service_code for r in reports)
    assert night["noise"] / totals["noise"] > 2 * night["road_damage"] / totals["road_damage"]
    languages = Counter(r.language for r in reports)
    assert languages["fr"] > languages["en"] > 100
    fixed = [r for r in reports if r.status == "fixed"]
    assert fixed and all(r.closed_at and r.closed_at >= r.created_at for r in fixed)
    updates = session.exec(select(ReportUpdate)).all()
    assert len(updates) >= 2 * len(reports)
    # Uneven adoption: the busiest quartier has many times the median one.
    per_area = sorted(Counter(r.area_code for r in reports).values())
    assert per_area[-1] > 5 * per_area[len(per_area) // 2]
    again = runner.invoke(main, ["demo", "--if-empty"])
    assert "already exist" in again.output


def test_the_demo_accounts_open_a_queue_with_work_in_it(
    app: Flask, session: Session, marseille_areas: int
) -> None:
    """`make run`'s demo: teams, routing, assignments, some overdue; every case worker's
    default queue ("my work") has reports in it, and they can log in with the printed
    password."""
    import re

    from tests.staff.conftest import FAST_ARGON2, csrf_token

    app.config.update(FAST_ARGON2)
    runner = app.test_cli_runner()
    result = runner.invoke(main, ["demo", "--reports", "600", "--seed", "3"])
    assert result.exit_code == 0, result.output
    accounts = dict(re.findall(r"(\S+@demo\.lanterne\.fr)\s+password: (\S+)", result.output))
    assert len(accounts) == 6
    reports = session.exec(select(Report)).all()
    assert all(r.team_code and r.due_at for r in reports)
    north = {r.team_code for r in reports if r.area_code and r.area_code.startswith("13215")}
    assert "voirie-nord" in north  # the rule by arrondissement
    for email in (
        "agent.voirie@demo.lanterne.fr",
        "agent.proprete@demo.lanterne.fr",
        "superviseur.voirie@demo.lanterne.fr",
    ):
        client = app.test_client()
        g.pop("csrf_token", None)  # Flask-WTF keeps the token on the shared app context
        token = csrf_token(client)
        login = client.post(
            "/staff/login",
            data={"email": email, "password": accounts[email], "csrf_token": token},
        )
        assert login.status_code == 302, email
        queue = client.get("/staff/triage").get_data(as_text=True)
        work = int(re.search(r'id="tab-work"[^>]*>[^<]*<span class="count">\((\d+)\)', queue)[1])
        overdue = int(
            re.search(r'id="tab-overdue"[^>]*>[^<]*<span class="count">\((\d+)\)', queue)[1]
        )
        assert work > 0 and overdue > 0, email
        assert queue.count('id="report-') > 0, email
