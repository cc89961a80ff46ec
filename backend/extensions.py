"""Extensions, created unbound here and bound to an app in ``create_app``."""

from __future__ import annotations

from typing import Any

from apispec import APISpec, BasePlugin
from flask_babel import Babel
from flask_compress import Compress
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_smorest import Api
from flask_smorest.pagination import PaginationMetadataSchema
from werkzeug.exceptions import HTTPException
from werkzeug.routing import UnicodeConverter

from backend.db import Database
from backend.http_input import (
    DB_INT_MAX,
    STORABLE_TEXT_PATTERN,
    DatabaseIdConverter,
    TrackingIdConverter,
)
from backend.redis_conn import RedisConnection

RETRY_AFTER = {
    "description": "Seconds to wait before sending the request again.",
    "schema": {"type": "integer", "minimum": 1},
}
# Component names of the shared answers (flask-smorest registers one per HTTP status).
TOO_MANY_REQUESTS = "TOO_MANY_REQUESTS"
CONTENT_TOO_LARGE = "REQUEST_ENTITY_TOO_LARGE"
SERVICE_UNAVAILABLE = "SERVICE_UNAVAILABLE"
ERROR_REF = {"$ref": "#/components/schemas/Error"}  # flask-smorest's ErrorSchema
_OPERATION_KEYS = frozenset({"get", "put", "post", "delete", "patch", "head", "options", "trace"})


class SharedAnswersPlugin(BasePlugin):
    """Document the answers that any operation can give, once for all of them.

    - 503 (``Retry-After``): the database connection was lost while answering
      (``backend.app._database_connection_lost``); every operation reads the database.
    - 413: a body over ``MAX_CONTENT_LENGTH``, wherever a body is read.
    - the body of every error answer of flask-smorest's operations (those with its
      ``default`` answer): its one JSON error shape, also where an ``alt_response`` gave
      only a description. (The Open311 paths, documented by hand, have their own shape.)

    429 is not here: it is documented beside each rate limit (``@blp.alt_response``).
    """

    def path_helper(
        self,
        path: str | None = None,
        operations: dict[str, Any] | None = None,
        parameters: list[dict[str, Any]] | None = None,
        **kwargs: Any,
    ) -> None:
        """Path parameters written by hand (Open311's) say the refused characters too."""
        _storable_parameters(parameters or [])

    def operation_helper(
        self, path: str | None = None, operations: dict[str, Any] | None = None, **kwargs: Any
    ) -> None:
        """Add the shared answers to each operation that does not document them itself."""
        for method, operation in (operations or {}).items():
            if method not in _OPERATION_KEYS:
                continue
            _storable_parameters(operation.get("parameters", []))
            responses = operation.setdefault("responses", {})
            # flask-smorest keys responses by int, hand-written docs by str.
            present = {str(code) for code in responses}
            if "503" not in present:
                responses["503"] = SERVICE_UNAVAILABLE
            if "requestBody" in operation and "413" not in present:
                responses["413"] = CONTENT_TOO_LARGE
            if "default" not in present:
                continue
            for code, response in responses.items():
                if str(code)[0] in "45" and isinstance(response, dict):
                    response.setdefault("content", {"application/json": {"schema": ERROR_REF}})


_STORABLE = {"pattern": STORABLE_TEXT_PATTERN}


def _storable_text(self: Any, field: Any, ret: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """An apispec attribute function: free-text strings say which characters are refused."""
    if ret.get("type") != "string" or {"format", "enum", "allOf"} & ret.keys():
        return {}
    if ret.get("pattern") == STORABLE_TEXT_PATTERN:  # a schema shared by two operations
        return {}
    # A field with a pattern of its own gets this one as a second rule (JSON schema's allOf).
    return {"allOf": [_STORABLE]} if "pattern" in ret else _STORABLE


def _storable_parameters(parameters: list[Any]) -> None:
    # Hand-written parameters (Open311's) too: the refused characters, said once.
    for parameter in parameters:
        if isinstance(parameter, dict) and isinstance(parameter.get("schema"), dict):
            parameter["schema"].update(_storable_text(None, None, parameter["schema"]))


class LanterneApi(Api):
    """flask-smorest's Api, with the headers of HTTP errors kept and honest shared answers."""

    def handle_http_exception(self, error: HTTPException) -> Any:
        """flask-smorest's JSON error, keeping the headers the exception carries.

        flask-smorest answers only the headers given to ``abort(headers=...)``; werkzeug's own
        exceptions carry theirs (405's ``Allow``, RFC 9110), which would be lost.
        """
        payload, code, headers = super().handle_http_exception(error)
        kept = {
            name: value
            for name, value in error.get_headers()
            if name.lower() != "content-type"  # the body is JSON, not werkzeug's HTML
        }
        return payload, code, {**kept, **(headers or {})}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # What backend.http_input refuses for the whole app, the document says: ids fit the
        # databases' INTEGER, and no string holds a character that cannot be stored.
        self.register_converter(
            DatabaseIdConverter, lambda _c: {"type": "integer", "minimum": 0, "maximum": DB_INT_MAX}
        )
        self.register_converter(UnicodeConverter, lambda _c: {"type": "string", **_STORABLE})
        self.register_converter(
            TrackingIdConverter,
            lambda c: {"type": "string", "pattern": f"^{c.regex}$"},
        )

    def _init_spec(self, *args: Any, **kwargs: Any) -> None:
        super()._init_spec(*args, **kwargs)
        self.ma_plugin.converter.add_attribute_function(_storable_text)

    def _register_responses(self) -> None:
        super()._register_responses()
        spec: APISpec = self.spec
        spec.components.header("RETRY_AFTER", RETRY_AFTER, lazy=True)
        # Registered again (still lazily) to carry the Retry-After the app always sends.
        for name, description in (
            (TOO_MANY_REQUESTS, "Too many requests from this client: slow down."),
            (SERVICE_UNAVAILABLE, "Unavailable for a moment (database or worker): retry."),
        ):
            spec.components.response(
                name,
                {
                    "description": description,
                    "content": {"application/json": {"schema": self.ERROR_SCHEMA}},
                    "headers": {"Retry-After": "RETRY_AFTER"},
                },
                lazy=True,
            )

    def _register_pagination_header(self) -> None:
        # X-Pagination is a JSON object sent as text: OpenAPI says so with ``content``, not
        # ``schema`` (which would mean the "simple" style, ``total,3,page,1``).
        self.spec.components.header(
            "PAGINATION",
            {
                "description": "Pagination metadata, as JSON.",
                "content": {"application/json": {"schema": PaginationMetadataSchema}},
            },
            lazy=True,
        )


db = Database()
redis_conn = RedisConnection()
api = LanterneApi(spec_kwargs={"extra_plugins": [SharedAnswersPlugin()]})
limiter = Limiter(key_func=get_remote_address)
babel = Babel()
compress = Compress()
