"""Hostile and odd input: a 4xx in each interface's own error shape, never a 500, nothing stored.

NUL characters and unpaired surrogates anywhere the app reads, JSON nested too deeply, ids
past the databases' INTEGER and URIs too long; on SQLite and on PostgreSQL (DATABASE_URL).
"""

from __future__ import annotations

import http.client
import io
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import Session, func, select
from werkzeug.routing import IntegerConverter
from werkzeug.test import TestResponse

from backend.http_input import DB_INT_MAX, MAX_JSON_DEPTH, DatabaseIdConverter, UnsafeJSONError
from backend.models import OutboxMessage, Report
from backend.services import apikeys
from tests.staff.triage_data import make_report, token_for

ROOT = Path(__file__).resolve().parents[2]
VIEUX_PORT = {"lat": 43.2951, "lon": 5.3740}
PAST_POSTGRES = 2**31  # 2147483648: one past INTEGER
PAST_EVERYTHING = 1750042711076991926272  # past SQLite's 64-bit integers too
NUL = "\x00"
SURROGATE = "\ud800"


def stored(session: Session) -> tuple[int, int]:
    """How many reports and outbox rows the database holds."""
    session.expire_all()
    reports = session.exec(select(func.count()).select_from(Report)).one()
    outbox = session.exec(select(func.count()).select_from(OutboxMessage)).one()
    return reports, outbox


def api_error(response: TestResponse, code: int) -> str:
    """The JSON API's error shape ``{code, status, message}``; returns the message.

    (A URL that matches no route, such as an id past the range, carries no message.)
    """
    assert response.status_code == code, response.get_data(as_text=True)[:300]
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert body["code"] == code and body["status"], body
    message: str = body.get("message", "")
    return message


def open311_error(response: TestResponse, code: int, fmt: str = "json") -> str:
    """Open311's error list, ``[{code, description}]`` or ``<errors><error>``."""
    assert response.status_code == code, response.get_data(as_text=True)[:300]
    if fmt == "xml":
        root = ET.fromstring(response.get_data())  # noqa: S314 (our own output)
        assert root.tag == "errors"
        assert root.findtext("error/code") == str(code)
        return root.findtext("error/description") or ""
    (error,) = response.get_json()
    assert error["code"] == code
    description: str = error["description"]
    return description


def html_error(response: TestResponse, code: int) -> str:
    """A page's HTML error page."""
    assert response.status_code == code, response.get_data(as_text=True)[:300]
    assert response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert page.lstrip().lower().startswith("<!doctype html>")
    return page


@pytest.fixture
def agent(session: Session) -> dict[str, str]:
    """An agent of the traffic signals."""
    return token_for(session, "agent.feux@marseille.fr", "agent", service_codes=["traffic_signal"])


@pytest.fixture
def open311_key(session: Session) -> str:
    """A resident app's Open311 key."""
    _key, plain = apikeys.create_key(session=session, name="appli-mobile")
    return plain


# --- NUL characters and unpaired surrogates ----------------------------------------------


@pytest.mark.parametrize(
    "bad",
    [NUL, SURROGATE, "\x01", "\x1b", "\ufffe"],
    ids=["nul", "surrogate", "soh", "esc", "fffe"],
)
@pytest.mark.parametrize("field", ["description", "address"])
def test_unstorable_characters_in_a_json_report_are_refused_and_nothing_is_stored(
    client: FlaskClient, session: Session, field: str, bad: str
) -> None:
    before = stored(session)
    report = {"description": "Lampadaire éteint", "address": "Quai du Port", **VIEUX_PORT}
    report[field] = f"Rue de la{bad} République"
    message = api_error(client.post("/api/v1/reports", json=report), 400)
    assert "NUL" in message and "unpaired surrogate" in message
    assert stored(session) == before
    # The same report without the character is taken: only the character was refused.
    report[field] = "Rue de la République"
    assert client.post("/api/v1/reports", json=report).status_code == 201
    assert stored(session)[0] == before[0] + 1


