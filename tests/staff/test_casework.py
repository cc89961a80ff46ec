"""Case work: internal notes, response templates, "waiting for the resident", merging."""

from __future__ import annotations

import html
import re
import secrets
from collections.abc import Callable
from datetime import timedelta

import pytest
from flask.testing import FlaskClient
from sqlmodel import Session, col, select

from backend.models import (
    AuditLog,
    Report,
    ReportNote,
    ResponseTemplate,
    Service,
    StaffUser,
    Subscription,
)
from tests.staff.conftest import csrf_token, login
from tests.staff.triage_data import make_report, north, token_for

AGENT = "agent.feux@marseille.fr"
ADMIN = "admin@marseille.fr"


def page(client: FlaskClient, url: str, status: int = 200) -> str:
    response = client.get(url)
    assert response.status_code == status, (url, response.status_code)
    return html.unescape(response.get_data(as_text=True))


def reload(session: Session, report: Report) -> Report:
    session.expire_all()
    found = session.get(Report, report.id)
    assert found is not None
    return found


def audits(session: Session, action: str) -> list[AuditLog]:
    session.expire_all()
    return list(session.exec(select(AuditLog).where(AuditLog.action == action)))


def signed_in(client: FlaskClient, make_staff: Callable[..., StaffUser]) -> None:
    make_staff(AGENT, "agent", service_codes=["traffic_signal"])
    assert login(client, AGENT).status_code == 302


def post(client: FlaskClient, url: str, data: dict[str, str], form_page: str):
    return client.post(url, data={**data, "csrf_token": csrf_token(client, form_page)})


def follower(session: Session, report: Report, email_hmac: str | None = None) -> Subscription:
    assert report.id is not None
    sub = Subscription(
        report_id=report.id,
        email_hmac=email_hmac,
        token=secrets.token_urlsafe(16),
        consent_notifications=True,
    )
    session.add(sub)
    session.commit()
    return sub


# ------------------------------------------------------------------------------ internal notes


def test_an_internal_note_is_shown_to_staff_audited_and_never_public(
    client: FlaskClient, session: Session, make_staff: Callable[..., StaffUser]
) -> None:
    report = make_report(session)
    signed_in(client, make_staff)
    url = f"/staff/reports/{report.id}"
    assert client.post(f"{url}/notes", data={"body": "x"}).status_code == 400  # no CSRF token
    empty = post(client, f"{url}/notes", {"body": "   "}, url)
    assert empty.status_code == 422 and "ne peut pas être vide" in html.unescape(
        empty.get_data(as_text=True)
    )
    done = post(client, f"{url}/notes", {"body": "Voisin M. Durand prévenu, rappeler lundi"}, url)
    assert done.status_code == 302 and done.headers["Location"].endswith("saved=note#notes")
    shown = page(client, f"{url}?saved=note")
    assert "Voisin M. Durand prévenu, rappeler lundi" in shown and "Note interne ajoutée." in shown
    assert "Internal notes" in page(client, f"{url}?lang=en")
    [row] = audits(session, "report.note_added")
    assert row.actor == AGENT and row.target == f"report:{report.id}"
    assert "Durand" not in str(row.details)  # the words stay in the note's own row

    # Nowhere public: the tracking page, the public API, Open311.
    assert "Durand" not in page(client, f"/suivi/{report.tracking_id}")
    assert "Durand" not in client.get(f"/api/v1/reports/{report.tracking_id}").get_data(
        as_text=True
    )
    assert "Durand" not in client.get(f"/open311/v2/requests/{report.id}.json").get_data(
        as_text=True
    )


