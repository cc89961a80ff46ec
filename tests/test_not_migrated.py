"""A database that ``lanterne db upgrade`` never migrated: every process refuses to start,
with one line that says what to do (instead of 500s and a worker crashing on its first job)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from backend import migrate

BIN = Path(sys.executable).parent
LINE = "the database is not migrated: run `lanterne db upgrade`"


def _env(instance: Path, database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "PORT")}
    env.update(LANTERNE_INSTANCE_PATH=str(instance), DATABASE_URL=database_url)
    return env


@pytest.fixture
def empty_database(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'never-migrated.db'}"


def test_the_check_tells_a_migrated_database_from_one_that_is_not(
    database_url: str, empty_database: str
) -> None:
    assert migrate.not_migrated(database_url) is None
    assert migrate.not_migrated(empty_database) == LINE


def test_lanterne_run_refuses_with_one_line(tmp_path: Path, empty_database: str) -> None:
    done = subprocess.run(  # noqa: S603
        [str(BIN / "lanterne"), "run", "--port", "5399"],
        env=_env(tmp_path, empty_database),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert done.stderr.strip() == f"Error: {LINE}"
    assert not (tmp_path / "supervisord.pid").exists()  # nothing was started


def test_the_web_refuses_with_one_line(tmp_path: Path, empty_database: str) -> None:
    done = subprocess.run(  # noqa: S603
        [sys.executable, "-c", "import backend.wsgi"],
        env=_env(tmp_path, empty_database),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 4  # gunicorn's "App failed to load": its master stops
    assert done.stderr.strip() == f"Lanterne web not started: {LINE}"


def test_the_worker_refuses_with_one_line(
    tmp_path: Path, empty_database: str, redis_url: str
) -> None:
    worker = ["worker", "--burst", "--url", redis_url, "-w", "workers.worker.LanterneWorker"]
    done = subprocess.run(  # noqa: S603
        [str(BIN / "rq"), *worker, "reports"],
        env={**_env(tmp_path, empty_database), "REDIS_URL": redis_url},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert f"Lanterne worker not started: {LINE}" in done.stderr.splitlines()
