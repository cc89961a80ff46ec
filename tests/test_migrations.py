"""Migrations go up and down on the database under test (SQLite, or PostgreSQL in CI)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlmodel import SQLModel

import backend.models  # noqa: F401
from backend import migrate
from backend.db import make_engine


@pytest.fixture
def empty_database_url(tmp_path: object) -> Iterator[str]:
    """A brand-new empty database of the same kind as the suite's."""
    base = os.environ.get("DATABASE_URL")
    if not base:
        yield f"sqlite:///{tmp_path}/migrations.db"
        return
    name = f"lanterne_mig_{uuid.uuid4().hex[:8]}"
    admin = make_engine(base).execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = base.rsplit("/", 1)[0] + f"/{name}"
    yield url
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def tables(url: str) -> set[str]:
    engine = make_engine(url)
    names = set(sa.inspect(engine).get_table_names())
    engine.dispose()
    return names


def test_upgrade_downgrade_upgrade(empty_database_url: str) -> None:
    added = migrate.upgrade(empty_database_url)
    assert added == 13
    assert set(SQLModel.metadata.tables) <= tables(empty_database_url)
    migrate.downgrade(empty_database_url, "base")
    assert tables(empty_database_url) <= {"alembic_version"}
    assert migrate.upgrade(empty_database_url) == 13
    assert migrate.upgrade(empty_database_url) == 0  # idempotent


def test_models_and_migrations_agree(empty_database_url: str) -> None:
    """Autogenerate finds nothing to do: no model change is missing its migration."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    migrate.upgrade(empty_database_url)
    engine = make_engine(empty_database_url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    engine.dispose()
    assert diff == []


def test_0013_queues_the_scrubbing_of_what_was_published_unscrubbed(
    empty_database_url: str,
) -> None:
    """Addresses and notes stored before 0013 are hidden until a job has scrubbed them."""
    migrate.upgrade(empty_database_url, "0012")
    engine = make_engine(empty_database_url)
    now = "2026-01-05 10:00:00"
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO report (tracking_id, description, address, status, source, "
                "needs_triage, created_at, updated_at) VALUES ('t-1', 'Lampadaire éteint', "
                "'Chez Mme Benali, 06 12 34 56 78', 'open', 'api', false, :now, :now)"
            ),
            {"now": now},
        )
        conn.execute(
            sa.text(
                "INSERT INTO report_update (report_id, status, public_note, created_at) "
                "SELECT id, 'in_progress', 'Vu avec M. Dupont', :now FROM report"
            ),
            {"now": now},
        )
    migrate.upgrade(empty_database_url)
    with engine.connect() as conn:
        jobs = conn.execute(sa.text("SELECT job_path, job_id, queue FROM outbox_message")).all()
        published = conn.execute(
            sa.text(
                "SELECT address_public FROM report UNION ALL "
                "SELECT public_note_published FROM report_update"
            )
        ).all()
    assert [tuple(j) for j in jobs] == [
        ("workers.jobs.scrub_backlog", "scrub-backlog-0013", "default")
    ]
    assert [p[0] for p in published] == [None, None]  # nothing public until scrubbed
    migrate.downgrade(empty_database_url, "0012")
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM outbox_message")).scalar() == 0
        columns = {c["name"] for c in sa.inspect(conn).get_columns("report")}
    assert "address_public" not in columns
    engine.dispose()
