"""Open311 fixtures: default attributes, API keys, JSON Schema validation, XML parsing."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import pytest
from flask.testing import FlaskClient
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from sqlmodel import Session
from werkzeug.test import TestResponse

from backend.open311.catalogue import ensure_default_attributes
from backend.services import apikeys

SCHEMAS = Path(__file__).resolve().parent / "schemas"
BASE = "/open311/v2"
VIEUX_PORT = {"lat": "43.2951", "long": "5.3740"}


def _registry() -> Registry:
    resources = []
    for path in sorted(SCHEMAS.glob("*.json")):
        schema = json.loads(path.read_text(encoding="utf-8"))
        resources.append((schema["$id"], Resource.from_contents(schema)))
    return Registry().with_resources(resources)


REGISTRY = _registry()


def validate(schema_name: str, payload: Any, ref: str = "") -> None:
    """Validate against one of our JSON Schemas (written from the spec), all errors at once."""
    schema_id = f"https://lanterne.example/open311/{schema_name}.json"
    schema: dict[str, Any] = {"$ref": schema_id + ref}
    validator = Draft202012Validator(schema, registry=REGISTRY)
    errors = sorted(validator.iter_errors(payload), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors[:10])


def parse_xml(response: TestResponse) -> ET.Element:
    """Parse an XML answer with a real parser, checking what the spec requires of it."""
    assert response.headers["Content-Type"] == "text/xml; charset=utf-8"
    body = response.get_data()
    assert body.startswith(b"<?xml version="), body[:60]
    assert b"encoding='UTF-8'" in body.split(b"?>", 1)[0] or b'encoding="UTF-8"' in body[:60]
    return ET.fromstring(body)  # noqa: S314 (our own output)


def created_id(response: TestResponse) -> int:
    """The service_request_id of a 201 answer to POST requests.json."""
    assert response.status_code == 201, response.get_data(as_text=True)
    return int(response.get_json()[0]["service_request_id"])


def xml_items(root: ET.Element) -> list[dict[str, Any]]:
    """The children of a list root as dicts of text (one level; lists kept as elements)."""
    return [{child.tag: (child.text or "") for child in item} for item in root]


@pytest.fixture(autouse=True)
def _default_attributes(app: Any) -> None:
    # The suite empties every table after each test; the attributes come back like the catalogue.
    from backend.extensions import db

    with db.new_session() as session:
        ensure_default_attributes(session=session)


@pytest.fixture
def api_key(session: Session) -> str:
    """A resident app's key (may report, not post updates)."""
    _key, plain = apikeys.create_key(session=session, name="appli-mobile")
    return plain


@pytest.fixture
def backoffice_key(session: Session) -> str:
    """A back-office system's key, allowed to post status updates."""
    _key, plain = apikeys.create_key(session=session, name="gmao", can_post_updates=True)
    return plain


@pytest.fixture
def post_request(client: FlaskClient, api_key: str) -> Callable[..., TestResponse]:
    """POST requests.{fmt} with the app's key and a default position (Vieux-Port)."""

    def _post(fmt: str = "json", **fields: Any) -> TestResponse:
        data: dict[str, Any] = {"api_key": api_key, "service_code": "streetlight", **VIEUX_PORT}
        data.update(fields)
        data = {k: v for k, v in data.items() if v is not None}
        return client.post(f"{BASE}/requests.{fmt}", data=data)

    return _post
