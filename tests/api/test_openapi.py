"""The OpenAPI document tells the truth: a valid 3.0 document, with the answers that can come."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from flask.testing import FlaskClient
from openapi_spec_validator import validate
from sqlmodel import Session

from backend.services.staff import create_staff, issue_token

HTTP_METHODS = {"get", "put", "post", "delete", "patch"}
RATE_LIMITED = [
    ("/api/v1/reports", "post"),
    ("/api/v1/reports/{tracking_id}", "get"),
    ("/api/v1/reports/{tracking_id}/contact", "delete"),
    ("/api/v1/reports/{tracking_id}/feedback", "post"),
    ("/api/v1/classify", "post"),
    ("/open311/v2/requests.{fmt}", "get"),
    ("/open311/v2/requests.{fmt}", "post"),
    ("/open311/v2/services.{fmt}", "get"),
]


@pytest.fixture
def spec(client: FlaskClient) -> dict[str, Any]:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.json
    return document


@pytest.fixture
def analyst(session: Session) -> dict[str, str]:
    staff = create_staff(session=session, email="an@marseille.fr", role="analyst", password=None)
    return {"Authorization": f"Bearer {issue_token(session=session, staff=staff)}"}


def operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, operation)
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if method in HTTP_METHODS
    ]


def resolve(spec: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        *_, section, name = node["$ref"].split("/")
        node = spec["components"][section][name]
    return node


def test_the_document_is_valid_openapi_3_0(spec: dict[str, Any]) -> None:
    assert spec["openapi"] == "3.0.3"
    validate(spec)  # raises on any error (e.g. a parameter ``in: json_or_form``)


def test_the_intake_describes_its_json_and_form_bodies(spec: dict[str, Any]) -> None:
    post = spec["paths"]["/api/v1/reports"]["post"]
    assert all(p["in"] == "header" for p in post["parameters"])  # the body is no parameter
    content = post["requestBody"]["content"]
    assert set(content) == {
        "application/json",
        "multipart/form-data",
        "application/x-www-form-urlencoded",
    }
    as_json = resolve(spec, content["application/json"]["schema"])
    multipart = resolve(spec, content["multipart/form-data"]["schema"])
    assert "contact" in as_json["properties"] and "photo" not in as_json["properties"]
    assert {"contact_email", "contact_phone"} <= set(multipart["properties"])
    assert multipart["properties"]["photo"] == {
        "type": "string",
        "format": "binary",
        "description": "JPEG, PNG or WebP, judged from its bytes.",
    }
    assert multipart["required"] == ["description"] == as_json["required"]
    # The rules a form is checked against are the JSON's: the same limits are documented.
    assert multipart["properties"]["description"] == as_json["properties"]["description"]
    assert as_json["properties"]["language"]["maxLength"] == 8


@pytest.mark.parametrize(("path", "method"), RATE_LIMITED)
def test_rate_limited_operations_document_429_with_retry_after(
    spec: dict[str, Any], path: str, method: str
) -> None:
    answer = resolve(spec, spec["paths"][path][method]["responses"]["429"])
    assert "Retry-After" in answer["headers"]


def test_every_operation_documents_503_and_bodies_413(spec: dict[str, Any]) -> None:
    for path, method, operation in operations(spec):
        responses = operation["responses"]
        unavailable = resolve(spec, responses["503"])
        assert "Retry-After" in unavailable["headers"], (path, method)
        if "requestBody" in operation or method == "post":
            assert "413" in responses, (path, method)


def test_error_answers_of_the_api_carry_the_error_shape(spec: dict[str, Any]) -> None:
    for path, method, operation in operations(spec):
        if not path.startswith("/api/v1/"):
            continue  # Open311 has its own (spec-shaped) errors
        for code, answer in operation["responses"].items():
            if code[0] in "45":
                schema = resolve(spec, answer)["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/Error"}, (path, method, code)


def test_staff_operations_document_401_and_403(spec: dict[str, Any]) -> None:
    staff = [(p, m, o) for p, m, o in operations(spec) if "security" in o]
    assert len(staff) >= 7
    for path, method, operation in staff:
        assert {"401", "403"} <= set(operation["responses"]), (path, method)
        if "{" in path:
            assert "404" in operation["responses"], (path, method)


def test_x_pagination_is_documented_as_the_json_it_is(
    client: FlaskClient, spec: dict[str, Any], analyst: dict[str, str]
) -> None:
    header = resolve(spec, spec["paths"]["/api/v1/signals"]["get"]["responses"]["200"])["headers"][
        "X-Pagination"
    ]
    schema = resolve(spec, resolve(spec, header)["content"]["application/json"]["schema"])
    sent = json.loads(client.get("/api/v1/signals", headers=analyst).headers["X-Pagination"])
    assert sent == {"total": 0, "total_pages": 0}
    assert set(sent) <= set(schema["properties"])
    assert all(schema["properties"][k]["type"] == "integer" for k in sent)


def test_a_page_past_the_end_is_empty_not_an_error(
    client: FlaskClient, analyst: dict[str, str]
) -> None:
    response = client.get("/api/v1/signals?page=99999999999999999999", headers=analyst)
    assert response.status_code == 200 and response.json == []


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("put", "/api/v1/services", {"GET", "HEAD", "OPTIONS"}),
        ("delete", "/api/v1/reports", {"POST", "OPTIONS"}),
        ("trace", "/api/v1/classify", {"POST", "OPTIONS"}),
    ],
)
def test_405_names_the_allowed_methods_in_json(
    client: FlaskClient, method: str, path: str, allowed: set[str]
) -> None:
    response = client.open(path, method=method.upper())
    assert response.status_code == 405
    assert {m.strip() for m in response.headers["Allow"].split(",")} == allowed
    assert response.json == {"code": 405, "status": "Method Not Allowed"}


def test_open311_405_and_options_name_the_methods_of_the_resource(client: FlaskClient) -> None:
    refused = client.put("/open311/v2/services.json")
    assert refused.status_code == 405
    assert refused.headers["Allow"] == "GET, HEAD, OPTIONS"
    assert refused.json[0]["code"] == 405
    options = client.options("/open311/v2/requests.json")
    assert options.status_code == 204
    assert options.headers["Allow"] == "GET, POST, HEAD, OPTIONS"


def test_a_form_report_with_empty_optional_fields_is_accepted(client: FlaskClient) -> None:
    form = {
        "description": "Lampadaire éteint",
        "lat": "43.2951",
        "lon": "5.3800",
        "language": "",
        "contact_email": "",
        "contact_phone": "",
    }
    response = client.post("/api/v1/reports", data=form)
    assert response.status_code == 201, response.json


def test_a_json_body_that_is_not_an_object_is_a_422(client: FlaskClient) -> None:
    response = client.post("/api/v1/reports", json=[1, 2])
    assert response.status_code == 422
    assert response.json["errors"]["json_or_form"]["_schema"] == ["Invalid input type."]


def test_the_browsable_docs_load_swagger_ui_from_the_app_itself(client: FlaskClient) -> None:
    page = client.get("/api/v1/docs").get_data(as_text=True)
    assets = re.findall(r'(?:src|href)="([^"]+\.(?:js|css))"', page)
    assert assets and all(url.startswith("/api/v1/docs/assets/") for url in assets), assets
    for url in assets:
        with client.get(url) as answer:  # a file answer: closed when read
            assert answer.status_code == 200, url
            assert len(answer.get_data()) > 1000, url
