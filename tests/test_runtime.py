"""``lanterne run`` as an operator runs it: real processes on the embedded defaults.

One scenario, in order (each step needs the one before): operators' commands beside it stop
nothing; a killed worker is restarted and the reports keep being classified; a killed Redis
is restarted and the processes carry on; Ctrl-C stops every process. Every wait is bounded.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest

from backend import migrate
from backend.redis_conn import answers, embedded_redis_url

pytestmark = pytest.mark.processes

BIN = Path(sys.executable).parent
BODY = {"description": "Lampadaire éteint rue de Rome", "lat": 43.2951, "lon": 5.3800}
# What tells each process apart in its command line (supervisord's event listener aside).
PROGRAMS = {
    "redis": "redis-server",
    "web": "gunicorn",
    "worker": "rq worker",
    "relay": "outbox relay",
    "scheduler": "rq cron",
}


def _free_port() -> int:
    # A port the system says is free now (two suites on one machine never pick the same one).
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Served:
    """A running ``lanterne run`` and what the test needs to watch it."""

    def __init__(self, instance: Path, port: int, env: dict[str, str]) -> None:
        self.instance, self.port, self.env = instance, port, env
        self.log = instance / "run.log"
        with open(self.log, "ab") as out:  # appended: several processes write to it
            self.process = subprocess.Popen(  # noqa: S603
                [str(BIN / "lanterne"), "run", "--port", str(port), "--workers", "1"],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def pids(self) -> dict[str, int]:
        """The pid of each program supervisord runs now (the top process of each)."""
        found: dict[str, int] = {}
        for child in psutil.Process(self.process.pid).children():
            try:
                command = " ".join(child.cmdline())
            except psutil.NoSuchProcess:
                continue
            for name, mark in PROGRAMS.items():
                if mark in command:
                    found[name] = child.pid
        return found

    def wait_for(self, what: str, ready: Callable[[], bool], timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while not ready():
            if self.process.poll() is not None:
                pytest.fail(f"lanterne run stopped while waiting for {what}:\n{self.output()}")
            if time.monotonic() > deadline:
                pytest.fail(f"{what}: not within {timeout} s\n{self.output()[-4000:]}")
            time.sleep(0.3)

    def post_report(self) -> int:
        request = urllib.request.Request(  # noqa: S310 (our own server on loopback)
            f"http://127.0.0.1:{self.port}/api/v1/reports",
            data=json.dumps(BODY).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            assert response.status == 201
            tracking = json.load(response)["tracking_id"]
        with sqlite3.connect(self.instance / "lanterne.db") as conn:
            (report_id,) = conn.execute(
                "SELECT id FROM report WHERE tracking_id = ?", (tracking,)
            ).fetchone()
        return int(report_id)

    def classified(self, report_id: int) -> bool:
        with sqlite3.connect(self.instance / "lanterne.db") as conn:
            (code,) = conn.execute(
                "SELECT predicted_code FROM report WHERE id = ?", (report_id,)
            ).fetchone()
        return code is not None

    def post_and_wait_classified(self) -> None:
        report_id = self.post_report()
        self.wait_for(f"report {report_id} classified", lambda: self.classified(report_id))

    def web_answers(self) -> bool:
        try:
            url = f"http://127.0.0.1:{self.port}/api/v1/openapi.json"
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310
                return bool(response.status == 200)
        except OSError:
            return False


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """``lanterne run`` on a fresh instance folder, with a migrated SQLite database."""
    instance = tmp_path_factory.mktemp("run")
    migrate.upgrade(f"sqlite:///{instance / 'lanterne.db'}")
    env = {
        key: value
        for key, value in os.environ.items()
        # The embedded defaults, whatever this run of the suite uses.
        if key not in ("DATABASE_URL", "REDIS_URL", "PORT", "WEB_CONCURRENCY")
    }
    env["LANTERNE_INSTANCE_PATH"] = str(instance)
    run = Served(instance, _free_port(), env)
    try:
        run.wait_for("the web", run.web_answers)
        yield run
    finally:
        if run.process.poll() is None:
            for child in psutil.Process(run.process.pid).children(recursive=True):
                child.kill()
            run.process.kill()
            run.process.wait()


def test_operators_commands_beside_it_stop_nothing(served: Served) -> None:
    served.wait_for("every process", lambda: set(served.pids()) == set(PROGRAMS))
    before = served.pids()
    commands = [
        ["lanterne", "staff", "create", "ops@example.org", "--role", "admin"],
        ["lanterne", "staff", "list"],
        ["lanterne", "apikey", "create", "city-app"],
        ["lanterne", "apikey", "list"],
        ["python", "-c", "import backend.wsgi"],
    ]
    for command in commands:
        done = subprocess.run(  # noqa: S603
            [str(BIN / command[0]), *command[1:]],
            env=served.env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, (command, done.stdout, done.stderr)
    served.post_and_wait_classified()
    assert served.pids() == before  # nothing stopped, nothing restarted
    assert "not expected" not in served.output()


def test_a_killed_worker_is_restarted_and_reports_are_classified(served: Served) -> None:
    worker = served.pids()["worker"]
    os.kill(worker, signal.SIGKILL)
    served.wait_for("a new worker", lambda: served.pids().get("worker") not in (None, worker))
    assert "exited: worker (terminated by SIGKILL; not expected)" in served.output()
    served.post_and_wait_classified()


def test_a_killed_redis_is_restarted_and_the_processes_carry_on(served: Served) -> None:
    pids = served.pids()
    os.kill(pids["redis"], signal.SIGKILL)
    served.wait_for("a new Redis", lambda: served.pids().get("redis") not in (None, pids["redis"]))
    url = embedded_redis_url(served.instance)
    served.wait_for("Redis answering", lambda: answers(url))
    assert "exited: redis (terminated by SIGKILL; not expected)" in served.output()
    served.post_and_wait_classified()
    after = served.pids()
    assert {name: after[name] for name in ("web", "relay")} == {
        name: pids[name] for name in ("web", "relay")
    }


def test_ctrl_c_stops_every_process(served: Served) -> None:
    processes = psutil.Process(served.process.pid).children(recursive=True)
    assert processes
    served.process.send_signal(signal.SIGINT)
    assert served.process.wait(timeout=60) == 0
    _gone, alive = psutil.wait_procs(processes, timeout=10)
    assert alive == []
    assert not answers(embedded_redis_url(served.instance))
