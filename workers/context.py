"""The app that jobs run in: built once per worker process, reused by every job."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache

from flask import Flask
from sqlmodel import Session

from backend.app import create_app
from backend.config import config_from_env
from backend.extensions import db


@lru_cache(maxsize=1)
def worker_app() -> Flask:
    """The worker's Flask app, built from the environment on first use.

    Its PostgreSQL commits do not wait for the disk (unless LANTERNE_WORKER_SYNCHRONOUS_COMMIT
    is set): a job's work is re-done if a database crash loses it, because the job marks its
    outbox row done in that same lost commit and the catch-up pushes the row again (decision 0005).
    """
    config = config_from_env()
    return create_app(config, DB_SYNCHRONOUS_COMMIT=config.WORKER_SYNCHRONOUS_COMMIT)


@contextmanager
def job_session() -> Iterator[Session]:
    """An app context and a session of its own for one job."""
    from flask import has_app_context

    if has_app_context():
        # Run in-process (tests, a CLI command): use the app already pushed.
        with db.new_session() as session:
            yield session
        return
    with worker_app().app_context(), db.new_session() as session:
        yield session
