"""The queue pages: my work by default, tabs, bulk actions, saved filters, assignment, the
"changed meanwhile" answer, punctuality; roles and teams."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from datetime import timedelta

from flask.testing import FlaskClient
from sqlmodel import Session, select

from backend.db import utcnow
from backend.models import AuditLog, Report, SavedFilter, StaffUser, Team
from backend.services import assignment, triage
from tests.staff.conftest import csrf_token, login
from tests.staff.triage_data import make_report

AGENT = "agent.nord@marseille.fr"


def page(client: FlaskClient, url: str, status: int = 200) -> str:
    response = client.get(url)
    assert response.status_code == status, response.status_code
    return html.unescape(response.get_data(as_text=True))


def reload(session: Session, report: Report) -> Report:
    session.expire_all()
    found = session.get(Report, report.id)
    assert found is not None
    return found


def setup_team(session: Session, make_staff: Callable[..., StaffUser]) -> StaffUser:
    session.add(Team(code="nord", name="Feux Nord", department="roads"))
    session.add(Team(code="sud", name="Feux Sud", department="roads"))
    session.commit()
    return make_staff(AGENT, "agent", service_codes=["traffic_signal"], team_code="nord")


def count_of(queue: str, tab: str) -> int:
    match = re.search(rf'id="tab-{tab}"[^>]*>[^<]*<span class="count">\((\d+)\)', queue)
    assert match, tab
    return int(match[1])


def test_the_queue_opens_on_my_work_with_counts_in_both_languages(
    client: FlaskClient, session: Session, make_staff: Callable[..., StaffUser]
) -> None:
    me = setup_team(session, make_staff)
    mine = make_report(session, needs_triage=False, description="Feu bloqué rue de Rome")
    team = make_report(session, needs_triage=False, description="Feu piéton éteint")
    elsewhere = make_report(session, needs_triage=False, description="Feu du sud")
    mine.team_code, mine.assignee_id = "nord", me.id
    team.team_code, team.due_at = "nord", utcnow() - timedelta(days=1)
    elsewhere.team_code = "sud"
    session.add_all([mine, team, elsewhere])
    session.commit()
    login(client, AGENT)
    queue = page(client, "/staff/triage")
    assert 'id="tab-work" aria-current="page"' in queue and "Mon travail" in queue
    assert f'id="report-{mine.id}"' in queue and f'id="report-{team.id}"' in queue
    assert f'id="report-{elsewhere.id}"' not in queue  # another team's case
    assert (count_of(queue, "work"), count_of(queue, "mine"), count_of(queue, "overdue")) == (
        2,
        1,
        1,
    )
    assert "en retard" in queue and "Feux Nord" in queue and AGENT in queue
    english = page(client, "/staff/triage?lang=en")
    assert "My work" in english and "Waiting for the resident" in english
    found = page(client, "/staff/triage?tab=all&q=bloqu")
    assert found.count('id="report-') == 1 and f'id="report-{mine.id}"' in found
    # Another team's report: the same page as a missing one.
    assert "Aucun signalement n'a ce numéro." in page(
        client, f"/staff/reports/{elsewhere.id}", status=404
    )


def test_bulk_assign_from_the_page_all_or_nothing(
    client: FlaskClient, session: Session, make_staff: Callable[..., StaffUser]
) -> None:
    me = setup_team(session, make_staff)
    reports = [make_report(session) for _ in range(3)]
    closed = make_report(session, status="closed")
    login(client, AGENT)
    token = csrf_token(client, "/staff/triage?tab=all")
    form = {
        "csrf_token": token,
        "query": "tab=all",
        "action": "status",
        "status": "in_progress",
        "public_note": "Équipe en route",
        "report_ids": [str(r.id) for r in reports] + [str(closed.id)],
    }
    assert client.post("/staff/triage/bulk", data={**form, "csrf_token": ""}).status_code == 400
    refused = client.post("/staff/triage/bulk", data=form)
    assert refused.status_code == 422
    shown = html.unescape(refused.get_data(as_text=True))
    assert "Rien n'a été modifié : 1 signalements" in shown and f"#{closed.id}" in shown
    assert "Équipe en route" in shown  # the agent's note is kept
    assert all(
        f'value="{r.id}" aria-label="Sélectionner #{r.id}" checked' in shown for r in reports
    )
    assert {reload(session, r).status for r in reports} == {"open"}

    form["report_ids"] = [str(r.id) for r in reports]
    form["action"], form["team_code"], form["assignee_id"] = "assign", "nord", str(me.id)
    done = client.post("/staff/triage/bulk", data=form)
    assert done.status_code == 302 and "saved=bulk" in done.headers["Location"]
    assert "3 signalements modifiés" in page(client, done.headers["Location"])
    assert {(reload(session, r).team_code, reload(session, r).assignee_id) for r in reports} == {
        ("nord", me.id)
    }
    rows = session.exec(select(AuditLog).where(AuditLog.action == "report.assigned")).all()
    assert len(rows) == 3


def test_saved_filters_are_each_members_own(
    client: FlaskClient, session: Session, make_staff: Callable[..., StaffUser]
) -> None:
    setup_team(session, make_staff)
    login(client, AGENT)
    token = csrf_token(client, "/staff/triage")
    saved = client.post(
        "/staff/triage/filters",
        data={"csrf_token": token, "name": "Feux en retard", "query": "tab=overdue&q=feu&x=1"},
    )
    assert saved.status_code == 302
    queue = page(client, "/staff/triage")
    assert "Feux en retard" in queue and 'href="/staff/triage?tab=overdue&q=feu"' in queue
    [row] = session.exec(select(SavedFilter)).all()
    other = make_staff("autre@marseille.fr", "agent", service_codes=["traffic_signal"])
    theirs = SavedFilter(staff_id=other.id or 0, name="à moi", query="tab=all")
    session.add(theirs)
    session.commit()
    client.post(f"/staff/triage/filters/{theirs.id}/delete", data={"csrf_token": token})
    client.post(f"/staff/triage/filters/{row.id}/delete", data={"csrf_token": token})
    session.expire_all()
    assert [f.name for f in session.exec(select(SavedFilter)).all()] == ["à moi"]


def test_changed_meanwhile_keeps_the_agents_input_and_saves_nothing(
    client: FlaskClient, session: Session, make_staff: Callable[..., StaffUser]
) -> None:
    me = setup_team(session, make_staff)
    colleague = make_staff("collegue@marseille.fr", "agent", service_codes=["traffic_signal"])
    report = make_report(session)
    login(client, AGENT)
    shown = page(client, f"/staff/reports/{report.id}")
    version = re.search(r'name="version" value="(\d+)"', shown)
    assert version
    token = csrf_token(client, f"/staff/reports/{report.id}")
    # Meanwhile a colleague takes the case and starts on it.
    triage.change_status(
        session=session,
        report=reload(session, report),
        status="in_progress",
        public_note=None,
        staff=colleague,
    )
    note = "Réparation prévue jeudi"
    answer = client.post(
        f"/staff/reports/{report.id}/status",
        data={"csrf_token": token, "version": version[1], "status": "fixed", "public_note": note},
    )
    assert answer.status_code == 409
    text = html.unescape(answer.get_data(as_text=True))
    assert "Quelqu'un a modifié ce signalement" in text
    assert "Modifié entre-temps par collegue@marseille.fr" in text and "ouvert → en cours" in text
    assert f">{note}</textarea>" in text and '<option value="fixed" selected>' in text
    assert reload(session, report).status == "in_progress"  # nothing of ours saved
    new_version = re.search(r'name="version" value="(\d+)"', text)
    assert new_version and new_version[1] != version[1]
    again = client.post(
        f"/staff/reports/{report.id}/status",
        data={
            "csrf_token": token,
            "version": new_version[1],
            "status": "fixed",
            "public_note": note,
        },
    )
    assert again.status_code == 302 and reload(session, report).status == "fixed"

    # The assignment form: a reason to reassign, shown in the internal history.
    current = re.search(
        r'name="version" value="(\d+)"', page(client, f"/staff/reports/{report.id}")
    )
    assert current
    url = f"/staff/reports/{report.id}/assignment"
    base = {"csrf_token": token, "team_code": "nord", "assignee_id": str(me.id)}
    first = client.post(url, data={**base, "version": current[1]})
    assert first.status_code == 302
    later = re.search(r'name="version" value="(\d+)"', page(client, f"/staff/reports/{report.id}"))
    assert later
    no_reason = client.post(
        url, data={**base, "team_code": "sud", "assignee_id": "", "version": later[1]}
    )
    assert no_reason.status_code == 422
    assert "Un motif est obligatoire" in html.unescape(no_reason.get_data(as_text=True))
    moved = client.post(
        url,
        data={
            **base,
            "team_code": "sud",
            "assignee_id": "",
            "reason": "Côté sud",
            "version": later[1],
        },
    )
    assert moved.status_code == 302
    # The case left the agent's team: they see it no more; its supervisor sees why it moved.
    page(client, f"/staff/reports/{report.id}", status=404)
    make_staff("chef@marseille.fr", "supervisor", department="roads")
    client.post("/staff/logout", data={"csrf_token": csrf_token(client, "/staff/")})
    login(client, "chef@marseille.fr")
    history = page(client, f"/staff/reports/{report.id}")
    assert "motif\u00a0: « Côté sud »" in history and "nord → sud" in history


def test_punctuality_counts_on_time_late_and_three_times_late(
    client: FlaskClient, session: Session, make_staff: Callable[..., StaffUser]
) -> None:
    setup_team(session, make_staff)
    now = utcnow()
    for taken_days, status in ((1, "fixed"), (3, "fixed"), (10, "fixed"), (None, "open")):
        report = make_report(session, created=now - timedelta(days=12))
        report.team_code, report.due_at = "nord", report.created_at + timedelta(days=2)
        if taken_days is not None:
            report.status, report.closed_at = status, report.created_at + timedelta(days=taken_days)
        session.add(report)
    session.commit()
    login(client, AGENT)
    shown = page(client, "/staff/punctuality")
    row = re.search(r'<tr id="team-nord">(.*?)</tr>', shown, re.S)
    assert row
    cells = re.findall(r"<td>(.*?)</td>", row[1], re.S)
    assert [c.strip() for c in cells] == ["Feux Nord", "3", "1 (33 %)", "1", "1", "1"]
    assert "Ponctualité par équipe" in shown


def test_admins_and_analysts_get_no_queue(
    client: FlaskClient, session: Session, make_staff: Callable[..., StaffUser]
) -> None:
    make_staff("admin@marseille.fr", "admin")
    login(client, "admin@marseille.fr")
    for url in ("/staff/triage", "/staff/punctuality", "/staff/reports/1"):
        assert client.get(url).status_code == 403
    assert client.post("/staff/triage/bulk", data={}).status_code == 400  # no CSRF token
    assert assignment.list_teams(session=session) == []