def test_tabs_and_line_breaks_are_kept(client: FlaskClient, session: Session) -> None:
    text = "Lampadaire éteint\r\ndepuis lundi\tdevant le n° 12"
    response = client.post("/api/v1/reports", json={"description": text, **VIEUX_PORT})
    assert response.status_code == 201, response.json
    session.expire_all()
    assert session.exec(select(Report.description)).one() == text


def test_control_characters_would_break_open311_xml_so_they_are_refused_there_too(
    client: FlaskClient, session: Session, open311_key: str
) -> None:
    before = stored(session)
    form = {
        "api_key": open311_key,
        "service_code": "streetlight",
        "description": "Lampadaire\x0béteint",
        "lat": "43.2951",
        "long": "5.3740",
    }
    assert "'description'" in open311_error(
        client.post("/open311/v2/requests.xml", data=form), 400, "xml"
    )
    assert stored(session) == before


@pytest.mark.parametrize("raw", [b"\xed\xa0\x80", b"\xef\xbf\xbe"], ids=["surrogate", "fffe"])
def test_unstorable_characters_encoded_raw_in_a_json_body_are_refused(
    client: FlaskClient, session: Session, raw: bytes
) -> None:
    before = stored(session)
    body = b'{"description": "trou ' + raw + b'", "lat": 43.2951, "lon": 5.374}'
    response = client.post("/api/v1/reports", data=body, content_type="application/json")
    api_error(response, 400)
    assert stored(session) == before


def test_nul_in_a_multipart_report_field_or_file_name_is_refused(
    client: FlaskClient, session: Session
) -> None:
    before = stored(session)
    form = {"description": f"Dépôt{NUL} sauvage", "lat": "43.2951", "lon": "5.3740"}
    response = client.post("/api/v1/reports", data=form, content_type="multipart/form-data")
    assert "form field 'description'" in api_error(response, 400)
    form = {
        "description": "Dépôt sauvage",
        "lat": "43.2951",
        "lon": "5.3740",
        "photo": (io.BytesIO(b"not read"), f"IMG{NUL}.jpg", "image/jpeg"),
    }
    response = client.post("/api/v1/reports", data=form, content_type="multipart/form-data")
    assert "file field 'photo'" in api_error(response, 400)
    assert stored(session) == before


def test_a_multipart_part_with_an_unreadable_name_is_a_400(
    client: FlaskClient, session: Session
) -> None:
    before = stored(session)
    # The backslash escapes the closing quote: werkzeug reads no name for this part.
    body = (
        b'--XX\r\nContent-Disposition: form-data; name="ab\\"\r\n\r\n{}\r\n'
        b'--XX\r\nContent-Disposition: form-data; name="description"\r\n\r\nTrou\r\n--XX--\r\n'
    )
    response = client.post(
        "/api/v1/reports", data=body, content_type="multipart/form-data; boundary=XX"
    )
    assert "no readable name" in api_error(response, 400)
    assert stored(session) == before


def test_nul_in_headers_the_app_reads_is_refused(
    client: FlaskClient, session: Session, agent: dict[str, str]
) -> None:
    before = stored(session)
    report = {"description": "Nid-de-poule", **VIEUX_PORT}
    response = client.post("/api/v1/reports", json=report, headers={"Idempotency-Key": f"k{NUL}1"})
    assert "Idempotency-Key" in api_error(response, 400)
    token = agent["Authorization"]
    bad_token = {"Authorization": f"{token[:20]}{NUL}{token[20:]}"}
    assert "Authorization" in api_error(client.get("/api/v1/staff/me", headers=bad_token), 400)
    assert stored(session) == before
    assert client.get("/api/v1/staff/me", headers=agent).status_code == 200


