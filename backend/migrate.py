"""Alembic, driven from the app's configuration (``lanterne db upgrade``)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlmodel import Session

from backend.db import make_engine
from backend.services.catalogue import ensure_default_catalogue

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str) -> AlembicConfig:
    """An Alembic configuration for the database at ``url``."""
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> int:
    """Migrate the database to ``revision`` and seed the default catalogue if empty.

    Returns how many catalogue rows were added. Only at ``head``: the catalogue is written
    with today's model, whose columns an older revision may not have yet.
    """
    command.upgrade(alembic_config(url), revision)
    if revision != "head":
        return 0
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            return ensure_default_catalogue(session=session)
    finally:
        engine.dispose()


def downgrade(url: str, revision: str) -> None:
    """Migrate the database down to ``revision`` (``base`` removes every table)."""
    command.downgrade(alembic_config(url), revision)


def current(url: str) -> None:
    """Print the current revision."""
    command.current(alembic_config(url), verbose=False)


NOT_MIGRATED = "the database is not migrated: run `lanterne db upgrade`"


def not_migrated(url: str) -> str | None:
    """Why the database at ``url`` cannot serve this code (not at the latest revision), or None.

    The one check of ``lanterne run``, the web (``backend.wsgi``) and the worker's start-up:
    they refuse to start on a database that ``lanterne db upgrade`` has not brought up to date.
    """
    heads = set(ScriptDirectory.from_config(alembic_config(url)).get_heads())
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            current = set(MigrationContext.configure(conn).get_current_heads())
    finally:
        engine.dispose()
    return None if current == heads else NOT_MIGRATED