def test_notes_through_the_api_within_the_agents_services(
    client: FlaskClient, session: Session
) -> None:
    report = make_report(session)
    other = make_report(session, code="graffiti", description="Tag")
    headers = token_for(session, AGENT, "agent", service_codes=["traffic_signal"])
    url = f"/api/v1/staff/reports/{report.id}/notes"
    created = client.post(url, json={"body": "Pièce commandée"}, headers=headers)
    assert created.status_code == 201 and created.get_json()["author"] == AGENT
    assert [n["body"] for n in client.get(url, headers=headers).get_json()] == ["Pièce commandée"]
    bad = client.post(url, json={"body": ""}, headers=headers)
    assert bad.status_code == 422 and "body" in bad.get_json()["errors"]["json"]
    hidden = client.post(
        f"/api/v1/staff/reports/{other.id}/notes", json={"body": "x"}, headers=headers
    )
    missing = client.post("/api/v1/staff/reports/999999/notes", json={"body": "x"}, headers=headers)
    assert hidden.status_code == missing.status_code == 404
    assert hidden.get_json()["message"] == missing.get_json()["message"]
    assert client.get(url).status_code == 401
    session.expire_all()
    assert len(session.exec(select(ReportNote)).all()) == 1


# --------------------------------------------------------------------------- response templates


def make_template(session: Session, **kw: object) -> ResponseTemplate:
    values: dict[str, object] = {
        "service_code": "traffic_signal",
        "status": "in_progress",
        "title": "Intervention planifiée",
        "body_fr": "Signalement {tracking_id} ({service}, {area}) : réparé avant le {due_date}.",
        "body_en": "Report {tracking_id} ({service}, {area}): we will fix it by {due_date}.",
    }
    values.update(kw)
    row = ResponseTemplate(**values)  # type: ignore[arg-type]
    session.add(row)
    session.commit()
    return row


def test_an_admin_writes_a_template_and_unknown_placeholders_are_refused(
    client: FlaskClient, session: Session, make_staff: Callable[..., StaffUser]
) -> None:
    make_staff(ADMIN, "admin")
    login(client, ADMIN)
    form = {
        "service_code": "traffic_signal",
        "status": "fixed",
        "title": "Réparé",
        "body_fr": "Bonjour {name}, le feu {tracking_id} est réparé.",
        "body_en": "The signal {tracking_id} is fixed.",
        "active": "1",
    }
    refused = post(client, "/staff/templates", form, "/staff/templates")
    text = html.unescape(refused.get_data(as_text=True))
    assert refused.status_code == 422 and "unknown placeholder {name}" in text
    assert "Bonjour {name}" in text  # the admin's words are kept in the form
    attribute = post(
        client,
        "/staff/templates",
        {**form, "body_fr": "{service.__class__}"},
        "/staff/templates",
    )
    assert attribute.status_code == 422
    assert session.exec(select(ResponseTemplate)).all() == []

    form["body_fr"] = "Le feu {tracking_id} est réparé."
    done = post(client, "/staff/templates", form, "/staff/templates")
    assert done.status_code == 302
    [row] = session.exec(select(ResponseTemplate)).all()
    assert (row.status, row.updated_by) == ("fixed", ADMIN)
    listed = page(client, "/staff/templates?saved=1")
    assert "Modèle enregistré." in listed and "Le feu {tracking_id} est réparé." in listed
    assert "Response templates" in page(client, "/staff/templates?lang=en")
    edited = post(
        client,
        f"/staff/templates/{row.id}",
        {**form, "title": "Feu réparé"},
        f"/staff/templates/{row.id}",
    )
    assert edited.status_code == 302
    assert [a.action for a in audits(session, "template.created")] == ["template.created"]
    assert len(audits(session, "template.updated")) == 1
    missing = client.get("/staff/templates/999999")
    assert missing.status_code == 404 and "Aucun modèle" in missing.get_data(as_text=True)