def test_nul_in_a_tracking_id_path_is_refused_on_every_interface(
    client: FlaskClient, session: Session
) -> None:
    report = make_report(session)
    tracking = report.tracking_id
    assert client.get(f"/api/v1/reports/{tracking}").status_code == 200
    assert "path" in api_error(client.get(f"/api/v1/reports/{tracking}%00"), 400)
    feedback = {"fixed": True, "satisfaction": 5}
    api_error(client.post(f"/api/v1/reports/{tracking}%00/feedback", json=feedback), 400)
    api_error(client.delete(f"/api/v1/reports/%00{tracking}/contact"), 400)
    html_error(client.get(f"/suivi/{tracking}%00"), 400)
    html_error(client.post(f"/suivi/{tracking}%00", data={"fixed": "yes"}), 400)
    html_error(client.get("/quartiers/13%0001"), 400)
    open311_error(client.get(f"/open311/v2/requests/{report.id}%00.json"), 400)
    open311_error(client.get(f"/open311/v2/tokens/{tracking}%00.json"), 400)
    open311_error(client.get(f"/open311/v2/tokens/{tracking}%00.xml"), 400, "xml")


def test_nul_in_a_query_string_is_refused_on_every_interface(
    client: FlaskClient, agent: dict[str, str]
) -> None:
    message = api_error(client.get("/api/v1/staff/triage?area_code=13%0001", headers=agent), 400)
    assert "query parameter 'area_code'" in message
    assert client.get("/api/v1/staff/triage?area_code=1320601", headers=agent).status_code == 200
    api_error(client.get("/api/v1/indicators?area=%00"), 400)
    api_error(client.get("/api/v1/signals?status=open%00", headers=agent), 400)
    open311_error(client.get("/open311/v2/requests.json?service_code=streetlight%00"), 400)
    open311_error(client.get("/open311/v2/requests.xml?status=open%00"), 400, "xml")
    html_error(client.get("/?lang=fr%00"), 400)
    html_error(client.get("/staff/login?next=%00"), 400)


@pytest.mark.parametrize("field", ["service_code", "description", "api_key"])
def test_nul_in_an_open311_post_is_refused_in_its_own_shape_and_nothing_is_stored(
    client: FlaskClient, session: Session, open311_key: str, field: str
) -> None:
    before = stored(session)
    form = {
        "api_key": open311_key,
        "service_code": "streetlight",
        "description": "Lampadaire éteint",
        "lat": "43.2951",
        "long": "5.3740",
    }
    form[field] = form[field][:5] + NUL + form[field][5:]
    description = open311_error(client.post("/open311/v2/requests.json", data=form), 400)
    assert f"'{field}'" in description
    open311_error(client.post("/open311/v2/requests.xml", data=form), 400, "xml")
    assert stored(session) == before


def test_nul_in_a_staff_page_form_is_refused_with_the_staff_error_page(
    client: FlaskClient,
) -> None:
    page = html_error(client.post("/staff/login", data={"email": f"a{NUL}@x.fr"}), 400)
    assert "Lanterne" in page


# --- JSON nested too deeply ----------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        "[" * 100_000,
        '{"a":' * 5_000,
        "[" * 100_000 + "]" * 100_000,
        '{"description": "trou", "lat": 43.2951, "lon": 5.374, "x": '
        + "[" * (MAX_JSON_DEPTH)
        + "]" * (MAX_JSON_DEPTH)
        + "}",
    ],
    ids=["100k-brackets", "5k-objects", "100k-closed", "one-past-the-limit"],
)
def test_json_nested_too_deeply_is_a_400(client: FlaskClient, session: Session, body: str) -> None:
    before = stored(session)
    response = client.post("/api/v1/reports", data=body, content_type="application/json")
    assert f"nested deeper than {MAX_JSON_DEPTH} levels" in api_error(response, 400)
    assert stored(session) == before
    # Any JSON endpoint, not only intake.
    response = client.post("/api/v1/classify", data=body, content_type="application/json")
    api_error(response, 400)


