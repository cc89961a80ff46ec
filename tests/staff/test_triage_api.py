"""The staff triage API: the queue ranked by priority (links count), a report, corrections,
statuses, scope and roles."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient
from rq import Queue, SimpleWorker
from sqlmodel import Session, col, select
from werkzeug.test import TestResponse

from backend.db import utcnow
from backend.jobs import QUEUES
from backend.models import (
    AuditLog,
    CategoryCorrection,
    OutboxMessage,
    Report,
    ReportUpdate,
)
from backend.services.classification import gold_examples
from tests.staff.triage_data import LAT, link, make_accident, make_report, north, token_for

TRIAGE = "/api/v1/staff/triage"
REFRESH_JOB = "workers.jobs.refresh_aggregates"


def body(response: TestResponse) -> Any:
    data = response.get_json()
    assert data is not None, response.get_data(as_text=True)
    return data


def reload(session: Session, report: Report) -> Report:
    session.expire_all()
    found = session.get(Report, report.id)
    assert found is not None
    return found


def audit_rows(session: Session, action: str) -> list[AuditLog]:
    session.expire_all()
    return list(session.exec(select(AuditLog).where(AuditLog.action == action)))


def outbox_rows(session: Session) -> list[OutboxMessage]:
    session.expire_all()
    return list(session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id))))


@pytest.fixture
def agent(session: Session) -> dict[str, str]:
    """An agent of the traffic signals."""
    return token_for(session, "agent.feux@marseille.fr", "agent", service_codes=["traffic_signal"])


# --- the queue --------------------------------------------------------------------------------


def test_a_report_linked_to_an_accident_ranks_above_an_otherwise_equal_one(
    client: FlaskClient, session: Session, agent: dict[str, str]
) -> None:
    created = utcnow() - timedelta(days=2)
    # The unlinked one is made first: with equal priorities it would come first (older id).
    plain = make_report(session, created=created, lat=north(2000))
    linked = make_report(session, created=created)
    make_accident(session, 1, when=created + timedelta(days=1), severity="hospitalised")
    link(session, plain, linked)

    response = client.get(TRIAGE, headers=agent)
    assert response.status_code == 200, response.json
    items = body(response)
    assert [item["id"] for item in items] == [linked.id, plain.id]
    top, other = items
    # Same uncertainty (confidence 0.4 -> 2 x 0.6) and lateness (2 days / 2 target days)...
    for item in items:
        assert item["priority_parts"]["uncertainty"] == pytest.approx(1.2)
        assert item["priority_parts"]["lateness"] == pytest.approx(1.0, abs=0.01)
        assert item["target_days"] == 2 and item["age_days"] == pytest.approx(2.0, abs=0.01)
    # ...and the link adds its rule's weight 1 x hospitalised 2.
    assert top["priority_parts"]["links"] == pytest.approx(2.0)
    assert other["priority_parts"]["links"] == 0.0 and other["links"] == []
    assert top["priority"] == pytest.approx(sum(top["priority_parts"].values()))
    assert top["priority"] > other["priority"]
    [shown] = top["links"]
    assert shown["kind"] == "road_accident" and shown["lag_hours"] == pytest.approx(24.0)
    assert shown["distance_m"] == pytest.approx(30, abs=0.5)
    assert shown["rule_label"].startswith("Accident près d'un feu signalé en panne")
    assert shown["details"] == {"severity": "hospitalised"}
    assert json.loads(response.headers["X-Pagination"])["total"] == 2

    english = body(client.get(f"{TRIAGE}?lang=en", headers=agent))
    assert english[0]["links"][0]["rule_label"].startswith("Accident near a reported traffic")
    assert english[0]["service_name"] == "Traffic signal fault"


def test_lower_confidence_and_older_reports_come_first(
    client: FlaskClient, session: Session, agent: dict[str, str]
) -> None:
    now = utcnow()
    sure = make_report(session, created=now - timedelta(days=1), confidence=0.8)
    unsure = make_report(session, created=now - timedelta(days=1), confidence=0.1)
    old = make_report(session, created=now - timedelta(days=5), confidence=0.8)
    items = body(client.get(TRIAGE, headers=agent))
    # old: 0.4 + min(5/2, 3) = 2.9; unsure: 1.8 + 0.5 = 2.3; sure: 0.4 + 0.5 = 0.9
    assert [item["id"] for item in items] == [old.id, unsure.id, sure.id]
    assert items[0]["priority_parts"]["lateness"] == pytest.approx(2.5, abs=0.01)


def test_the_queue_filters_and_pages(client: FlaskClient, session: Session) -> None:
    roads = token_for(session, "chef.voirie@marseille.fr", "supervisor", department="roads")
    signal = make_report(session, area_code="1320601")
    pothole = make_report(session, code="road_damage", area_code="1320702")
    routed = make_report(session, needs_triage=False, confidence=0.97)
    started = make_report(session, status="in_progress")
    make_report(session, status="fixed")  # closed: out of the default queue
    make_report(session, code="graffiti")  # another department

    def ids(query: str = "") -> set[int]:
        response = client.get(f"{TRIAGE}{query}", headers=roads)
        assert response.status_code == 200, response.json
        return {item["id"] for item in body(response)}

    assert ids() == {signal.id, pothole.id, started.id}
    assert ids("?needs_triage=false") == {routed.id}
    assert ids("?service_code=road_damage") == {pothole.id}
    assert ids("?area_code=1320601") == {signal.id, started.id}
    assert ids("?status=in_progress") == {started.id}
    assert len(ids("?status=fixed")) == 1
    assert ids("?service_code=graffiti") == set()  # outside the department: nothing
    page = client.get(f"{TRIAGE}?page=2&page_size=2", headers=roads)
    assert len(body(page)) == 1
    assert json.loads(page.headers["X-Pagination"]) == {
        "total": 3,
        "total_pages": 2,
        "first_page": 1,
        "last_page": 2,
        "page": 2,
        "previous_page": 1,
    }
    bad = client.get(f"{TRIAGE}?status=lost", headers=roads)
    assert bad.status_code == 422 and "status" in body(bad)["errors"]["query"]


def test_an_agent_sees_only_the_reports_of_their_services(
    client: FlaskClient, session: Session, agent: dict[str, str]
) -> None:
    mine = make_report(session)
    make_report(session, code="graffiti")
    make_report(session, code="streetlight")
    assert [item["id"] for item in body(client.get(TRIAGE, headers=agent))] == [mine.id]
    assert body(client.get(f"{TRIAGE}?service_code=graffiti", headers=agent)) == []


# --- one report -----------------------------------------------------------------------------


def test_the_report_shows_prediction_hint_history_and_links(
    client: FlaskClient, session: Session, agent: dict[str, str]
) -> None:
    report = make_report(session, hint="streetlight")
    accident = make_accident(session, 7, when=report.created_at + timedelta(hours=5))
    link(session, report)
    response = client.get(f"/api/v1/staff/reports/{report.id}", headers=agent)
    assert response.status_code == 200, response.json
    shown = body(response)
    assert shown["description"] == "Le feu du carrefour clignote orange depuis ce matin"
    assert shown["prediction"] == {
        "service_code": "traffic_signal",
        "service_name": "Feu tricolore défectueux",
        "confidence": 0.4,
        "model_version": "fr_lanterne_textcat-0.1.0",
        "top": [
            {"service_code": "traffic_signal", "service_name": "Feu tricolore défectueux",
             "confidence": 0.4},
            {"service_code": "streetlight", "service_name": "Éclairage public en panne",
             "confidence": 0.3},
            {"service_code": "road_sign",
             "service_name": "Panneau de signalisation endommagé ou manquant", "confidence": 0.2},
        ],
    }  # fmt: skip
    assert shown["service_hint"] == "streetlight"
    assert shown["service_hint_name"] == "Éclairage public en panne"
    assert [step["status"] for step in shown["history"]] == ["received", "open"]
    [linked] = shown["links"]
    assert linked["incident_id"] == accident.id and linked["lag_hours"] == pytest.approx(5.0)
    assert shown["priority_parts"]["links"] == pytest.approx(1.0)
    assert shown["allowed_statuses"] == ["in_progress", "waiting", "fixed", "closed", "rejected"]
    assert shown["has_contact"] is False and shown["contact"] is None


def test_a_resident_report_goes_from_intake_to_triage_with_its_contact_kept_apart(
    client: FlaskClient, session: Session, run_jobs: Callable[[], int]
) -> None:
    resident = client.post(
        "/api/v1/reports",
        json={
            "description": "La farola de mi calle no funciona desde hace una semana",
            "service_code": "streetlight",
            "contact": {"email": "vecina@example.org"},
            "lat": 43.2951,
            "lon": 5.3800,
        },
    )
    assert resident.status_code == 201
    run_jobs()  # the real worker: classified, not sure, so it waits for triage
    general = token_for(session, "accueil@marseille.fr", "supervisor", department="general")
    [item] = body(client.get(TRIAGE, headers=general))
    assert item["needs_triage"] is True and item["service_code"] == "other"
    assert item["priority_parts"]["uncertainty"] > 0

    detail = client.get(f"/api/v1/staff/reports/{item['id']}", headers=general)
    shown = body(detail)
    assert shown["service_hint"] == "streetlight" and shown["has_contact"] is True
    assert shown["contact"] is None and "vecina" not in detail.get_data(as_text=True)
    assert audit_rows(session, "contact.read") == []

    asked = body(
        client.get(f"/api/v1/staff/reports/{item['id']}?include_contact=true", headers=general)
    )
    assert asked["contact"] == {
        "email": "vecina@example.org",
        "phone": None,
        "consent_notifications": False,
    }
    [read] = audit_rows(session, "contact.read")
    assert read.actor == "accueil@marseille.fr" and read.target == f"report:{item['id']}"
    assert read.details == {"fields": ["email"]}


# --- category ------------------------------------------------------------------------------


def test_a_correction_is_a_gold_label_leaves_the_queue_and_relinks_the_report(
    client: FlaskClient,
    session: Session,
    redis_client: redis.Redis,
    run_jobs: Callable[[], int],
) -> None:
    staff = token_for(
        session,
        "agent.voirie@marseille.fr",
        "agent",
        service_codes=["traffic_signal", "street_furniture"],
    )
    report = make_report(
        session, code="street_furniture", description="Le feu est tombé, poteau plié"
    )
    make_accident(session, 3, when=report.created_at + timedelta(hours=20))
    link(session, report)  # street furniture has no linking rule: no link yet
    assert [item["id"] for item in body(client.get(TRIAGE, headers=staff))] == [report.id]

    response = client.post(
        f"/api/v1/staff/reports/{report.id}/category",
        json={"service_code": "traffic_signal"},
        headers=staff,
    )
    assert response.status_code == 200, response.json
    assert body(response)["service_code"] == "traffic_signal"
    assert body(response)["needs_triage"] is False

    stored = reload(session, report)
    assert stored.service_code == "traffic_signal" and not stored.needs_triage
    [correction] = session.exec(select(CategoryCorrection)).all()
    assert correction.author == "agent.voirie@marseille.fr"
    assert correction.predicted_code == "street_furniture"
    assert gold_examples(session=session) == [("Le feu est tombé, poteau plié", "traffic_signal")]
    [logged] = audit_rows(session, "report.category_corrected")
    assert logged.target == f"report:{report.id}" and logged.actor == "agent.voirie@marseille.fr"
    assert logged.details["from"] == "street_furniture" and logged.details["to"] == "traffic_signal"
    assert body(client.get(TRIAGE, headers=staff)) == []  # out of triage
    # The links depend on the category, and the public figures on the service: both queued.
    jobs = outbox_rows(session)
    assert sorted(m.job_path for m in jobs) == ["workers.jobs.link_report", REFRESH_JOB]
    assert all(m.args == [report.id] for m in jobs)

    run_jobs()
    assert all(m.done_at is not None for m in outbox_rows(session))  # the relay will not resend
    routed = body(client.get(f"{TRIAGE}?needs_triage=false", headers=staff))
    assert [item["id"] for item in routed] == [report.id]
    assert routed[0]["links"][0]["rule"] == "traffic_signal-road_accident"
    shown = body(client.get(f"/api/v1/staff/reports/{report.id}", headers=staff))
    assert [c["service_code"] for c in shown["corrections"]] == ["traffic_signal"]
    assert Queue("default", connection=redis_client).count == 0


@pytest.mark.parametrize(
    ("payload", "status", "field"),
    [
        ({"service_code": "unicorns"}, 400, "service_code"),
        ({"service_code": ""}, 422, "service_code"),
        ({}, 422, "service_code"),
        ({"service_code": 12}, 422, "service_code"),
    ],
)
def test_a_bad_category_is_refused_clearly(
    client: FlaskClient,
    session: Session,
    agent: dict[str, str],
    payload: dict[str, Any],
    status: int,
    field: str,
) -> None:
    report = make_report(session)
    response = client.post(
        f"/api/v1/staff/reports/{report.id}/category", json=payload, headers=agent
    )
    assert response.status_code == status
    answer = body(response)
    assert answer["code"] == status and field in json.dumps(answer["errors"])
    if status == 400:
        assert "unknown service_code 'unicorns'" in answer["message"]
    assert session.exec(select(CategoryCorrection)).all() == []
    assert reload(session, report).needs_triage is True
    assert outbox_rows(session) == []


# --- status --------------------------------------------------------------------------------


def test_a_status_change_is_in_the_history_and_queues_the_public_refresh(
    client: FlaskClient,
    session: Session,
    redis_client: redis.Redis,
    agent: dict[str, str],
    run_jobs: Callable[[], int],
) -> None:
    report = make_report(session)
    response = client.post(
        f"/api/v1/staff/reports/{report.id}/status",
        json={"status": "in_progress", "public_note": "Une équipe passe demain matin."},
        headers=agent,
    )
    assert response.status_code == 200, response.json
    assert body(response)["status"] == "in_progress"
    assert body(response)["history"][-1] == {
        "status": "in_progress",
        "public_note": "Une équipe passe demain matin.",
        # No worker runs here: the note waits for its scrubbing, and is not public yet.
        "public_note_published": None,
        "public_note_removed": None,
        "scrub_pending": True,
        "author": "agent.feux@marseille.fr",
        "created_at": body(response)["history"][-1]["created_at"],
    }
    session.expire_all()
    steps = session.exec(
        select(ReportUpdate)
        .where(ReportUpdate.report_id == report.id)
        .order_by(col(ReportUpdate.id))
    ).all()
    assert [s.status for s in steps] == ["received", "open", "in_progress"]
    scrub, refresh = outbox_rows(session)
    assert refresh.job_path == REFRESH_JOB and refresh.args == [report.id]
    assert refresh.dispatched_at is None  # waits for the relay
    assert scrub.job_path == "workers.jobs.scrub_note" and scrub.queue == "high"
    [logged] = audit_rows(session, "report.status_set")
    assert logged.details == {
        "from": "open",
        "to": "in_progress",
        "public_note": "Une équipe passe demain matin.",
    }
    # Not scrubbed yet: the tracking API shows the step, not the note.
    pending = body(client.get(f"/api/v1/reports/{report.tracking_id}"))
    assert pending["history"][-1]["public_note"] is None
    run_jobs()
    # The resident reads the note on the tracking API, without the author.
    public = body(client.get(f"/api/v1/reports/{report.tracking_id}"))
    assert public["status"] == "in_progress"
    assert public["history"][-1]["public_note"] == "Une équipe passe demain matin."
    assert "agent.feux" not in json.dumps(public)

    closed = client.post(
        f"/api/v1/staff/reports/{report.id}/status", json={"status": "fixed"}, headers=agent
    )
    assert closed.status_code == 200 and reload(session, report).closed_at is not None
    reopened = client.post(
        f"/api/v1/staff/reports/{report.id}/status", json={"status": "open"}, headers=agent
    )
    assert reopened.status_code == 200 and reload(session, report).closed_at is None


@pytest.mark.parametrize(
    ("start", "payload", "status", "words"),
    [
        ("open", {"status": "received"}, 409, "never goes back to 'received'"),
        ("open", {"status": "open"}, 409, "already 'open'"),
        ("open", {"status": "duplicate"}, 409, "merging"),
        ("closed", {"status": "fixed"}, 409, "from 'closed' it may go to: open"),
        ("open", {"status": "rejected"}, 422, "public note is required"),
        ("open", {"status": "rejected", "public_note": "   "}, 422, "public note is required"),
        ("open", {"status": "lost"}, 422, "Must be one of"),
        ("open", {"public_note": "hello"}, 422, "Missing data"),
        ("open", {"status": "fixed", "public_note": "x" * 2001}, 422, "Longer than maximum"),
    ],
)
def test_a_refused_status_change_changes_nothing(
    client: FlaskClient,
    session: Session,
    agent: dict[str, str],
    start: str,
    payload: dict[str, Any],
    status: int,
    words: str,
) -> None:
    report = make_report(session, status=start)
    response = client.post(f"/api/v1/staff/reports/{report.id}/status", json=payload, headers=agent)
    assert response.status_code == status
    assert words in json.dumps(body(response))
    assert reload(session, report).status == start
    assert outbox_rows(session) == [] and audit_rows(session, "report.status_set") == []
    count = session.exec(select(ReportUpdate).where(ReportUpdate.report_id == report.id)).all()
    assert len(count) == 2


# --- scope and roles -----------------------------------------------------------------------


def test_a_report_outside_the_agents_services_answers_like_a_missing_one(
    client: FlaskClient, session: Session, agent: dict[str, str]
) -> None:
    hidden = make_report(session, code="graffiti")
    requests: list[tuple[str, str, dict[str, Any] | None]] = [
        ("get", "", None),
        ("get", "?include_contact=true", None),
        ("post", "/category", {"service_code": "traffic_signal"}),
        ("post", "/status", {"status": "in_progress"}),
    ]
    for method, suffix, payload in requests:
        answers = [
            getattr(client, method)(
                f"/api/v1/staff/reports/{report_id}{suffix}", json=payload, headers=agent
            )
            for report_id in (hidden.id, 987_654)
        ]
        seen, missing = answers
        assert seen.status_code == missing.status_code == 404, (method, suffix)
        assert seen.get_data() == missing.get_data()
        assert body(seen)["message"] == "No report has this id."
    stored = reload(session, hidden)
    assert stored.service_code == "graffiti" and stored.status == "open"
    assert outbox_rows(session) == []
    assert audit_rows(session, "report.category_corrected") == []
    assert audit_rows(session, "report.status_set") == []
    assert audit_rows(session, "contact.read") == []


@pytest.mark.parametrize("role", ["analyst", "admin"])
def test_roles_without_triage_get_403_and_no_token_401(
    client: FlaskClient, session: Session, role: str
) -> None:
    report = make_report(session)
    headers = token_for(session, f"{role}@marseille.fr", role)
    calls: list[tuple[str, str, dict[str, Any] | None]] = [
        ("get", TRIAGE, None),
        ("get", f"/api/v1/staff/reports/{report.id}", None),
        ("post", f"/api/v1/staff/reports/{report.id}/category", {"service_code": "graffiti"}),
        ("post", f"/api/v1/staff/reports/{report.id}/status", {"status": "fixed"}),
    ]
    for method, url, payload in calls:
        refused = getattr(client, method)(url, json=payload, headers=headers)
        assert refused.status_code == 403, url
        assert role in body(refused)["message"]
        anonymous = getattr(client, method)(url, json=payload)
        assert anonymous.status_code == 401
        assert anonymous.headers["WWW-Authenticate"].startswith("Bearer")
    assert reload(session, report).status == "open"


def test_an_agent_without_services_sees_nothing(client: FlaskClient, session: Session) -> None:
    make_report(session)
    nobody = token_for(session, "nouveau@marseille.fr", "agent")
    assert body(client.get(TRIAGE, headers=nobody)) == []


def test_openapi_documents_the_triage_endpoints(client: FlaskClient) -> None:
    spec = body(client.get("/api/v1/openapi.json"))
    for path, method in [
        ("/api/v1/staff/triage", "get"),
        ("/api/v1/staff/reports/{report_id}", "get"),
        ("/api/v1/staff/reports/{report_id}/category", "post"),
        ("/api/v1/staff/reports/{report_id}/status", "post"),
    ]:
        operation = spec["paths"][path][method]
        assert operation["security"] == [{"bearerAuth": []}], path
        assert {"200", "401", "403"} <= set(operation["responses"]), path
    params = {p["name"] for p in spec["paths"]["/api/v1/staff/triage"]["get"]["parameters"]}
    assert {"needs_triage", "service_code", "area_code", "status", "page", "page_size"} <= params


def test_the_web_process_serves_triage_without_importing_the_workers(
    app: Flask, session: Session, agent: dict[str, str]
) -> None:
    """The house rule: the web never imports ``workers`` (nor spaCy), triage included."""
    import os
    import subprocess
    import sys

    report = make_report(session)
    make_accident(session, 9, when=report.created_at + timedelta(hours=3))
    link(session, report)
    code = (
        "import json, sys; from backend.wsgi import app; c = app.test_client(); "
        f"h = {agent!r}; "
        "q = c.get('/api/v1/staff/triage', headers=h); "
        f"d = c.get('/api/v1/staff/reports/{report.id}', headers=h); "
        "print(json.dumps([q.status_code, len(q.get_json()[0]['links']), d.status_code, "
        "sorted(m for m in sys.modules if m.split('.')[0] in ('workers', 'spacy', 'thinc'))]))"
    )
    out = subprocess.run(  # noqa: S603
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={
            **os.environ,
            "DATABASE_URL": app.config["DATABASE_URL"],
            "REDIS_URL": app.config["REDIS_URL"],
            "LANTERNE_INSTANCE_PATH": app.instance_path,
        },
    )
    assert json.loads(out.stdout.strip().splitlines()[-1]) == [200, 1, 200, []]


def test_an_accident_outside_the_rules_window_adds_nothing(
    client: FlaskClient, session: Session, agent: dict[str, str]
) -> None:
    report = make_report(session, lat=LAT)
    make_accident(session, 4, when=report.created_at + timedelta(days=4))  # after 72 h
    link(session, report)
    [item] = body(client.get(TRIAGE, headers=agent))
    assert item["links"] == [] and item["priority_parts"]["links"] == 0.0


@pytest.fixture
def listening_worker(redis_client: redis.Redis) -> Iterator[None]:
    """A worker registered on the queues, as a running ``lanterne worker`` is."""
    worker = SimpleWorker(
        [Queue(name, connection=redis_client) for name in QUEUES],
        connection=redis_client,
        name=f"listening-{time.monotonic_ns()}",
    )
    worker.register_birth()
    try:
        yield
    finally:
        worker.register_death()


def test_the_status_answer_shows_the_published_note_and_what_was_removed(
    app: Flask,
    session: Session,
    run_jobs: Callable[[], int],
    listening_worker: None,
    agent: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from workers import classification

    classification.scrubber()  # a worker loads it once, before its first job
    # A generous bound: the answer comes as soon as the worker has published the note.
    monkeypatch.setitem(app.config, "CLASSIFY_WAIT_SECONDS", 60)
    report = make_report(session)
    note = "Vu avec M. Jean Dupont (06 98 76 54 32, jean.dupont@example.com) : réparé demain."
    answers: list[TestResponse] = []

    def write_note() -> None:
        with app.test_client() as browser:
            answers.append(
                browser.post(
                    f"/api/v1/staff/reports/{report.id}/status",
                    json={"status": "in_progress", "public_note": note},
                    headers=agent,
                )
            )

    writing = threading.Thread(target=write_note)
    writing.start()
    deadline = time.monotonic() + 60
    while writing.is_alive() and time.monotonic() < deadline:
        run_jobs()  # the relay, then a worker, as in production
        writing.join(timeout=0.05)
    writing.join(timeout=5)
    [answer] = answers
    assert answer.status_code == 200, answer.json
    step = body(answer)["history"][-1]
    assert step["public_note"] == note  # the agent's own words, staff-only
    assert step["public_note_published"] == (
        "Vu avec M. [nom] ([téléphone], [e-mail]) : réparé demain."
    )
    assert step["public_note_removed"] == ["email", "name", "phone"]
    assert step["scrub_pending"] is False
