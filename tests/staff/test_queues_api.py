"""The staff API's queues: tabs and counts, search, team scope, ETag / If-Match, bulk."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask.testing import FlaskClient
from sqlmodel import Session, select

from backend.db import utcnow
from backend.models import Area, AuditLog, Report, Team
from backend.services.staff import get_staff_by_email
from tests.staff.triage_data import make_report, token_for

STAFF = "/api/v1/staff"


def teams(session: Session) -> None:
    session.add(Team(code="nord", name="Feux Nord", department="roads"))
    session.add(Team(code="sud", name="Feux Sud", department="roads"))
    session.add(
        Area(
            code="1320601",
            name="Castellane",
            level="quartier",
            geometry="{}",
            centroid_lat=43.28,
            centroid_lon=5.38,
        )
    )
    session.commit()


def agent(session: Session, email: str, team: str | None) -> dict[str, str]:
    return token_for(session, email, "agent", service_codes=["traffic_signal"], team_code=team)


def staff_id(session: Session, email: str) -> int:
    found = get_staff_by_email(session=session, email=email)
    assert found is not None and found.id is not None
    return found.id


def ids(response: Any) -> list[int]:
    assert response.status_code == 200, response.get_data(as_text=True)
    return [item["id"] for item in response.get_json()]


def test_tabs_counts_search_and_area_names(client: FlaskClient, session: Session) -> None:
    teams(session)
    me = agent(session, "nord@x.fr", "nord")
    mine = make_report(session, description="Feu bloqué au rouge rue Paradis")
    team = make_report(session, description="Feu piéton éteint")
    late = make_report(session, created=utcnow() - timedelta(days=9))
    other_team = make_report(session)
    fresh = make_report(session, status="received")
    for report, team_code in ((mine, "nord"), (team, "nord"), (late, "nord"), (other_team, "sud")):
        report.team_code = team_code
    mine.assignee_id = staff_id(session, "nord@x.fr")
    late.due_at = utcnow() - timedelta(days=2)
    session.add_all([mine, team, late, other_team])
    session.commit()

    assert sorted(ids(client.get(f"{STAFF}/triage?tab=work", headers=me))) == sorted(
        [mine.id, team.id, late.id]
    )
    assert ids(client.get(f"{STAFF}/triage?tab=mine", headers=me)) == [mine.id]
    assert ids(client.get(f"{STAFF}/triage?tab=overdue", headers=me)) == [late.id]
    assert ids(client.get(f"{STAFF}/triage?tab=new", headers=me)) == [fresh.id]
    # The other team's case is not even in "all": an agent of a team works their team's.
    assert other_team.id not in ids(client.get(f"{STAFF}/triage?tab=all", headers=me))
    counts = client.get(f"{STAFF}/triage/counts", headers=me).get_json()
    assert counts == {
        "work": 3,
        "mine": 1,
        "team": 3,
        "new": 1,
        "overdue": 1,
        "waiting": 0,
        "all": 4,
    }
    assert ids(client.get(f"{STAFF}/triage?tab=all&q=paradis", headers=me)) == [mine.id]
    assert ids(client.get(f"{STAFF}/triage?tab=all&q=%23{team.id}", headers=me)) == [team.id]
    by_tracking = client.get(f"{STAFF}/triage?tab=all&q={late.tracking_id}", headers=me)
    assert ids(by_tracking) == [late.id]
    [item] = client.get(f"{STAFF}/triage?tab=mine", headers=me).get_json()
    assert (item["area_name"], item["team_name"], item["assignee_email"]) == (
        "Castellane",
        "Feux Nord",
        "nord@x.fr",
    )
    # Without a tab the queue is as before: the reports whose category waits for a human.
    assert len(ids(client.get(f"{STAFF}/triage", headers=me))) == 4


def test_an_agent_of_another_team_gets_404(client: FlaskClient, session: Session) -> None:
    teams(session)
    south = agent(session, "sud@x.fr", "sud")
    report = make_report(session)
    report.team_code = "nord"
    session.add(report)
    session.commit()
    url = f"{STAFF}/reports/{report.id}"
    for response in (
        client.get(url, headers=south),
        client.patch(url, json={"status": "fixed"}, headers={**south, "If-Match": "x"}),
        client.post(f"{url}/status", json={"status": "fixed"}, headers=south),
        client.post(
            f"{STAFF}/reports/bulk",
            json={"report_ids": [report.id], "action": "status", "status": "fixed"},
            headers=south,
        ),
    ):
        assert response.status_code in (404, 422), response.status_code
        assert "fixed" not in str(session.get(Report, report.id).status)  # type: ignore[union-attr]
    assert client.get(url, headers=south).status_code == 404
    analyst = token_for(session, "analyste@x.fr", "analyst")
    assert client.get(url, headers=analyst).status_code == 403  # never a case, nor a contact


def test_updates_need_the_current_etag(client: FlaskClient, session: Session) -> None:
    teams(session)
    me = agent(session, "nord@x.fr", "nord")
    report = make_report(session)
    url = f"{STAFF}/reports/{report.id}"
    read = client.get(url, headers=me)
    etag = read.headers["ETag"]
    assert etag and client.get(url, headers=me).headers["ETag"] == etag  # stable

    missing = client.patch(url, json={"team_code": "nord"}, headers=me)
    assert missing.status_code == 428
    first = client.patch(url, json={"team_code": "nord"}, headers={**me, "If-Match": etag})
    assert first.status_code == 200, first.get_data(as_text=True)
    assert first.get_json()["team_code"] == "nord" and first.headers["ETag"] != etag

    # A second agent still holding the old ETag: refused, nothing changed.
    stale = client.patch(
        url,
        json={"status": "in_progress", "public_note": "J'y vais"},
        headers={**me, "If-Match": etag},
    )
    assert stale.status_code == 412
    stale_post = client.post(
        f"{url}/status", json={"status": "fixed"}, headers={**me, "If-Match": etag}
    )
    assert stale_post.status_code == 412
    session.expire_all()
    assert session.get(Report, report.id).status == "open"  # type: ignore[union-attr]

    fresh = client.patch(
        url,
        json={
            "status": "in_progress",
            "assignee_id": staff_id(session, "nord@x.fr"),
            "reason": "Je prends le dossier",
        },
        headers={**me, "If-Match": first.headers["ETag"]},
    )
    assert fresh.status_code == 200, fresh.get_data(as_text=True)
    shown = fresh.get_json()
    assert shown["status"] == "in_progress" and shown["assignee_email"] == "nord@x.fr"
    assert [a["reason"] for a in shown["assignments"]] == [None, "Je prends le dossier"]

    no_reason = client.patch(
        url, json={"team_code": "sud"}, headers={**me, "If-Match": fresh.headers["ETag"]}
    )
    assert no_reason.status_code == 422 and "reason" in no_reason.get_json()["message"]


def test_bulk_refuses_a_partly_invalid_selection_saying_which_and_why(
    client: FlaskClient, session: Session
) -> None:
    teams(session)
    me = agent(session, "nord@x.fr", "nord")
    good = [make_report(session) for _ in range(3)]
    closed = make_report(session, status="closed")
    payload = {
        "report_ids": [r.id for r in good] + [closed.id, 424242],
        "action": "status",
        "status": "in_progress",
        "public_note": "Intervention planifiée",
    }
    refused = client.post(f"{STAFF}/reports/bulk", json=payload, headers=me)
    assert refused.status_code == 422
    errors = refused.get_json()["errors"]["report_ids"]
    assert set(errors) == {str(closed.id), "424242"}
    assert errors[str(closed.id)]["reason"] == "transition"
    assert errors["424242"]["reason"] == "not_found"
    session.expire_all()
    assert [r.status for r in session.exec(select(Report)).all()].count("in_progress") == 0

    payload["report_ids"] = [r.id for r in good]
    done = client.post(f"{STAFF}/reports/bulk", json=payload, headers=me)
    assert done.status_code == 200 and done.get_json()["updated"] == 3
    assign = client.post(
        f"{STAFF}/reports/bulk",
        json={"report_ids": [r.id for r in good], "action": "assign", "team_code": "nord"},
        headers=me,
    )
    assert assign.status_code == 200
    session.expire_all()
    assert {r.team_code for r in session.exec(select(Report)) if r.id != closed.id} == {"nord"}
    audited = session.exec(select(AuditLog).where(AuditLog.action == "report.assigned")).all()
    assert len(audited) == 3
    bad = client.post(
        f"{STAFF}/reports/bulk", json={"report_ids": [], "action": "assign"}, headers=me
    )
    assert bad.status_code == 422