def test_json_at_the_depth_limit_is_read_as_usual(client: FlaskClient) -> None:
    # The report object is level 1: the unknown field's lists fill the remaining levels.
    nested = "[" * (MAX_JSON_DEPTH - 1) + "]" * (MAX_JSON_DEPTH - 1)
    body = f'{{"description": "trou", "lat": 43.2951, "lon": 5.374, "x": {nested}}}'
    response = client.post("/api/v1/reports", data=body, content_type="application/json")
    # Past the guard: the schema's own answer about the unknown field.
    assert response.status_code == 422, response.json
    assert "x" in str(response.json["errors"]), response.json


@pytest.mark.parametrize(
    "document",
    [
        '{"a": ["\\u0000"]}',
        b'{"a": ["\\u0000"]}',
        '{"\\ud800": 1}',
        '["\ufffe"]',
        '["x\ud800"]',
        '{"a": "\\u0001"}'.encode("utf-16"),
        "[" * (MAX_JSON_DEPTH + 1) + "]" * (MAX_JSON_DEPTH + 1),
    ],
)
def test_the_apps_json_provider_refuses_what_no_answer_can_carry(
    app: Flask, document: str | bytes
) -> None:
    with pytest.raises(UnsafeJSONError):
        app.json.loads(document)


def test_the_apps_json_provider_reads_ordinary_documents(app: Flask) -> None:
    text = '{"description": "Lampadaire éteint\\n\\u00e9", "tags": [[1], {"a": null}]}'
    expected = {"description": "Lampadaire éteint\né", "tags": [[1], {"a": None}]}
    assert app.json.loads(text) == expected
    assert app.json.loads(text.encode()) == expected
    assert app.json.loads(text.encode("utf-16")) == expected


def test_malformed_json_keeps_its_usual_answer(client: FlaskClient) -> None:
    response = client.post("/api/v1/reports", data='{"a": ', content_type="application/json")
    assert response.status_code == 400
    assert response.json["code"] == 400


# --- ids past the databases' INTEGER -------------------------------------------------------


def integer_routes(app: Flask) -> list[tuple[str, str, str]]:
    """(rule, argument, method) of every route with an integer in its path."""
    routes = []
    for rule in app.url_map.iter_rules():
        for argument, converter in rule._converters.items():
            if isinstance(converter, IntegerConverter):
                for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
                    routes.append((rule.rule, argument, method))
    return routes


def test_every_integer_route_is_bounded_to_the_databases_integer(app: Flask) -> None:
    routes = integer_routes(app)
    assert len({rule for rule, _a, _m in routes}) >= 9  # staff reports, signals, their pages
    for rule in app.url_map.iter_rules():
        for argument, converter in rule._converters.items():
            if isinstance(converter, IntegerConverter):
                assert isinstance(converter, DatabaseIdConverter), (rule.rule, argument)
                assert converter.max == DB_INT_MAX


@pytest.mark.parametrize("number", [PAST_POSTGRES, PAST_EVERYTHING])
def test_ids_past_the_integer_range_are_404_on_every_integer_route(
    app: Flask, client: FlaskClient, agent: dict[str, str], number: int
) -> None:
    body = {"service_code": "streetlight", "status": "in_progress", "public_note": "vu"}
    for rule, argument, method in integer_routes(app):
        path = re.sub(rf"<[^<>]*:{argument}>", str(number), rule)
        assert str(number) in path, rule
        response = client.open(path, method=method, json=body, headers=agent)
        assert response.status_code == 404, (method, path, response.get_data(as_text=True)[:200])


@pytest.mark.parametrize("number", [PAST_POSTGRES, PAST_EVERYTHING])
def test_staff_report_endpoints_answer_404_in_the_api_shape(
    client: FlaskClient, agent: dict[str, str], number: int
) -> None:
    base = f"/api/v1/staff/reports/{number}"
    api_error(client.get(base, headers=agent), 404)
    category = {"service_code": "streetlight"}
    api_error(client.post(f"{base}/category", json=category, headers=agent), 404)
    status = {"status": "in_progress", "public_note": "Une équipe passe demain."}
    api_error(client.post(f"{base}/status", json=status, headers=agent), 404)


