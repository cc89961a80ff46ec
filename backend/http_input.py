"""Hostile and odd input, refused once for the whole app before any view reads it.

Three things would otherwise reach the database or a recursive parser and answer a 500:

- **Characters no database column can hold.** PostgreSQL's text refuses NUL (psycopg's
  DataError) and a Python string with an unpaired surrogate cannot be encoded to UTF-8 at all
  (``"\\ud800"`` in JSON). SQLite would store both, so refusing them here keeps both databases
  alike: the request is a 400 and nothing is stored. The other control characters that XML 1.0
  cannot carry (all of C0 but tab and line breaks, U+FFFE, U+FFFF) are refused with them:
  stored, one of them would make every Open311 XML answer that lists the report unreadable.
  ``check_request`` looks at the path, the query string, form fields, multipart file names and
  header values; JSON bodies go through the app's JSON provider, which refuses them too.
- **JSON nested too deeply.** ``json.loads`` raises RecursionError (not ValueError, so
  neither Flask nor webargs turn it into a 400) past ~1000 levels, and marshmallow recurses on
  what it gets. No request of ours nests past a few levels: past ``MAX_JSON_DEPTH`` it is a 400.
- **Ids past the databases' INTEGER.** ``<dbint:...>`` routes only match ids that fit, so a
  longer one is a 404 (like any id that does not exist) instead of an overflow in the query.

And a URI longer than ``MAX_URI_BYTES`` (``LANTERNE_MAX_URI_BYTES``) is a 414 in the shape of the
interface it was sent to; gunicorn is told to let such request lines through (Procfile).

Each error goes through the error handler of the blueprint the URL belongs to, so the JSON API
answers flask-smorest's ``{code, status, message}``, Open311 its own error list (JSON or XML),
and the pages their HTML error page.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any, NoReturn

from flask import Flask, current_app, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import BadRequest, HTTPException, RequestURITooLarge
from werkzeug.routing import BaseConverter, IntegerConverter, Map

# The largest value of an INTEGER column, on PostgreSQL and SQLite alike (every id is one).
DB_INT_MAX = 2**31 - 1
# Our JSON bodies nest two or three levels; a client past this many is broken or hostile.
MAX_JSON_DEPTH = 32
# NUL (PostgreSQL), the surrogate code points (UTF-8 cannot encode them alone), and the
# other characters XML 1.0 forbids (https://www.w3.org/TR/xml/#charsets).
UNSTORABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
# The same rule as a JSON-schema pattern (ECMA escapes), for the OpenAPI document's strings.
# Unpaired surrogates are left out of it: a JSON schema string is Unicode text, which cannot
# hold them, and a pattern naming them is one that generators (schemathesis) cannot use.
STORABLE_TEXT_PATTERN = "^[^\\u0000-\\u0008\\u000b\\u000c\\u000e-\\u001f\\ufffe\\uffff]*$"
_WHY = (
    "a NUL or another control character (tab and line breaks aside) or an unpaired surrogate, "
    "which cannot be stored or served"
)


class DatabaseIdConverter(IntegerConverter):
    """``<dbint:report_id>``: an id that fits an INTEGER column; any other number is a 404."""

    def __init__(self, map: Map, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", DB_INT_MAX)
        super().__init__(map, *args, **kwargs)


class TrackingIdConverter(BaseConverter):
    """``<tracking:tracking_id>``: the shape of a tracking id (URL-safe base64); else a 404."""

    regex = "[A-Za-z0-9_-]{1,64}"


class UnsafeJSONError(ValueError):
    """A JSON document that parses but must not be used (too deep, unstorable characters)."""


def check_json(value: Any) -> None:
    """Refuse a parsed document nested past MAX_JSON_DEPTH or holding unstorable strings.

    Iterative, so that checking a deep document cannot itself overflow the stack.
    """
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if UNSTORABLE.search(item):
                raise UnsafeJSONError(f"a string holds {_WHY}")
            continue
        if not isinstance(item, dict | list):
            continue
        if depth >= MAX_JSON_DEPTH:
            raise UnsafeJSONError(f"nested deeper than {MAX_JSON_DEPTH} levels")
        children: Iterable[Any] = item.values() if isinstance(item, dict) else item
        if isinstance(item, dict):
            stack.extend((key, depth) for key in item)
        stack.extend((child, depth + 1) for child in children)


class GuardedJSONProvider(DefaultJSONProvider):
    """Flask's JSON provider, whose ``loads`` refuses what ``check_json`` refuses.

    The errors are ValueErrors, which Flask's ``request.get_json`` answers with a 400.
    """

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        """Parse ``s``; UnsafeJSONError when it nests too deeply or holds unstorable text."""
        try:
            value = json.loads(s, **kwargs)
        except RecursionError:
            # The C scanner gives up cleanly at the interpreter's recursion limit, long past
            # MAX_JSON_DEPTH: the same refusal as a document that stopped short of it.
            raise UnsafeJSONError(f"nested deeper than {MAX_JSON_DEPTH} levels") from None
        if _may_be_unsafe(s):
            check_json(value)
        return value


# What check_json refuses, as it reads in the raw text: a \u escape of a control character,
# a surrogate or U+FFFE/U+FFFF, the raw characters, or more brackets than levels allowed. A
# document with none of them needs no walk: most bodies (accents escaped as \u00e9 included).
_ESCAPE = r"\\u(?:00[01]|[dD][89a-fA-F]|[fF]{3}[eEfF])"
_UNSAFE_TEXT = re.compile(_ESCAPE + "|" + UNSTORABLE.pattern)
_UNSAFE_BYTES = re.compile(
    _ESCAPE.encode() + rb"|[\x00-\x08\x0b\x0c\x0e-\x1f]|\xed[\xa0-\xbf]|\xef\xbf[\xbe\xbf]"
)


def _may_be_unsafe(s: str | bytes) -> bool:
    if isinstance(s, str):
        return s.count("[") + s.count("{") > MAX_JSON_DEPTH or bool(_UNSAFE_TEXT.search(s))
    return s.count(b"[") + s.count(b"{") > MAX_JSON_DEPTH or bool(_UNSAFE_BYTES.search(s))


def refuse(error_class: type[HTTPException], message: str) -> NoReturn:
    """Raise ``error_class`` carrying ``message`` for every interface's error handler.

    Not flask-smorest's ``abort``: it leaves the description generic, and the Open311 and
    page handlers show the description; flask-smorest's handler reads ``data["message"]``.
    """
    error = error_class(description=message)
    error.data = {"message": message}  # type: ignore[attr-defined]
    raise error


def _check_strings(where: str, pairs: Iterable[tuple[str | None, str | None]]) -> None:
    for name, value in pairs:
        if name is None:
            # A multipart part whose Content-Disposition werkzeug cannot parse; the schemas
            # expect names that are strings.
            refuse(BadRequest, f"A {where} has no readable name (its Content-Disposition).")
        if UNSTORABLE.search(name) or UNSTORABLE.search(value or ""):
            shown = UNSTORABLE.sub("?", name)
            refuse(BadRequest, f"The {where} '{shown}' holds {_WHY}.")


_HEADER_KEYS = ("HTTP_", "CONTENT_TYPE", "CONTENT_LENGTH")


def _uri_bytes() -> int:
    environ = request.environ
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if raw is None:  # a WSGI server that keeps no raw URI: the decoded path and the query
        raw = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
        query = environ.get("QUERY_STRING", "")
        raw += f"?{query}" if query else ""
    # WSGI strings are bytes decoded as latin-1: one character a byte.
    return len(raw)


def check_request() -> None:
    """Refuse a URI too long (414), unstorable characters anywhere the app reads (400), and a
    JSON body nested too deeply (400), before any view, rate limit or CSRF check reads them."""
    limit: int = current_app.config["MAX_URI_BYTES"]
    if _uri_bytes() > limit:
        refuse(RequestURITooLarge, f"The URI is longer than {limit} bytes; send data in a body.")
    if UNSTORABLE.search(request.path):
        refuse(BadRequest, f"The path holds {_WHY}.")
    environ = request.environ
    # One search over every header (as the WSGI server gave them) before naming the culprit.
    headers = "".join([k + v for k, v in environ.items() if k.startswith(_HEADER_KEYS)])
    if UNSTORABLE.search(headers):
        _check_strings("header", request.headers.items())
    _check_strings("query parameter", request.args.items(multi=True))
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        _check_strings("form field", request.form.items(multi=True))
        _check_strings(
            "file field", ((name, file.filename) for name, file in request.files.items(multi=True))
        )
    elif request.is_json:
        # webargs (flask-smorest's parser) reads bodies with the standard json module, not
        # app.json: the body goes through the app's provider here first, so what webargs
        # parses again has been checked. Malformed JSON is left to webargs' own 400. A body
        # whose raw text cannot hold what is refused (most bodies) is not parsed twice.
        data = request.get_data(cache=True)
        if data and _may_be_unsafe(data):
            try:
                current_app.json.loads(data)
            except UnsafeJSONError as exc:
                refuse(BadRequest, f"Invalid JSON body: {exc}.")
            except ValueError:
                pass


def register_input_guards(app: Flask) -> None:
    """Install the JSON provider, the ``dbint`` route converter and the request check.

    Call it before any blueprint is registered (their rules name ``dbint``) and before the
    extensions, so that the check runs before their own ``before_request`` hooks (the rate
    limiter reads Open311's api_key, CSRF reads the form).
    """
    app.json = GuardedJSONProvider(app)
    app.url_map.converters["dbint"] = DatabaseIdConverter
    app.url_map.converters["tracking"] = TrackingIdConverter
    app.before_request(check_request)
