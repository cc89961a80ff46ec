"""Alembic, driven from the app's configuration (``lanterne db upgrade``)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
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

    Returns how many catalogue rows were added.
    """
    command.upgrade(alembic_config(url), revision)
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
