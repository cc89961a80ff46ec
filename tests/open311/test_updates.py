"""Back-office updates (mySociety extension): idempotency, rights, late updates, privacy."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import redis
from flask.testing import FlaskClient
from sqlmodel import Session, select
from werkzeug.test import TestResponse

from backend.db import utcnow
from backend.models import (
    AggregateCell,
    ExternalUpdate,
    Report,
    ReportStatus,
    ReportUpdate,
)
from backend.services import outbox
from backend.services.reports import set_status
from tests.open311.conftest import BASE, created_id, validate

PostRequest = Callable[..., TestResponse]


def post_update(client: FlaskClient, key: str, **fields: str) -> TestResponse:
    data = {"api_key": key, "status": "IN_PROGRESS", "description": "Intervention planifiée"}
    data.update(fields)
    return client.post(f"{BASE}/servicerequestupdates.json", data=data)


def test_updates_are_idempotent_on_update_id(
    client: FlaskClient, post_request: PostRequest, backoffice_key: str, session: Session
) -> None:
    request_id = post_request().get_json()[0]["service_request_id"]
    at = utcnow().isoformat()
    first = post_update(
        client, backoffice_key, service_request_id=request_id, update_id="U1", updated_datetime=at
    )
    again = post_update(
        client, backoffice_key, service_request_id=request_id, update_id="U1", updated_datetime=at
    )
    assert first.status_code == again.status_code == 200
    assert first.get_json() == again.get_json()
    steps = session.exec(select(ReportUpdate).where(ReportUpdate.report_id == int(request_id)))
    assert [u.status for u in steps] == ["received", "in_progress"]
    assert len(session.exec(select(ExternalUpdate)).all()) == 1
    # The same update_id with other content is refused, not silently merged.
    changed = post_update(
        client,
        backoffice_key,
        service_request_id=request_id,
        update_id="U1",
        updated_datetime=at,
        status="FIXED",
    )
    assert changed.status_code == 400
    validate("errors", changed.get_json())


def test_a_late_update_does_not_overwrite_a_newer_status(
    client: FlaskClient, post_request: PostRequest, backoffice_key: str, session: Session
) -> None:
    request_id = post_request().get_json()[0]["service_request_id"]
    now = utcnow()
    fixed = post_update(
        client,
        backoffice_key,
        service_request_id=request_id,
        update_id="U2",
        status="FIXED",
        updated_datetime=now.isoformat(),
    )
    assert fixed.status_code == 200
    late = post_update(
        client,
        backoffice_key,
        service_request_id=request_id,
        update_id="U1",
        status="INVESTIGATING",
        updated_datetime=(now - timedelta(hours=2)).isoformat(),
    )
    assert late.status_code == 200
    session.expire_all()
    report = session.get(Report, int(request_id))
    assert report is not None and report.status == "fixed"
    statuses = [u["status"] for u in client.get(f"{BASE}/servicerequestupdates.json").get_json()]
    assert statuses == ["in_progress", "fixed"]  # in time order


def test_a_back_office_fix_reaches_the_public_figures(
    client: FlaskClient,
    post_request: PostRequest,
    backoffice_key: str,
    session: Session,
    redis_client: redis.Redis,
    run_jobs: Callable[[], int],
) -> None:
    def deliver_outbox() -> None:
        run_jobs()  # relays the outbox first
        session.expire_all()

    request_id = post_request().get_json()[0]["service_request_id"]
    deliver_outbox()  # classified and opened; its figures wait for the next publication
    fixed = post_update(
        client,
        backoffice_key,
        service_request_id=request_id,
        update_id="U9",
        status="FIXED",
        updated_datetime=utcnow().isoformat(),
    )
    assert fixed.status_code == 200
    deliver_outbox()  # the refresh queued with the update counts it at once
    cell = session.exec(select(AggregateCell)).one()
    assert (cell.reports, cell.fixed) == (1, 1)
    assert outbox.pending_count(session=session) == 0


def test_update_errors(
    client: FlaskClient, post_request: PostRequest, api_key: str, backoffice_key: str
) -> None:
    request_id = post_request().get_json()[0]["service_request_id"]
    at = utcnow().isoformat()
    cases = [
        (
            post_update(
                client, api_key, service_request_id=request_id, update_id="1", updated_datetime=at
            ),
            403,
        ),  # a resident app's key may not
        (
            post_update(
                client, "", service_request_id=request_id, update_id="1", updated_datetime=at
            ),
            403,
        ),
        (
            post_update(
                client,
                backoffice_key,
                service_request_id="999999",
                update_id="1",
                updated_datetime=at,
            ),
            404,
        ),
        (
            post_update(
                client,
                backoffice_key,
                service_request_id=request_id,
                update_id="1",
                updated_datetime=at,
                status="DONE",
            ),
            400,
        ),
        (
            post_update(client, backoffice_key, service_request_id=request_id, updated_datetime=at),
            400,
        ),
        (
            post_update(
                client,
                backoffice_key,
                service_request_id=request_id,
                update_id="1",
                updated_datetime=(utcnow() + timedelta(days=1)).isoformat(),
            ),
            400,
        ),
    ]
    for response, status in cases:
        assert response.status_code == status, response.get_data(as_text=True)
        validate("errors", response.get_json())


def test_updates_of_categories_about_people_are_not_listed(
    client: FlaskClient, post_request: PostRequest, session: Session
) -> None:
    noise_id = created_id(post_request(service_code="noise", lat="43.2991", long="5.3815"))
    light_id = created_id(post_request(lat="43.2991", long="5.3815"))
    for report_id in (noise_id, light_id):
        report = session.get(Report, report_id)
        assert report is not None
        set_status(session=session, report=report, status=ReportStatus.IN_PROGRESS, author="a")
    session.commit()
    updates = client.get(f"{BASE}/servicerequestupdates.json").get_json()
    assert {u["service_request_id"] for u in updates} == {str(light_id)}