def test_the_largest_integer_id_reaches_the_view_and_is_a_plain_404(
    client: FlaskClient, agent: dict[str, str]
) -> None:
    base = f"/api/v1/staff/reports/{DB_INT_MAX}"
    assert "report" in api_error(client.get(base, headers=agent), 404).lower()
    category = {"service_code": "streetlight"}
    api_error(client.post(f"{base}/category", json=category, headers=agent), 404)
    status = {"status": "in_progress", "public_note": "Une équipe passe demain."}
    api_error(client.post(f"{base}/status", json=status, headers=agent), 404)
    assert client.get(f"/api/v1/signals/{DB_INT_MAX}", headers=agent).status_code in (403, 404)


# --- URI too long --------------------------------------------------------------------------


def test_a_uri_too_long_is_a_414_in_each_interfaces_shape(app: Flask, client: FlaskClient) -> None:
    limit = app.config["MAX_URI_BYTES"]
    padding = "a" * limit
    assert str(limit) in api_error(client.get(f"/api/v1/services?q={padding}"), 414)
    open311_error(client.get(f"/open311/v2/services.json?q={padding}"), 414)
    open311_error(client.get(f"/open311/v2/services.xml?q={padding}"), 414, "xml")
    html_error(client.get(f"/?q={padding}"), 414)
    html_error(client.get(f"/staff/login?q={padding}"), 414)
    # Just under the limit is served as usual.
    path = "/api/v1/services?q="
    assert client.get(path + "a" * (limit - len(path))).status_code == 200


def _free_port() -> int:
    # A port the system says is free now (two suites on one machine never pick the same one).
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _procfile_web() -> list[str]:
    """The Procfile's web command, run as a Procfile runner runs it (through the shell)."""
    line = next(
        line for line in (ROOT / "Procfile").read_text().splitlines() if line.startswith("web:")
    )
    command = line.removeprefix("web:").strip()
    assert command.startswith("gunicorn "), command
    return ["/bin/sh", "-c", f"exec {command}"]


@pytest.fixture
def gunicorn_url(database_url: str, redis_url: str, tmp_path: Path) -> Iterator[tuple[str, int]]:
    """A real gunicorn serving the app with the Procfile's web command."""
    port = _free_port()
    env: dict[str, Any] = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "LANTERNE_INSTANCE_PATH": str(tmp_path),
        "LANTERNE_MEDIA_PATH": str(tmp_path / "media"),
        "LANTERNE_HOST": "127.0.0.1",
        "PORT": str(port),
        "WEB_CONCURRENCY": "1",
        "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
    }
    process = subprocess.Popen(  # noqa: S603 (our own command line)
        _procfile_web(),
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"gunicorn did not start (exit code {process.poll()})")
            time.sleep(0.2)
        yield "127.0.0.1", port
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def test_gunicorn_lets_a_long_uri_through_to_the_apps_json_414(
    app: Flask, gunicorn_url: tuple[str, int]
) -> None:
    host, port = gunicorn_url
    limit = app.config["MAX_URI_BYTES"]
    # Longer than gunicorn's own default request line (4094 bytes), under its maximum (8190).
    paths = {
        "/api/v1/services?q=" + "a" * 6000: "application/json",
        "/open311/v2/services.json?q=" + "a" * 6000: "application/json",
        "/?q=" + "a" * 6000: "text/html",
    }
    for path, mimetype in paths.items():
        connection = http.client.HTTPConnection(host, port, timeout=30)
        try:
            connection.request("GET", path)
            response = connection.getresponse()
            body = response.read().decode()
        finally:
            connection.close()
        assert response.status == 414, body[:300]
        assert response.getheader("Content-Type", "").startswith(mimetype), body[:300]
        if mimetype == "application/json":  # the pages' error page says it in words
            assert str(limit) in body
