"""Alembic environment: the app's engine and SQLModel's metadata."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

import backend.models  # noqa: F401  (registers every table)
from backend.db import make_engine

config = context.config
target_metadata = SQLModel.metadata


def run_migrations() -> None:
    """Run migrations online, on the URL given by ``lanterne db`` (or alembic -x url=...)."""
    url = (
        config.get_main_option("sqlalchemy.url")
        or context.get_x_argument(as_dictionary=True)["url"]
    )
    connectable = config.attributes.get("connection")
    if connectable is None:
        engine = make_engine(url)
        with engine.connect() as connection:
            _run(connection)
        engine.dispose()
    else:
        _run(connectable)


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things: batch mode copies the table instead.
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations()
