"""The application factory."""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import stat
import time
from pathlib import Path
from typing import Any

from flask import Flask, Response, request
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from werkzeug.exceptions import HTTPException

from backend.config import Config, DevelopmentConfig
from backend.extensions import api, babel, compress, db, limiter, redis_conn
from backend.http_input import register_input_guards
from backend.redis_conn import limiter_storage_uri

logger = logging.getLogger(__name__)

#: The files SQLite keeps beside a database (rollback journal, write-ahead log, its index).
SQLITE_COMPANIONS = ("-journal", "-wal", "-shm")


def create_app(config_class: type[Config] = DevelopmentConfig, **overrides: object) -> Flask:
    """Build the Flask app: configuration, extensions, blueprints, error handlers, commands."""
    instance = overrides.get("INSTANCE_PATH", config_class.INSTANCE_PATH)
    app = Flask(__name__, instance_path=str(Path(str(instance)).resolve()))
    app.config.from_object(config_class)
    app.config.update(overrides)
    configure_defaults(app)
    if app.config.get("PROXY_COUNT"):
        from werkzeug.middleware.proxy_fix import ProxyFix

        count = app.config["PROXY_COUNT"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count, x_host=count)  # type: ignore[method-assign]
    register_input_guards(app)
    register_extensions(app)
    register_blueprints(app)
    register_errorhandlers(app)
    register_commands(app)
    return app


def configure_defaults(app: Flask) -> None:
    """Fill the embedded defaults: a SQLite file and a secret key under ``instance/``.

    ``instance/`` holds the raw reports, password hashes and keys: it is made 0700, and a
    SQLite database file 0600 before SQLAlchemy first opens it (see :func:`private_sqlite`).
    """
    instance = Path(app.instance_path)
    _private_directory(instance)
    if not app.config.get("DATABASE_URL"):
        app.config["DATABASE_URL"] = f"sqlite:///{instance / 'lanterne.db'}"
    private_sqlite(app.config["DATABASE_URL"])
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _instance_secret(instance / "secret.key")
    app.config["INSTANCE_PATH"] = str(instance)
    Path(app.config["MEDIA_PATH"]).mkdir(parents=True, exist_ok=True)


def _private_directory(path: Path) -> None:
    """Create ``path`` as 0700, or take the group's and others' rights off an existing one."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    _owner_only(path)


def _owner_only(path: Path) -> None:
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            path.chmod(mode & 0o700)
    except PermissionError:
        # Not ours (a folder an operator set up for several accounts): say so, don't fail.
        logger.warning("%s is readable by others and cannot be changed by this user", path)


def private_sqlite(database_url: str) -> None:
    """Make a SQLite database file (and its journal, WAL and shared-memory files) 0600.

    SQLite creates a missing file with the process umask (usually 0644, readable by every
    account on the host), and its -wal/-shm/-journal files with the database file's mode. So
    the file is created empty here with ``os.open(..., 0o600)`` before the engine touches it,
    and an existing one is tightened. Nothing to do for PostgreSQL or an in-memory database.
    """
    url = make_url(database_url)
    name = url.database or ""
    in_memory = name in ("", ":memory:") or url.query.get("mode") == "memory"
    if not url.drivername.startswith("sqlite") or in_memory or name.startswith("file:"):
        return
    path = Path(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    for companion in (path, *(path.with_name(path.name + s) for s in SQLITE_COMPANIONS)):
        if companion.exists():
            _owner_only(companion)


def _instance_secret(path: Path) -> str:
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
    return path.read_text().strip()


def register_extensions(app: Flask) -> None:
    """Bind every extension to the app."""
    # First, so that its hook runs last (Flask runs them in reverse): it compresses what
    # every other hook produced (pages, API answers, assets), gzip or brotli.
    compress.init_app(app)
    db.init_app(app)
    redis_conn.init_app(app)
    app.config.setdefault("RATELIMIT_STORAGE_URI", None)
    if not app.config["RATELIMIT_STORAGE_URI"]:
        app.config["RATELIMIT_STORAGE_URI"] = limiter_storage_uri(app.config["REDIS_URL"])
    # A Redis outage must not stop intake: limits fall back to memory meanwhile.
    app.config.setdefault("RATELIMIT_IN_MEMORY_FALLBACK_ENABLED", True)
    app.config.setdefault("RATELIMIT_SWALLOW_ERRORS", True)
    limiter.init_app(app)
    app.after_request(_retry_after)
    babel.init_app(app, locale_selector=_select_locale)
    api.init_app(app)


def _retry_after(response: Response) -> Response:
    """Tell a client that hit a rate limit when to come back (also with X-RateLimit-* off)."""
    if response.status_code == 429 and "Retry-After" not in response.headers:
        current = limiter.current_limit
        wait = int(current.reset_at - time.time()) if current is not None else 60
        response.headers["Retry-After"] = str(max(1, wait))
    return response


def _select_locale() -> str | None:
    lang = request.args.get("lang")
    if lang in ("fr", "en"):
        return lang
    return request.accept_languages.best_match(["fr", "en"]) or "fr"


def register_blueprints(app: Flask) -> None:
    """Mount the API, the media files and the pages."""
    from backend.api import register_api

    register_api(app, api)
    from public_site import register_public_site

    register_public_site(app)

    from backend.staff import register_staff_pages

    register_staff_pages(app)
    from backend.staff.signals import bp as staff_signals

    app.register_blueprint(staff_signals)
    from backend.staff.events import bp as staff_events

    app.register_blueprint(staff_events)
    from backend.staff import event_analysis as staff_event_analysis

    staff_event_analysis.register(app)


def register_errorhandlers(app: Flask) -> None:
    """Every HTTP error of the API gets flask-smorest's JSON shape ``{code, status, message,
    errors}``; a browser gets the site's HTML page instead (``_http_error``).

    The public site's and the staff pages' blueprints render their own HTML error pages.
    """
    app.register_error_handler(DBAPIError, _database_connection_lost)
    app.register_error_handler(HTTPException, _http_error)


def _http_error(error: HTTPException) -> Any:
    """An error no blueprint handled: the site's HTML page for a browser (an unknown URL, a
    wrong method, a crash on a page), flask-smorest's JSON for the API, Open311 and any client
    asking JSON (``public_site.site.wants_error_page``)."""
    from public_site.site import error_page_response, wants_error_page

    if wants_error_page():
        return error_page_response(error)
    return api.handle_http_exception(error)


def _database_connection_lost(exc: DBAPIError) -> tuple[dict[str, object], int, dict[str, str]]:
    """A pooled connection lost (database restarted), or a database that does not answer yet
    (restarting: refused, "starting up"): 503, try again; anything else is a 500.

    SQLAlchemy has already dropped the pool's older connections, so the retry gets a new one.
    """
    if not (exc.connection_invalidated or isinstance(exc, OperationalError)):
        raise exc
    body = {
        "code": 503,
        "status": "Service Unavailable",
        "message": "The database connection was lost while answering; please send the request "
        "again (with the same Idempotency-Key, if it had one).",
    }
    return body, 503, {"Retry-After": "1"}


def register_commands(app: Flask) -> None:
    """Commands live on the ``lanterne`` group (backend.cli), not on the app."""