def test_templates_through_the_api_are_for_admins(client: FlaskClient, session: Session) -> None:
    admin = token_for(session, ADMIN, "admin")
    agent = token_for(session, AGENT, "agent", service_codes=["traffic_signal"])
    body = {
        "service_code": None,
        "status": "waiting",
        "title": "Précisions",
        "body_fr": "Pouvez-vous préciser l'adresse du signalement {tracking_id} ?",
        "body_en": "Could you give the address of report {tracking_id}?",
    }
    assert client.post("/api/v1/staff/templates", json=body, headers=agent).status_code == 403
    unknown = client.post(
        "/api/v1/staff/templates", json={**body, "body_en": "{when}"}, headers=admin
    )
    assert unknown.status_code == 422 and "body_en" in unknown.get_json()["errors"]["json"]
    never = client.post(
        "/api/v1/staff/templates", json={**body, "status": "received"}, headers=admin
    )
    assert never.status_code == 422
    created = client.post("/api/v1/staff/templates", json=body, headers=admin)
    assert created.status_code == 201
    template_id = created.get_json()["id"]
    changed = client.put(
        f"/api/v1/staff/templates/{template_id}", json={**body, "active": False}, headers=admin
    )
    assert changed.status_code == 200 and changed.get_json()["active"] is False
    assert client.get("/api/v1/staff/templates/999999", headers=admin).status_code == 404


def test_one_click_on_a_template_sets_the_status_with_its_text_in_the_reports_language(
    client: FlaskClient, session: Session, make_staff: Callable[..., StaffUser]
) -> None:
    report = make_report(session)
    report.language = "en"
    session.add(report)
    session.commit()
    template = make_template(session)
    make_template(session, service_code="graffiti", title="Not this service")
    signed_in(client, make_staff)
    url = f"/staff/reports/{report.id}"
    shown = page(client, url)
    assert "Intervention planifiée" in shown and "Not this service" not in shown
    target = session.get(Service, "traffic_signal").target_days  # type: ignore[union-attr]
    due = (report.created_at + timedelta(days=target)).date().isoformat()
    expected = (
        f"Report {report.tracking_id} (Traffic signal fault, 1320601): we will fix it by {due}."
    )
    assert expected in shown
    done = post(client, f"{url}/status", {"template_id": str(template.id)}, url)
    assert done.status_code == 302
    found = reload(session, report)
    assert found.status == "in_progress"
    [row] = audits(session, "report.status_set")
    assert row.details["public_note"] == expected
    other = make_template(session, service_code="graffiti", title="x", status="fixed")
    refused = post(client, f"{url}/status", {"template_id": str(other.id)}, url)
    assert refused.status_code == 422 and reload(session, report).status == "in_progress"


# ------------------------------------------------------------------ waiting for the resident


def test_asking_the_resident_needs_the_question_and_shows_on_the_tracking_page(
    client: FlaskClient,
    session: Session,
    make_staff: Callable[..., StaffUser],
    run_jobs: Callable[[], int],
) -> None:
    report = make_report(session)
    signed_in(client, make_staff)
    url = f"/staff/reports/{report.id}"
    shown = html.unescape(page(client, url))
    assert re.search(r'<option value="waiting"\s*>en attente de l\'usager</option>', shown)
    silent = post(client, f"{url}/status", {"status": "waiting"}, url)
    assert silent.status_code == 422
    assert "Écrivez la question" in html.unescape(silent.get_data(as_text=True))
    question = "Le feu est-il celui côté rue de Rome ou côté boulevard ?"
    done = post(client, f"{url}/status", {"status": "waiting", "public_note": question}, url)
    assert done.status_code == 302 and reload(session, report).status == "waiting"
    run_jobs()  # the note is scrubbed, then published
    tracking = page(client, f"/suivi/{report.tracking_id}")
    assert "En attente de précisions de votre part" in tracking and question in tracking
    assert "Waiting for more information from you" in page(
        client, f"/suivi/{report.tracking_id}?lang=en"
    )
    open311 = client.get(f"/open311/v2/requests/{report.id}.json").get_json()
    assert open311[0]["status"] == "open"
    # Still work to do: the queue of open reports keeps it.
    assert f'id="report-{report.id}"' in page(client, "/staff/triage")


