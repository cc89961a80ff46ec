"""Back-office updates (mySociety extension) and API keys: idempotency, rights, rate limits."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import redis
from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import Session, select
from werkzeug.test import TestResponse

from backend.cli import main
from backend.cli_apikey import apikey_group
from backend.db import utcnow
from backend.models import (
    AggregateCell,
    ApiKey,
    ExternalUpdate,
    Report,
    ReportUpdate,
)
from backend.services import apikeys, outbox
from tests.open311.conftest import BASE, validate

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


def test_keys_are_stored_hashed_and_revocable(
    client: FlaskClient, post_request: PostRequest, session: Session
) -> None:
    key, plain = apikeys.create_key(session=session, name="partenaire")
    assert plain not in (key.key_hash, key.prefix) and plain.startswith(key.prefix)
    assert key.key_hash == apikeys.hash_key(plain) and len(key.key_hash) == 64
    assert post_request(api_key=plain).status_code == 201
    apikeys.revoke_key(session=session, name="partenaire")
    refused = post_request(api_key=plain)
    assert refused.status_code == 403
    assert "revoked" in refused.get_json()[0]["description"]


def test_rate_limit_is_per_key(client: FlaskClient, session: Session) -> None:
    _slow, slow = apikeys.create_key(session=session, name="lent", rate_limit="3/minute")
    _fast, fast = apikeys.create_key(session=session, name="rapide", rate_limit="50/minute")
    codes = [client.get(f"{BASE}/services.json?api_key={slow}").status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    limited = client.get(f"{BASE}/services.xml?api_key={slow}")
    assert limited.status_code == 429 and b"<errors>" in limited.get_data()
    # Another key (and the same client with it) has its own budget.
    assert client.get(f"{BASE}/services.json?api_key={fast}").status_code == 200


def test_cli_create_list_revoke(app: Flask, session: Session) -> None:
    # `lanterne apikey` is this group (invoked directly: loading every CLI plugin is slow).
    assert main.commands["apikey"] is apikey_group
    runner = app.test_cli_runner()
    created = runner.invoke(
        apikey_group, ["create", "fixmystreet", "--rate-limit", "10/second", "--allow-updates"]
    )
    assert created.exit_code == 0, created.output
    plain = created.stdout.strip().splitlines()[0]
    key = session.exec(select(ApiKey).where(ApiKey.name == "fixmystreet")).one()
    assert key.key_hash == apikeys.hash_key(plain)
    assert (key.rate_limit, key.can_post_updates) == ("10/second", True)
    listed = runner.invoke(apikey_group, ["list"])
    assert "fixmystreet" in listed.output and plain not in listed.output
    assert "10/second" in listed.output and "active" in listed.output
    dup = runner.invoke(apikey_group, ["create", "fixmystreet"])
    assert dup.exit_code != 0 and "already exists" in dup.output
    bad = runner.invoke(apikey_group, ["create", "autre", "--rate-limit", "vite"])
    assert bad.exit_code != 0 and "not understood" in bad.output
    assert runner.invoke(apikey_group, ["revoke", "fixmystreet"]).exit_code == 0
    assert "revoked" in runner.invoke(apikey_group, ["list"]).output
    missing = runner.invoke(apikey_group, ["revoke", "personne"])
    assert missing.exit_code != 0 and "no key" in missing.output
