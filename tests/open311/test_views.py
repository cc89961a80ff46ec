"""GeoReport v2 conformance, from the spec (every endpoint, format and error); API keys."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import Session, select
from werkzeug.test import TestResponse

from backend.cli import main
from backend.cli_apikey import apikey_group
from backend.db import utcnow
from backend.models import ApiKey, Report, ReportStatus
from backend.services import apikeys
from backend.services.reports import set_status
from tests.open311.conftest import BASE, parse_xml, validate, xml_items

PostRequest = Callable[..., TestResponse]


def json_of(response: TestResponse, status: int = 200) -> Any:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    return response.get_json()


def test_discovery_in_both_formats(client: FlaskClient) -> None:
    body = json_of(client.get(f"{BASE}/discovery.json"))
    validate("discovery", body)
    assert body["endpoints"][0]["url"].endswith("/open311/v2")
    root = parse_xml(client.get(f"{BASE}/discovery.xml"))
    assert root.tag == "discovery"
    formats = [f.text for f in root.findall("endpoints/endpoint/formats/format")]
    assert formats == ["text/xml", "application/json"]


def test_service_list_in_both_formats(client: FlaskClient) -> None:
    services = json_of(client.get(f"{BASE}/services.json"))
    validate("services", services)
    by_code = {s["service_code"]: s for s in services}
    assert all(isinstance(code, str) for code in by_code)
    # metadata says whether a definition must be fetched: true exactly where attributes exist.
    assert by_code["road_damage"]["metadata"] is True
    assert by_code["public_order"]["metadata"] is False
    assert by_code["streetlight"]["service_name"] == "Éclairage public en panne"
    english = json_of(client.get(f"{BASE}/services.json?lang=en"))
    assert {s["service_code"]: s for s in english}["streetlight"]["service_name"] == (
        "Street light out"
    )
    root = parse_xml(client.get(f"{BASE}/services.xml"))
    assert root.tag == "services"
    items = xml_items(root)
    assert [i["service_code"] for i in items] == [s["service_code"] for s in services]
    assert {i["service_code"]: i["metadata"] for i in items}["road_damage"] == "true"


def test_service_definition_in_both_formats(client: FlaskClient) -> None:
    definition = json_of(client.get(f"{BASE}/services/road_damage.json"))
    validate("service_definition", definition)
    size = definition["attributes"][0]
    assert (size["code"], size["datatype"], size["required"]) == ("size", "singlevaluelist", True)
    assert [v["key"] for v in size["values"]] == ["small", "medium", "large"]
    bins = json_of(client.get(f"{BASE}/services/waste_bins.json"))
    validate("service_definition", bins)
    assert bins["attributes"][0]["datatype"] == "multivaluelist"
    root = parse_xml(client.get(f"{BASE}/services/road_damage.xml"))
    assert root.tag == "service_definition"
    assert root.findtext("service_code") == "road_damage"
    keys = [k.text for k in root.findall("attributes/attribute[code='size']/values/value/key")]
    assert keys == ["small", "medium", "large"]
    # A service without attributes has an empty definition, not an error.
    assert json_of(client.get(f"{BASE}/services/other.json"))["attributes"] == []


def test_round_trip_post_request_token_updates(
    client: FlaskClient,
    post_request: PostRequest,
    backoffice_key: str,
    session: Session,
    run_jobs: Callable[[], int],
) -> None:
    created = json_of(
        post_request(
            service_code="road_damage",
            description="Nid-de-poule profond devant le 12",
            **{"attribute[size]": "large"},
        ),
        201,
    )
    validate("request_created", created)
    request_id = created[0]["service_request_id"]
    assert isinstance(request_id, str) and request_id.isdigit()

    one = json_of(client.get(f"{BASE}/requests/{request_id}.json"))
    validate("requests", one)
    assert one[0]["service_request_id"] == request_id
    assert one[0]["status"] == "open"
    assert one[0]["service_code"] == "road_damage"
    assert one[0]["agency_responsible"] == "roads"

    # The report's tracking id is its token: it leads back to the same service_request_id.
    report = session.get(Report, int(request_id))
    assert report is not None
    token = json_of(client.get(f"{BASE}/tokens/{report.tracking_id}.json"))
    validate("token", token)
    assert token[0] == {"service_request_id": request_id, "token": report.tracking_id}
    token_xml = parse_xml(client.get(f"{BASE}/tokens/{report.tracking_id}.xml"))
    assert token_xml.findtext("request/service_request_id") == request_id

    now = utcnow()
    posted = client.post(
        f"{BASE}/servicerequestupdates.json",
        data={
            "api_key": backoffice_key,
            "service_request_id": request_id,
            "update_id": "GMAO-77",
            "status": "FIXED",
            "updated_datetime": now.isoformat(),
            "description": "Enrobé refait.",
        },
    )
    answer = json_of(posted)
    validate("update_created", answer)
    run_jobs()  # the worker scrubs the back office's note, which publishes it

    updates = json_of(client.get(f"{BASE}/servicerequestupdates.json"))
    validate("updates", updates)
    mine = [u for u in updates if u["service_request_id"] == request_id]
    assert mine[-1]["update_id"] == answer[0]["update_id"]
    assert (mine[-1]["status"], mine[-1]["description"]) == ("fixed", "Enrobé refait.")
    root = parse_xml(client.get(f"{BASE}/servicerequestupdates.xml"))
    assert root.tag == "service_request_updates"
    assert root.find("request_update/update_id") is not None

    closed = json_of(client.get(f"{BASE}/requests/{request_id}.json"))[0]
    assert closed["status"] == "closed"
    assert closed["status_notes"] == "Enrobé refait."


def test_post_request_in_xml(post_request: PostRequest) -> None:
    response = post_request("xml", description="Lampadaire éteint rue Paradis")
    assert response.status_code == 201
    root = parse_xml(response)
    assert root.tag == "service_requests"
    assert (root.findtext("request/service_request_id") or "").isdigit()
    assert root.find("request/token") is None  # realtime: the id, never both
    # Lanterne's extension: the resident's token and their tracking page.
    assert len(root.findtext("request/resident_token") or "") == 32
    assert "/suivi/" in (root.findtext("request/tracking_url") or "")


def test_request_fields_in_xml_follow_the_spec(
    client: FlaskClient, post_request: PostRequest
) -> None:
    request_id = post_request(description="Lampadaire éteint").get_json()[0]["service_request_id"]
    root = parse_xml(client.get(f"{BASE}/requests/{request_id}.xml"))
    request = root.find("request")
    assert request is not None
    tags = [child.tag for child in request]
    assert tags == [
        "service_request_id", "status", "status_notes", "service_name", "service_code",
        "description", "agency_responsible", "service_notice", "requested_datetime",
        "updated_datetime", "expected_datetime", "address", "address_id", "zipcode", "lat",
        "long", "media_url",
    ]  # fmt: skip
    requested = request.findtext("requested_datetime") or ""
    assert requested.endswith("+00:00")


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_errors_have_the_spec_shape(client: FlaskClient, fmt: str, api_key: str) -> None:
    cases = [
        (client.get(f"{BASE}/requests/999999.{fmt}"), 404),
        (client.get(f"{BASE}/requests/abc.{fmt}"), 404),
        (client.get(f"{BASE}/requests/99999999999999999999.{fmt}"), 404),
        (client.get(f"{BASE}/services/no_such_service.{fmt}"), 404),
        (client.get(f"{BASE}/tokens/nope.{fmt}"), 404),
        (client.get(f"{BASE}/services.{fmt}?jurisdiction_id=paris.fr"), 404),
        (client.post(f"{BASE}/requests.{fmt}", data={"service_code": "streetlight"}), 403),
        (
            client.post(
                f"{BASE}/requests.{fmt}", data={"api_key": "lnt_wrong", "service_code": "x"}
            ),
            403,
        ),
        (client.post(f"{BASE}/requests.{fmt}", data={"api_key": api_key}), 400),
        (client.get(f"{BASE}/requests.{fmt}?status=pending"), 400),
        (client.get(f"{BASE}/requests.{fmt}?start_date=yesterday"), 400),
        (client.delete(f"{BASE}/requests.{fmt}"), 405),
        (client.post(f"{BASE}/services.{fmt}"), 405),
    ]
    for response, status in cases:
        assert response.status_code == status, (response.request.path, response.get_data())
        if fmt == "json":
            body = response.get_json()
            validate("errors", body)
            assert body[0]["code"] == status
        else:
            root = parse_xml(response)
            assert root.tag == "errors"
            assert root.findtext("error/code") == str(status)
            assert root.findtext("error/description")
    other = client.get(f"{BASE}/services.{fmt}?jurisdiction_id=paris.fr")
    assert b"marseille.fr" in other.get_data()
    assert client.delete(f"{BASE}/requests.{fmt}").headers["Allow"] == "GET, POST, HEAD, OPTIONS"


def test_unknown_paths_and_formats_are_spec_shaped_404s(client: FlaskClient) -> None:
    for path in ("nothing", "services.csv", "requests/12", "a/b/c.json"):
        response = client.get(f"{BASE}/{path}")
        assert response.status_code == 404, path
        validate("errors", response.get_json())
    # The configured jurisdiction, given explicitly, is served.
    assert client.get(f"{BASE}/services.json?jurisdiction_id=marseille.fr").status_code == 200


def test_post_request_errors(client: FlaskClient, post_request: PostRequest) -> None:
    def errors(response: TestResponse, status: int) -> str:
        assert response.status_code == status, response.get_data(as_text=True)
        body = response.get_json()
        validate("errors", body)
        return " ".join(e["description"] for e in body)

    assert "location" in errors(post_request(lat=None, long=None), 400)
    assert "together" in errors(post_request(long=None), 400)
    assert "not found" in errors(post_request(service_code="potholes"), 404)
    assert "size" in errors(post_request(service_code="road_damage"), 400)
    wrong = post_request(service_code="road_damage", **{"attribute[size]": "huge"})
    assert "huge" in errors(wrong, 400)
    assert "colour" in errors(post_request(**{"attribute[colour]": "red"}), 400)
    assert "email" in errors(post_request(email="not-an-address"), 400)
    assert "media_url" in errors(post_request(media_url="ftp://x.example/a.jpg"), 400)
    assert "refused" in errors(post_request(lat="48.8566", long="2.3522"), 400)  # Paris
    assert "4000" in errors(post_request(description="x" * 4001), 400).replace(",", "")


def test_get_requests_filters_window_and_pages(
    client: FlaskClient, post_request: PostRequest, session: Session
) -> None:
    ids = [
        post_request(description=f"Lampadaire {i}").get_json()[0]["service_request_id"]
        for i in range(5)
    ]
    bins = post_request(
        service_code="waste_bins",
        description="Poubelles pleines",
        **{"attribute[bin_type][]": ["recycling", "glass"]},
    ).get_json()[0]["service_request_id"]
    # Age one report beyond the default 90 days, close another.
    old = session.get(Report, int(ids[0]))
    assert old is not None
    old.created_at = utcnow() - timedelta(days=120)
    closed = session.get(Report, int(ids[1]))
    assert closed is not None
    set_status(session=session, report=closed, status=ReportStatus.FIXED, public_note="Réparé")
    session.add(old)
    session.commit()

    def get(query: str) -> list[str]:
        body = json_of(client.get(f"{BASE}/requests.json?{query}"))
        validate("requests", body)
        return [r["service_request_id"] for r in body]

    recent = get("")
    assert ids[0] not in recent and len(recent) == 5
    assert recent == sorted(recent, key=int, reverse=True)  # newest first
    assert get("status=closed") == [ids[1]]
    assert set(get("status=open")) == set(recent) - {ids[1]}
    assert set(get("status=open,closed")) == set(recent)
    assert get("service_code=waste_bins") == [bins]
    assert set(get("service_code=waste_bins,streetlight")) == set(recent)
    # service_request_id overrides every other filter, the 90-day window included.
    assert set(get(f"service_request_id={ids[0]},{bins}&status=closed")) == {ids[0], bins}
    start = (utcnow() - timedelta(days=150)).isoformat()
    end = (utcnow() - timedelta(days=100)).isoformat()
    assert get(f"start_date={start}&end_date={end}".replace("+", "%2B")) == [ids[0]]
    pages = [get(f"page_size=2&page={n}") for n in (1, 2, 3, 4)]
    assert [len(p) for p in pages] == [2, 2, 1, 0]
    assert sum(pages, []) == recent
    too_wide = client.get(
        f"{BASE}/requests.json?start_date=2026-01-01T00:00:00Z&end_date=2026-06-01T00:00:00Z"
    )
    assert too_wide.status_code == 400
    assert "90 days" in too_wide.get_json()[0]["description"]
    assert client.get(f"{BASE}/requests.json?page_size=1001").status_code == 400
    assert session.exec(select(Report)).all()  # nothing was deleted by reading


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