# -------------------------------------------------------------------------------------- merging


def pair(session: Session) -> tuple[Report, Report]:
    keep = make_report(session, description="Le feu du carrefour clignote orange depuis ce matin")
    dup = make_report(
        session,
        lat=north(40),
        created=keep.created_at + timedelta(hours=5),
        description="Feu orange qui clignote au carrefour",
    )
    return keep, dup


def test_the_report_page_lists_likely_duplicates_best_first(
    client: FlaskClient, session: Session, make_staff: Callable[..., StaffUser]
) -> None:
    keep, dup = pair(session)
    far = make_report(session, lat=north(400), description="Le feu clignote orange")
    other_kind = make_report(session, code="graffiti", lat=north(10), description="Tag")
    weaker = make_report(
        session,
        lat=north(120),
        created=keep.created_at - timedelta(days=10),
        description="Panne",
    )
    signed_in(client, make_staff)
    shown = page(client, f"/staff/reports/{keep.id}")
    section = shown[shown.index('id="duplicates"') : shown.index('id="nearby"')]
    assert f'data-duplicate="{dup.id}"' in section and f'data-duplicate="{weaker.id}"' in section
    assert section.index(f'data-duplicate="{dup.id}"') < section.index(
        f'data-duplicate="{weaker.id}"'
    )
    assert f'data-duplicate="{far.id}"' not in section
    assert f'data-duplicate="{other_kind.id}"' not in section
    assert "40 m" in section


def test_merging_moves_followers_and_photo_links_both_ways_and_unmerging_restores(
    client: FlaskClient, session: Session, make_staff: Callable[..., StaffUser]
) -> None:
    keep, dup = pair(session)
    dup.photo_name = "abc123.jpg"
    session.add(dup)
    session.commit()
    moved = follower(session, dup, "hmac-1")
    same_person = follower(session, dup, "hmac-2")
    follower(session, keep, "hmac-2")  # already follows the kept report
    signed_in(client, make_staff)
    url = f"/staff/reports/{keep.id}"
    done = post(client, f"{url}/merge", {"duplicate_id": str(dup.id)}, url)
    assert done.status_code == 302
    dup, keep = reload(session, dup), reload(session, keep)
    assert (dup.status, dup.duplicate_of_id) == ("duplicate", keep.id)
    assert (keep.photo_name, dup.photo_name) == ("abc123.jpg", None)
    subs = {s.id: s.report_id for s in session.exec(select(Subscription))}
    assert subs[moved.id] == keep.id and subs[same_person.id] == dup.id
    shown = page(client, f"{url}?saved=merged")
    assert "Signalements fusionnés" in shown and f'href="/staff/reports/{dup.id}"' in shown
    assert 'src="/media/abc123.jpg"' in shown
    other_side = page(client, f"/staff/reports/{dup.id}")
    assert "a été fusionné avec le signalement" in other_side
    tracking = page(client, f"/suivi/{dup.tracking_id}")
    link = f'<a href="/suivi/{keep.tracking_id}?lang=fr">{keep.tracking_id}</a>'
    assert f"Fusionné avec {link}" in tracking
    # Reopened only by un-merging.
    reopen = post(client, f"/staff/reports/{dup.id}/status", {"status": "open"}, url)
    assert reopen.status_code == 409
    assert [a.target for a in audits(session, "report.merged")] == [f"report:{dup.id}"]

    undone = post(client, f"/staff/reports/{dup.id}/unmerge", {}, f"/staff/reports/{dup.id}")
    assert undone.status_code == 302
    dup, keep = reload(session, dup), reload(session, keep)
    assert (dup.status, dup.duplicate_of_id) == ("open", None)
    assert (keep.photo_name, dup.photo_name) == (None, "abc123.jpg")
    assert session.get(Subscription, moved.id).report_id == dup.id  # type: ignore[union-attr]
    assert len(audits(session, "report.unmerged")) == 2
    assert "Fusionné avec" not in page(client, f"/suivi/{dup.tracking_id}")


