"""Schemathesis against the API, CI-sized: every operation of the OpenAPI document, every check.

The requests go to the real app (WSGI, the test database and Redis), authenticated as an
admin, with rate limits raised so that the checks reach the logic behind them. The settings
shared with the longer run against a live server (docs/api.md) are in ``schemathesis.toml``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, settings
from schemathesis import Case

from backend.extensions import db
from backend.services.staff import create_staff, issue_token
from tests.conftest import make_test_app

CONFIG = Path(__file__).with_name("schemathesis.toml")
RAISED = "100000 per minute"
# Enough to reach each operation's branches, small enough for CI (a minute or two in all).
EXAMPLES = 30
# A client address, as a server gives one: the rate limits keyed by address need it.
CLIENT = {"REMOTE_ADDR": "127.0.0.1"}


@pytest.fixture(scope="module")
def fuzzed_app(database_url: str, redis_url: str, instance_path: Path) -> Iterator[Flask]:
    """The app with its rate limits raised; no classification worker (``/classify``: 503)."""
    flask_app = make_test_app(
        database_url,
        redis_url,
        instance_path,
        RATELIMIT_INTAKE=RAISED,
        RATELIMIT_TRACKING=RAISED,
        RATELIMIT_CLASSIFY=RAISED,
        RATELIMIT_FEEDBACK=RAISED,
        OPEN311_ANONYMOUS_RATE_LIMIT=RAISED,
        # Nobody answers suggestions here: answer the documented 503 without waiting long.
        CLASSIFY_WAIT_SECONDS=0.01,
    )
    yield flask_app
    flask_app.extensions["lanterne.db"].dispose()


@pytest.fixture
def admin_headers(app: Flask, fuzzed_app: Flask) -> dict[str, str]:
    """A bearer token of an admin account (``app`` empties the tables after the test)."""
    with fuzzed_app.app_context(), db.new_session() as session:
        admin = create_staff(
            session=session, email="fuzz-admin@marseille.fr", role="admin", password=None
        )
        token = issue_token(session=session, staff=admin)
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def api_schema(fuzzed_app: Flask, admin_headers: dict[str, str]) -> Any:
    """The document the app serves, loaded by schemathesis, calls going to the app as admin."""
    config = schemathesis.Config.from_path(CONFIG)
    loaded = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", fuzzed_app, config=config)
    # As the command line's ``-H``: schemathesis knows the header, and leaves it out itself
    # where it checks that a missing token is refused.
    # Uncompressed answers: schemathesis' WSGI transport sends ``Accept-Encoding: gzip, deflate``
    # like requests, but does not decode the body before checking it against the schema.
    loaded.config.update(headers={**admin_headers, "Accept-Encoding": "identity"})
    return loaded


@pytest.fixture(autouse=True)
def _node_id_for_schemathesis(request: pytest.FixtureRequest) -> None:
    # schemathesis 4.32's lazy schema reads ``node._nodeid``, which pytest 9 no longer sets
    # on test functions; give it the public node id (it appends "[METHOD /path]" to it).
    if not hasattr(request.node, "_nodeid"):
        request.node._nodeid = request.node.nodeid


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,  # derandomized: nothing to replay, nothing to write in the repository
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_keeps_the_contract(case: Case) -> None:
    """Every check schemathesis has (server errors, schemas, headers, status codes...)."""
    if _classify_without_worker(case):
        case.call_and_validate(environ_base=CLIENT, excluded_checks=[_not_a_server_error()])
        return
    case.call_and_validate(environ_base=CLIENT)


def _classify_without_worker(case: Case) -> bool:
    # The documented 503 of /classify when no worker answers is the point of that answer,
    # not a server error; its other checks (schema, headers, Retry-After) still run.
    return case.operation.path == "/api/v1/classify"


def _not_a_server_error() -> Any:
    from schemathesis.checks import not_a_server_error

    return not_a_server_error
