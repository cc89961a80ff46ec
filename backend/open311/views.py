"""Open311 GeoReport v2 under /open311/v2/, in JSON and XML, with the mySociety updates.

A plain Flask blueprint rather than flask-smorest's: the spec routes by a ``.json``/``.xml``
suffix, takes form bodies with ``attribute[code][]`` keys, answers arrays or XML, and shapes
its own errors; none of that fits a one-schema JSON view. The spec itself is the contract
(docs/open311.md); the paths are still listed in the OpenAPI document (``document_paths``).

Every route accepts every method and answers 405 itself, and a catch-all answers 404: routing
errors never reach a blueprint's error handlers, and the spec wants its own error shape.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import marshmallow as ma
from cryptography.fernet import Fernet, MultiFernet
from flask import Blueprint, Flask, Response, abort, current_app, request, url_for
from flask_limiter.errors import RateLimitExceeded
from flask_smorest import Api
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from backend.api.reports import contact_cipher, intake_settings
from backend.extensions import db, limiter
from backend.models import ApiKey, Service
from backend.open311 import catalogue, intake, reading, rendering, schemas
from backend.open311.errors import Open311Error
from backend.open311.updates import list_updates, post_update
from backend.services import apikeys, tracking
from backend.services.contacts import load_keys

bp = Blueprint("open311", __name__, url_prefix="/open311/v2")

ALL_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]
FORMATS = ("json", "xml")
SPEC_URL = "http://wiki.open311.org/GeoReport_v2"
# The date our Open311 interface last changed (discovery's ``changeset``).
CHANGESET = "2026-11-29T00:00:00Z"


# --- formats and errors -------------------------------------------------------------------


def _format_of(path: str) -> str:
    return "xml" if path.rsplit("?", 1)[0].endswith(".xml") else "json"


def respond(payload: Any, fmt: str, root: str, status: int = 200) -> Response:
    """The payload as JSON (Spark convention: the root's items as an array) or as XML."""
    if fmt == "xml":
        return Response(
            rendering.to_xml(root, payload), status=status, content_type="text/xml; charset=utf-8"
        )
    return Response(
        rendering.to_json(payload), status=status, content_type="application/json; charset=utf-8"
    )


def error_response(status: int, descriptions: list[str], fmt: str | None = None) -> Response:
    """The spec's error list: ``[{code, description}]`` or ``<errors><error>...``."""
    errors = [{"code": status, "description": text} for text in descriptions]
    return respond(errors, fmt or _format_of(request.path), "errors", status)


@bp.errorhandler(Open311Error)
def _open311_error(error: Open311Error) -> Response:
    return error_response(error.status, error.descriptions)


@bp.errorhandler(RateLimitExceeded)
def _rate_limited(error: RateLimitExceeded) -> Response:
    response = error_response(429, [f"rate limit exceeded ({error.description}); slow down"])
    return response


@bp.errorhandler(HTTPException)
def _http_error(error: HTTPException) -> Response:
    response = error_response(error.code or 500, [error.description or error.name])
    if isinstance(error, MethodNotAllowed) and error.valid_methods:
        response.headers["Allow"] = ", ".join(error.valid_methods)
    return response


def _split(name: str) -> tuple[str, str]:
    """``road_damage.json`` -> (``road_damage``, ``json``); 404 without a known format."""
    stem, dot, fmt = name.rpartition(".")
    if not dot or fmt not in FORMATS or not stem:
        raise Open311Error(404, f"'{name}' not found: add .json or .xml to the resource")
    return stem, fmt


def _check_format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise Open311Error(404, f"format '{fmt}' not served; use .json or .xml")
    return fmt


def _allow(*methods: str) -> None:
    allowed = [*methods, *(["HEAD"] if "GET" in methods else []), "OPTIONS"]
    if request.method == "OPTIONS":
        # Answered here, not by Flask (whose Allow would list every method the route takes).
        abort(Response(status=204, headers={"Allow": ", ".join(allowed)}))
    if request.method not in allowed:
        raise MethodNotAllowed(valid_methods=allowed)


def _lang() -> str:
    # The app's rule (``?lang=`` then Accept-Language, French by default), read from this
    # request itself: Babel caches its answer on the app context, which tests share.
    lang = request.args.get("lang")
    if lang in ("fr", "en"):
        return lang
    return request.accept_languages.best_match(["fr", "en"]) or "fr"


# --- jurisdiction, API keys, rate limits --------------------------------------------------


@bp.before_request
def _check_jurisdiction() -> None:
    wanted = request.values.get("jurisdiction_id", "").strip()
    served = current_app.config["OPEN311_JURISDICTION"]
    if wanted and wanted != served:
        raise Open311Error(
            404, f"jurisdiction_id '{wanted}' not found: this server serves only '{served}'"
        )


def _given_key() -> tuple[bool, ApiKey | None]:
    # Resolved once a request, first by the rate limiter (which runs before the view); kept
    # in the WSGI environ, which is the request's own (``g`` may outlive it, e.g. in tests).
    environ = request.environ
    if "lanterne.open311_key" not in environ:
        plain = request.values.get("api_key", "").strip()
        key = apikeys.find_key(session=db.session, plain=plain) if plain else None
        environ["lanterne.open311_key"] = (bool(plain), key)
    given: tuple[bool, ApiKey | None] = environ["lanterne.open311_key"]
    return given


def require_key() -> ApiKey:
    """The request's valid API key; Open311Error(403) when missing, unknown or revoked."""
    given, key = _given_key()
    if not given:
        raise Open311Error(403, "api_key is required to post; ask the city for one")
    if key is None:
        raise Open311Error(403, "invalid api_key")
    if not key.active:
        raise Open311Error(403, "this api_key has been revoked")
    return key


def _rate_key() -> str:
    _given, key = _given_key()
    if key is not None and key.active:
        return f"open311-key:{key.id}"
    return f"open311-ip:{request.remote_addr or ''}"


def _rate_limit() -> str:
    _given, key = _given_key()
    if key is not None and key.active:
        return key.rate_limit
    limit: str = current_app.config["OPEN311_ANONYMOUS_RATE_LIMIT"]
    return limit


# One budget per key (or per address without one) across every Open311 endpoint.
limiter.shared_limit(_rate_limit, scope="open311", key_func=_rate_key)(bp)


def _fernet() -> MultiFernet:
    fernet = current_app.extensions.get("lanterne.open311_fernet")
    if fernet is None:
        keys = load_keys(current_app.config["CONTACT_KEYS"], Path(current_app.instance_path))
        fernet = MultiFernet([Fernet(k) for k in keys])
        current_app.extensions["lanterne.open311_fernet"] = fernet
    return fernet


def _load(schema: ma.Schema, data: Any) -> dict[str, Any]:
    try:
        loaded: dict[str, Any] = schema.load(data)
    except ma.ValidationError as exc:
        raise Open311Error(400, *schemas.validation_messages(exc)) from exc
    return loaded


# --- routes ---------------------------------------------------------------------------------


def _route(rule: str) -> Callable[[Callable[..., Response]], Callable[..., Response]]:
    return bp.route(rule, methods=[*ALL_METHODS, "OPTIONS"], provide_automatic_options=False)


@_route("/discovery.<string:fmt>")
def discovery(fmt: str) -> Response:
    """Service discovery: where the endpoint is and what it speaks."""
    _allow("GET")
    fmt = _check_format(fmt)
    base = url_for("open311.discovery", fmt=fmt, _external=True).rsplit("/", 1)[0]
    payload = {
        "changeset": CHANGESET,
        "contact": current_app.config["PUBLIC_BASE_URL"],
        "key_service": "Ask the city's Lanterne administrators (lanterne apikey create).",
        "endpoints": [
            {
                "specification": SPEC_URL,
                "url": base,
                "changeset": CHANGESET,
                "type": "production",
                "formats": ["text/xml", "application/json"],
            }
        ],
    }
    return respond(payload, fmt, "discovery")


@_route("/services.<string:fmt>")
def services(fmt: str) -> Response:
    """GET services: the catalogue."""
    _allow("GET")
    fmt = _check_format(fmt)
    return respond(catalogue.service_list(session=db.session, lang=_lang()), fmt, "services")


@_route("/services/<string:name>")
def service_definition(name: str) -> Response:
    """GET services/{service_code}: a service's attributes."""
    _allow("GET")
    code, fmt = _split(name)
    definition = catalogue.service_definition(session=db.session, code=code, lang=_lang())
    return respond(definition, fmt, "service_definition")


@_route("/requests.<string:fmt>")
def requests_(fmt: str) -> Response:
    """GET requests (search) and POST requests (report)."""
    _allow("GET", "POST")
    fmt = _check_format(fmt)
    if request.method == "POST":
        return _post_request(fmt)
    query = _load(schemas.RequestsQuerySchema(), request.args)
    rows = reading.list_requests(
        session=db.session,
        query=query,
        lang=_lang(),
        grid=current_app.config["PUBLIC_GRID_DEGREES"],
    )
    return respond(rows, fmt, "service_requests")


def _post_request(fmt: str) -> Response:
    key = require_key()
    form = _load(schemas.RequestCreateSchema(), request.form)
    result = intake.create_request(
        session=db.session,
        form=form,
        attribute_fields=catalogue.read_attribute_fields(request.form.lists()),
        api_key=key,
        idempotency_key=request.headers.get("Idempotency-Key") or None,
        settings=intake_settings(),
        cipher=contact_cipher(),
        fernet=_fernet(),
    )
    service = db.session.get(Service, form["service_code"])
    # ``resident_token`` and ``tracking_url``: Lanterne's extension (docs/open311.md). The
    # token is the resident's: the tracking URL carries it and shows them their own report.
    # Not the spec's ``token``, which "should not be returned" beside service_request_id.
    answer = {
        "service_request_id": str(result.report_id),
        "resident_token": result.token,
        "tracking_url": tracking.tracking_url(result.tracking_id, result.token),
        "service_notice": catalogue.service_notice(service, _lang()),
        "account_id": form.get("account_id"),
    }
    return respond([answer], fmt, "service_requests", status=201)


@_route("/requests/<string:name>")
def request_detail(name: str) -> Response:
    """GET requests/{service_request_id}."""
    _allow("GET")
    request_id, fmt = _split(name)
    row = reading.get_request(
        session=db.session,
        request_id=request_id,
        lang=_lang(),
        grid=current_app.config["PUBLIC_GRID_DEGREES"],
    )
    return respond([row], fmt, "service_requests")


@_route("/tokens/<string:name>")
def token(name: str) -> Response:
    """GET tokens/{token}: the service_request_id behind a token (a report's tracking id)."""
    _allow("GET")
    value, fmt = _split(name)
    return respond([reading.token_lookup(session=db.session, token=value)], fmt, "service_requests")


@_route("/servicerequestupdates.<string:fmt>")
def updates(fmt: str) -> Response:
    """mySociety's extension: GET the updates of a window, POST one from a back office."""
    _allow("GET", "POST")
    fmt = _check_format(fmt)
    if request.method == "POST":
        key = require_key()
        form = _load(schemas.UpdateCreateSchema(), request.form)
        update_id = post_update(session=db.session, api_key=key, form=form)
        return respond([{"update_id": update_id}], fmt, "service_request_updates")
    query = _load(schemas.UpdatesQuerySchema(), request.args)
    rows = list_updates(session=db.session, query=query)
    return respond(rows, fmt, "service_request_updates")


@_route("/<path:anything>")
def not_found(anything: str) -> Response:
    """Anything else under /open311/v2/: a 404 in the spec's shape."""
    raise Open311Error(404, f"'/open311/v2/{anything}' not found; see /open311/v2/discovery.json")


def register(app: Flask, api: Api) -> None:
    """Mount the blueprint and list its paths in the OpenAPI document."""
    app.register_blueprint(bp)
    document_paths(app, api)


# Endpoint -> {method: summary}, for the OpenAPI document (the spec has the details).
_DOCS: dict[str, dict[str, str]] = {
    "discovery": {"get": "Service discovery"},
    "services": {"get": "GET Service List"},
    "service_definition": {"get": "GET Service Definition (name: {service_code}.{format})"},
    "requests_": {
        "get": "GET Service Requests (filters, 90-day window, page/page_size)",
        "post": "POST Service Request (form-encoded, api_key required)",
    },
    "request_detail": {"get": "GET Service Request (name: {service_request_id}.{format})"},
    "token": {"get": "GET service_request_id from a token (name: {token}.{format})"},
    "updates": {
        "get": "GET Service Request Updates (mySociety extension)",
        "post": "POST Service Request Update (mySociety extension, api_key required)",
    },
}


def _responses(
    endpoint: str, method: str, common: dict[str, Any], too_large: dict[str, str]
) -> dict[str, Any]:
    if method == "get":
        return common
    answers = {**common, "413": too_large}
    if endpoint == "requests_":  # a new service request is created: 201
        answers["201"] = answers.pop("200")
    return answers


def _path_parameters(rule: Any) -> list[dict[str, Any]]:
    # What the routes accept: a format (``json``/``xml``), or a name ending in one.
    schemas = {
        "fmt": {"type": "string", "enum": list(FORMATS)},
        "name": {"type": "string", "pattern": r"^.+\.(json|xml)$"},
    }
    return [
        {"in": "path", "name": name, "required": True, "schema": schemas[name]}
        for name in rule.arguments
        if name in schemas
    ]


def document_paths(app: Flask, api: Api) -> None:
    """Describe the Open311 paths in the OpenAPI document, from their Flask rules."""
    responses = {
        "200": {"description": "A JSON array or an XML document, as GeoReport v2 shapes them"},
        "400": {"description": "Invalid request (spec-shaped error list)"},
        "403": {"description": "Missing or invalid api_key"},
        "404": {"description": "Not found, or another jurisdiction_id"},
        "429": {
            "description": "Rate limit of the api_key (or of the address without one) exceeded",
            "headers": {"Retry-After": "RETRY_AFTER"},
        },
    }
    # A body over MAX_CONTENT_LENGTH (flask-smorest's JSON error: werkzeug answers it).
    too_large = {"description": "Body larger than allowed"}
    jurisdiction = {"name": "jurisdiction_id", "in": "query", "schema": {"type": "string"}}
    for rule in app.url_map.iter_rules():
        endpoint = rule.endpoint.removeprefix("open311.")
        if not rule.endpoint.startswith("open311.") or endpoint not in _DOCS:
            continue
        operations = {
            method: {
                "summary": summary,
                "tags": ["Open311 GeoReport v2"],
                "parameters": [jurisdiction],
                "responses": _responses(endpoint, method, responses, too_large),
            }
            for method, summary in _DOCS[endpoint].items()
        }
        api.spec.path(rule=rule, operations=operations, parameters=_path_parameters(rule))