def test_merges_are_refused_clearly(client: FlaskClient, session: Session) -> None:
    keep, dup = pair(session)
    graffiti = make_report(session, code="graffiti", description="Tag")
    headers = token_for(session, AGENT, "agent", service_codes=["traffic_signal", "graffiti"])
    url = f"/api/v1/staff/reports/{keep.id}/merge"
    assert client.post(url, json={"duplicate_id": keep.id}, headers=headers).status_code == 409
    kind = client.post(url, json={"duplicate_id": graffiti.id}, headers=headers)
    assert kind.status_code == 409 and "categories" in kind.get_json()["message"]
    assert client.post(url, json={}, headers=headers).status_code == 422
    merged = client.post(url, json={"duplicate_id": dup.id}, headers=headers)
    assert merged.status_code == 200
    assert [m["id"] for m in merged.get_json()["merged"]] == [dup.id]
    again = client.post(url, json={"duplicate_id": dup.id}, headers=headers)
    assert again.status_code == 409
    not_merged = client.post(f"/api/v1/staff/reports/{keep.id}/unmerge", headers=headers)
    assert not_merged.status_code == 409
    undone = client.post(f"/api/v1/staff/reports/{dup.id}/unmerge", headers=headers)
    assert undone.status_code == 200 and undone.get_json()["merged_into"] is None


# ---------------------------------------------------------------------------------- role x route

REPORT_PAGES = ["", "/notes", "/merge", "/unmerge"]


@pytest.mark.parametrize("suffix", ["/notes", "/merge", "/unmerge"])
def test_an_agent_of_another_service_gets_404_on_every_case_work_form(
    client: FlaskClient, session: Session, make_staff: Callable[..., StaffUser], suffix: str
) -> None:
    report = make_report(session)
    make_staff("agent.tags@marseille.fr", "agent", service_codes=["graffiti"])
    login(client, "agent.tags@marseille.fr")
    own = make_report(session, code="graffiti", description="Tag")
    token = csrf_token(client, f"/staff/reports/{own.id}")
    data = {"csrf_token": token, "body": "x", "duplicate_id": str(own.id)}
    assert client.post(f"/staff/reports/{report.id}{suffix}", data=data).status_code == 404
    assert client.post(f"/staff/reports/999999{suffix}", data=data).status_code == 404


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/v1/staff/reports/{id}/casework"),
        ("get", "/api/v1/staff/reports/{id}/notes"),
        ("post", "/api/v1/staff/reports/{id}/notes"),
        ("post", "/api/v1/staff/reports/{id}/merge"),
        ("post", "/api/v1/staff/reports/{id}/unmerge"),
    ],
)
def test_case_work_api_roles(client: FlaskClient, session: Session, method: str, path: str) -> None:
    report = make_report(session)
    url = path.format(id=report.id)
    body = {"body": "x"} if path.endswith("notes") else {"duplicate_id": report.id}
    other = token_for(session, "agent.tags@marseille.fr", "agent", service_codes=["graffiti"])
    analyst = token_for(session, "analyste@marseille.fr", "analyst")
    assert getattr(client, method)(url, json=body).status_code == 401
    assert getattr(client, method)(url, json=body, headers=analyst).status_code == 403
    assert getattr(client, method)(url, json=body, headers=other).status_code == 404


def test_template_pages_are_for_admins(
    client: FlaskClient, session: Session, make_staff: Callable[..., StaffUser]
) -> None:
    assert client.get("/staff/templates").status_code == 302  # to the login page
    signed_in(client, make_staff)
    assert client.get("/staff/templates").status_code == 403
    template = make_template(session)
    assert client.get(f"/staff/templates/{template.id}").status_code == 403
    session.expire_all()
    assert session.exec(select(AuditLog).where(col(AuditLog.action).like("template.%"))).all() == []
