"""The database: one engine per app, one session per app context or job."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from flask import Flask, current_app, g
from sqlalchemy import DateTime, Insert, Table, event, insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.types import TypeDecorator
from sqlmodel import Session, SQLModel, create_engine


def utcnow() -> datetime:
    """Return the current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored as UTC and always read back timezone-aware.

    SQLite keeps no time zone, PostgreSQL does; this type gives both the same behaviour.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


_INSERTS: dict[str, Insert] = {}


def insert_row(session: Session, row: SQLModel) -> SQLModel:
    """INSERT one model instance now, in the session's transaction, and set its ``id``.

    For rows written once and not touched again in the transaction (outbox rows): a cached
    Core statement costs about a third of the ORM's unit of work. (Intake's own three rows
    have a statement of their own, ``backend.services.reports._intake_statements``.) The
    instance stays outside the session (it is not refreshed or tracked); defaults were
    applied when it was built.
    """
    table: Table = row.__table__  # type: ignore[attr-defined]
    stmt = _INSERTS.get(table.name)
    if stmt is None:
        stmt = _INSERTS[table.name] = insert(table).returning(table.c.id)
    values = {c.name: getattr(row, c.name) for c in table.columns if c.name != "id"}
    row.id = session.execute(stmt, values).scalar_one()  # type: ignore[attr-defined]
    return row


def dialect_insert(session: Session, table: Table) -> Any:
    """``INSERT`` of the session's dialect, which has ``on_conflict_do_update`` (upserts)."""
    name = session.get_bind().dialect.name
    if name == "postgresql":
        return postgresql.insert(table)
    if name == "sqlite":
        return sqlite.insert(table)
    raise ValueError(f"upserts need SQLite or PostgreSQL, not {name}")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets the web process read while a worker writes; the busy timeout turns lock
    # contention into a short wait instead of an error; foreign keys are off by default.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def make_engine(url: str, *, pre_ping: bool = False, synchronous_commit: bool = True) -> Engine:
    """Create an engine with the settings each backend needs.

    Pooled connections are not pinged before use by default: the ping is one more round trip
    on every request (a tenth of intake's cost). A connection lost to a database restart fails
    its request once; SQLAlchemy then drops every older pooled connection, and the web answers
    that request 503 with Retry-After (``backend.app``), which residents' apps retry with
    their Idempotency-Key. ``LANTERNE_DB_PRE_PING=1`` turns the ping on (decision 0004).

    ``synchronous_commit=False`` (PostgreSQL) lets a commit return before its WAL reaches the
    disk: the RQ worker's choice (decision 0005), whose jobs are re-run by the outbox relay
    if a database crash loses their last commits.
    """
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 10})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    connect_args = {} if synchronous_commit else {"options": "-c synchronous_commit=off"}
    return create_engine(
        url,
        pool_size=10,
        max_overflow=20,
        pool_pre_ping=pre_ping,
        pool_recycle=1800,
        connect_args=connect_args,
    )


class Database:
    """The Flask extension that owns the engine and hands out sessions."""

    def __init__(self) -> None:
        self._engines: dict[int, Engine] = {}

    def init_app(self, app: Flask) -> None:
        """Bind to an app: create its engine and close its sessions at teardown."""
        engine = make_engine(
            app.config["DATABASE_URL"],
            pre_ping=app.config["DB_PRE_PING"],
            synchronous_commit=app.config.get("DB_SYNCHRONOUS_COMMIT", True),
        )
        app.extensions["lanterne.db"] = engine
        app.teardown_appcontext(self._close_session)

    @property
    def engine(self) -> Engine:
        """The engine of the current app."""
        engine: Engine = current_app.extensions["lanterne.db"]
        return engine

    @property
    def session(self) -> Session:
        """The session of the current app context, created on first use."""
        if "db_session" not in g:
            g.db_session = Session(self.engine, expire_on_commit=False)
        session: Session = g.db_session
        return session

    @contextmanager
    def new_session(self) -> Iterator[Session]:
        """A session of its own, for jobs and commands; closed on exit."""
        with Session(self.engine, expire_on_commit=False) as session:
            yield session

    @staticmethod
    def _close_session(_exc: BaseException | None) -> None:
        session = g.pop("db_session", None)
        if session is not None:
            session.close()
