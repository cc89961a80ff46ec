"""The ``/staff/triage`` and ``/staff/reports/<id>`` pages: queue, links, forms with CSRF."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from datetime import timedelta

from flask.testing import FlaskClient
from sqlmodel import Session, col, select

from backend.db import utcnow
from backend.models import AuditLog, CategoryCorrection, OutboxMessage, Report, StaffUser
from backend.services.contacts import ContactDetails, make_contact
from tests.staff.conftest import csrf_token, login
from tests.staff.triage_data import link, make_accident, make_report, north

AGENT = "agent.feux@marseille.fr"


def without_token(text: str) -> str:
    """A page without its fresh CSRF tokens nor the asked URL (in the language switch)."""
    text = re.sub(r'name="csrf_token" value="[^"]+"', "", text)
    return re.sub(r'href="/staff/reports/\d+[^"]*"', "", text)


def page(client: FlaskClient, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, response.status_code
    return html.unescape(response.get_data(as_text=True))


def reload(session: Session, report: Report) -> Report:
    session.expire_all()
    found = session.get(Report, report.id)
    assert found is not None
    return found


def signed_in_agent(client: FlaskClient, make_staff: Callable[..., StaffUser]) -> None:
    make_staff(AGENT, "agent", service_codes=["traffic_signal"])
    assert login(client, AGENT).status_code == 302


def test_the_start_page_leads_agents_to_the_triage_queue(
    client: FlaskClient, make_staff: Callable[..., StaffUser]
) -> None:
    signed_in_agent(client, make_staff)
    start = page(client, "/staff/")
    assert 'href="/staff/triage"' in start and "File de tri" in start
    assert "Triage queue" in page(client, "/staff/?lang=en")


def test_the_start_page_of_an_analyst_has_no_triage(
    client: FlaskClient, make_staff: Callable[..., StaffUser]
) -> None:
    make_staff("analyste@marseille.fr", "analyst")
    login(client, "analyste@marseille.fr")
    start = page(client, "/staff/")
    assert "/staff/triage" not in start and 'href="/staff/signals"' in start
    refused = client.get("/staff/triage")
    assert refused.status_code == 403 and "ne donne pas accès" in refused.get_data(as_text=True)


def test_the_queue_needs_a_login(client: FlaskClient) -> None:
    response = client.get("/staff/triage")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/staff/login?next=/staff/triage")


def test_the_queue_shows_priority_parts_and_links_linked_report_first(
    client: FlaskClient, session: Session, make_staff: Callable[..., StaffUser]
) -> None:
    created = utcnow() - timedelta(days=2)
    plain = make_report(session, created=created, lat=north(2000), description="Feu éteint")
    linked = make_report(session, created=created, description="Feu orange clignotant")
    make_accident(session, 1, when=created + timedelta(days=1), severity="hospitalised")
    link(session, plain, linked)
    make_report(session, code="graffiti", description="Tag sur la façade")
    signed_in_agent(client, make_staff)

    queue = page(client, "/staff/triage")
    assert queue.index(f'id="report-{linked.id}"') < queue.index(f'id="report-{plain.id}"')
    assert "Accident près d'un feu signalé en panne" in queue and "blessé hospitalisé" in queue
    assert "incertitude 1,2" in queue and "liens 2,0" in queue and "retard 1,0" in queue
    assert "Tag sur la façade" not in queue  # another service
    assert f'href="/staff/reports/{linked.id}"' in queue
    english = page(client, "/staff/triage?lang=en")
    assert "Accident near a reported traffic-signal fault" in english and "links 2.0" in english
    assert page(client, "/staff/triage?needs_triage=0").count('id="report-') == 0


def test_the_report_page_shows_links_prediction_history_and_both_forms(
    client: FlaskClient, session: Session, make_staff: Callable[..., StaffUser]
) -> None:
    report = make_report(session, hint="streetlight")
    make_accident(session, 2, when=report.created_at + timedelta(hours=6), lum_label="nuit")
    link(session, report)
    signed_in_agent(client, make_staff)
    shown = page(client, f"/staff/reports/{report.id}")
    assert "Le feu du carrefour clignote orange depuis ce matin" in shown
    assert "Accident près d'un feu signalé en panne" in shown and "nuit" in shown
    assert "Feu tricolore défectueux\u00a0: 40 %" in shown
    assert "Éclairage public en panne" in shown  # the resident's hint (and a candidate)
    assert "fr_lanterne_textcat-0.1.0" in shown
    assert f'action="/staff/reports/{report.id}/category"' in shown
    assert f'action="/staff/reports/{report.id}/status"' in shown
    assert shown.count('name="csrf_token"') >= 3  # logout, category, status
    assert '<option value="received">' not in shown  # never offered
    assert "Aucune coordonnée." in shown


def test_the_category_form_needs_its_csrf_token_then_stores_a_gold_label(
    client: FlaskClient, session: Session, make_staff: Callable[..., StaffUser]
) -> None:
    report = make_report(session)
    signed_in_agent(client, make_staff)
    url = f"/staff/reports/{report.id}/category"
    forged = client.post(url, data={"service_code": "streetlight"})
    assert forged.status_code == 400 and "expiré" in forged.get_data(as_text=True)
    wrong = client.post(url, data={"service_code": "streetlight", "csrf_token": "forged"})
    assert wrong.status_code == 400
    assert session.exec(select(CategoryCorrection)).all() == []

    token = csrf_token(client, f"/staff/reports/{report.id}")
    unknown = client.post(url, data={"service_code": "unicorns", "csrf_token": token})
    assert unknown.status_code == 400
    assert "n'existe pas dans le catalogue" in html.unescape(unknown.get_data(as_text=True))

    done = client.post(url, data={"service_code": "traffic_signal", "csrf_token": token})
    assert done.status_code == 302
    assert done.headers["Location"] == "/staff/triage?saved=category"
    [correction] = session.exec(select(CategoryCorrection)).all()
    assert (correction.service_code, correction.author) == ("traffic_signal", AGENT)
    assert reload(session, report).needs_triage is False
    queue = page(client, "/staff/triage?saved=category")
    assert "Catégorie enregistrée" in queue and f'id="report-{report.id}"' in queue  # my work
    to_check = page(client, "/staff/triage?needs_triage=1")
    assert f'id="report-{report.id}"' not in to_check  # its category waits for nobody now


def test_the_status_form_records_the_history_or_explains_a_refusal(
    client: FlaskClient, session: Session, make_staff: Callable[..., StaffUser]
) -> None:
    report = make_report(session)
    signed_in_agent(client, make_staff)
    url = f"/staff/reports/{report.id}/status"
    assert client.post(url, data={"status": "fixed"}).status_code == 400  # no CSRF token
    token = csrf_token(client, f"/staff/reports/{report.id}")

    refused = client.post(url, data={"status": "received", "csrf_token": token})
    assert refused.status_code == 409
    assert "ne revient jamais" in html.unescape(refused.get_data(as_text=True))
    rejected = client.post(url, data={"status": "rejected", "csrf_token": token})
    assert rejected.status_code == 422 and "obligatoire" in rejected.get_data(as_text=True)
    assert reload(session, report).status == "open"

    done = client.post(
        url, data={"status": "fixed", "public_note": "Feu réparé.", "csrf_token": token}
    )
    assert done.status_code == 302
    assert done.headers["Location"] == f"/staff/reports/{report.id}?saved=status"
    assert reload(session, report).status == "fixed"
    shown = page(client, f"/staff/reports/{report.id}?saved=status")
    assert "Statut enregistré." in shown and "Feu réparé." in shown and AGENT in shown
    session.expire_all()
    jobs = sorted(m.job_path for m in session.exec(select(OutboxMessage)).all())
    assert jobs == ["workers.jobs.refresh_aggregates", "workers.jobs.scrub_note"]


def test_the_report_page_shows_the_published_note_and_what_was_removed(
    client: FlaskClient,
    session: Session,
    make_staff: Callable[..., StaffUser],
    run_jobs: Callable[[], int],
) -> None:
    report = make_report(session)
    signed_in_agent(client, make_staff)
    token = csrf_token(client, f"/staff/reports/{report.id}")
    note = "Vu avec M. Jean Dupont au 06 98 76 54 32 : réparé demain."
    done = client.post(
        f"/staff/reports/{report.id}/status",
        data={"status": "in_progress", "public_note": note, "csrf_token": token},
    )
    assert done.status_code == 302
    waiting = page(client, f"/staff/reports/{report.id}")
    assert note in waiting and "rien n'en est publié pour l'instant" in waiting
    run_jobs()
    shown = page(client, f"/staff/reports/{report.id}")
    assert "Publiée : <q>Vu avec M. [nom] au [téléphone] : réparé demain.</q>" in shown
    assert "(retiré : nom, téléphone)" in shown
    assert "rien n'en est publié" not in shown
    english = page(client, f"/staff/reports/{report.id}?lang=en")
    assert "(removed: name, phone)" in english


def test_contact_details_are_shown_on_a_logged_post_only(
    client: FlaskClient, session: Session, make_staff: Callable[..., StaffUser]
) -> None:
    from backend.api.reports import contact_cipher

    report = make_report(session)
    assert report.id is not None
    signed_in_agent(client, make_staff)
    details = ContactDetails(phone="+33612345678")
    session.add(make_contact(cipher=contact_cipher(), report_id=report.id, details=details))
    session.commit()
    shown = page(client, f"/staff/reports/{report.id}")
    assert "+33612345678" not in shown and "lecture journalisée" in shown
    url = f"/staff/reports/{report.id}/contact"
    assert client.post(url).status_code == 400  # no CSRF token: no read
    token = csrf_token(client, f"/staff/reports/{report.id}")
    revealed = client.post(url, data={"csrf_token": token})
    assert revealed.status_code == 200 and "+33612345678" in revealed.get_data(as_text=True)
    session.expire_all()
    reads = session.exec(select(AuditLog).where(col(AuditLog.action) == "contact.read")).all()
    assert [(r.actor, r.details) for r in reads] == [(AGENT, {"fields": ["phone"]})]
    # The language switch of that page (a GET of the form's URL) leads back to the report.
    switched = client.get(f"{url}?lang=en")
    assert switched.status_code == 302
    assert switched.headers["Location"] == f"/staff/reports/{report.id}?lang=en"


def test_a_report_of_another_service_looks_like_a_missing_one(
    client: FlaskClient, session: Session, make_staff: Callable[..., StaffUser]
) -> None:
    hidden = make_report(session, code="graffiti")
    signed_in_agent(client, make_staff)
    token = csrf_token(client, "/staff/triage")
    for suffix, data in [
        ("", None),
        ("/category", {"service_code": "traffic_signal", "csrf_token": token}),
        ("/status", {"status": "fixed", "csrf_token": token}),
        ("/contact", {"csrf_token": token}),
    ]:
        if data is None:
            seen, missing = (client.get(f"/staff/reports/{i}{suffix}") for i in (hidden.id, 98765))
        else:
            seen, missing = (
                client.post(f"/staff/reports/{i}{suffix}", data=data) for i in (hidden.id, 98765)
            )
        assert seen.status_code == missing.status_code == 404, suffix
        # The same page, apart from the CSRF tokens and the asked URL.
        assert without_token(seen.get_data(as_text=True)) == without_token(
            missing.get_data(as_text=True)
        )
        assert "Aucun signalement n'a ce numéro." in html.unescape(seen.get_data(as_text=True))
    stored = reload(session, hidden)
    assert stored.service_code == "graffiti" and stored.status == "open"
