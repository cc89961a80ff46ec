"""Sustained intake of JSON reports through gunicorn, driven by wrk over loopback.

Measures accepted reports/s, latency percentiles and errors for Lanterne's real endpoint and,
in the same run, for a bare Flask endpoint doing one INSERT (the baseline), on PostgreSQL and
on SQLite; the CPU time each accepted report cost the web workers, Lanterne's outbox relay
(which runs beside its web, as in production, and takes the jobs to RQ), PostgreSQL and Redis
(all their processes on the machine, read before and after the measured run); the jobs still
waiting in the outbox when the load stops (the relay keeps up if they are fewer than a batch);
then the resident memory of a web worker. Needs `wrk` (Debian package `wrk`).

    .venv/bin/python bench/intake.py --duration 60 --runs 3
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import psutil
import sqlalchemy as sa

from backend.db import make_engine

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PG_ADMIN = "postgresql://postgres@127.0.0.1/test"
PG_DB = "lanterne_bench_intake"


def wait_for(url: str, timeout: float = 30) -> None:
    """Wait until the server answers (any HTTP status)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=1)  # noqa: S310 (loopback)
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"server at {url} did not start")


def parse_wrk(output: str) -> dict[str, float]:
    """Requests/s, p50/p99 latency (ms), non-2xx and socket errors from wrk --latency."""

    def ms(value: str) -> float:
        number, unit = re.match(r"([\d.]+)(\w+)", value).groups()  # type: ignore[union-attr]
        return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    p50 = ms(re.search(r"^\s+50%\s+(\S+)", output, re.M).group(1))  # type: ignore[union-attr]
    p99 = ms(re.search(r"^\s+99%\s+(\S+)", output, re.M).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    sock = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    errors = int(non2xx.group(1)) if non2xx else 0
    if sock:
        errors += sum(int(g) for g in sock.groups())
    return {"rps": rps, "p50_ms": p50, "p99_ms": p99, "errors": errors}


def run_server(
    app: str, env: dict[str, str], port: int, workers: int, cwd: Path = ROOT
) -> subprocess.Popen[bytes]:
    """Start gunicorn on loopback, from the checkout ``cwd``."""
    cmd = [
        str(BIN / "gunicorn"),
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--log-level",
        "warning",
        app,
    ]
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, start_new_session=True)  # noqa: S603
    wait_for(f"http://127.0.0.1:{port}/api/v1/reports")
    return proc


def start_relay(env: dict[str, str], cwd: Path = ROOT) -> subprocess.Popen[bytes]:
    """Start Lanterne's outbox relay (the Procfile's ``relay`` process) from ``cwd``."""
    cmd = [str(BIN / "lanterne"), "outbox", "relay"]
    return subprocess.Popen(cmd, env=env, cwd=cwd, start_new_session=True)  # noqa: S603


def outbox_waiting(url: str) -> int:
    """How many jobs wait in the outbox for the relay."""
    engine = make_engine(url)
    with engine.connect() as conn:
        waiting = conn.execute(
            sa.text("SELECT count(*) FROM outbox_message WHERE dispatched_at IS NULL")
        ).scalar_one()
    engine.dispose()
    return int(waiting)


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Stop a server (gunicorn and its workers, or the relay)."""
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(timeout=30)


def worker_rss_mb(proc: subprocess.Popen[bytes]) -> float:
    """The largest resident set of gunicorn's worker processes, in MB."""
    children = psutil.Process(proc.pid).children()
    return max(c.memory_info().rss for c in children) / 1e6


def cpu_seconds(
    server: subprocess.Popen[bytes], relay: subprocess.Popen[bytes] | None = None
) -> dict[str, float]:
    """CPU time so far of the web workers, the relay, PostgreSQL's backends and Redis, by role."""
    web = [server.pid] + [c.pid for c in psutil.Process(server.pid).children()]
    totals = {"web": 0.0, "relay": 0.0, "postgres": 0.0, "redis": 0.0}
    for proc in psutil.process_iter(["name"]):
        role = "web" if proc.pid in web else proc.info["name"]
        role = "relay" if relay is not None and proc.pid == relay.pid else role
        role = "redis" if role and role.startswith("redis-server") else role
        if role in totals:
            try:
                times = proc.cpu_times()
            except psutil.Error:
                continue
            totals[role] += times.user + times.system
    return totals


def load(port: int, duration: int, connections: int) -> dict[str, float]:
    """Drive the server with wrk for ``duration`` seconds."""
    out = subprocess.run(  # noqa: S603
        [
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{duration}s",
            "--latency",
            "-s",
            str(ROOT / "bench" / "intake_post.lua"),
            f"http://127.0.0.1:{port}/api/v1/reports",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return parse_wrk(out)


def measured_load(
    server: subprocess.Popen[bytes],
    args: argparse.Namespace,
    relay: subprocess.Popen[bytes] | None = None,
) -> dict[str, float]:
    """A warm-up, then the measured wrk run, with the CPU per accepted report by process."""
    load(args.port, 3, args.connections)
    before = cpu_seconds(server, relay)
    result = load(args.port, args.duration, args.connections)
    after = cpu_seconds(server, relay)
    # CPU per accepted report, in ms (SQLite has no server process: its column stays at 0).
    done = result["rps"] * args.duration
    for role in before:
        result[f"cpu_{role}"] = (after[role] - before[role]) * 1000 / done
    return result


def prepare_postgres(name: str = PG_DB) -> str:
    """A fresh, empty PostgreSQL database for a bench (migrate it with ``lanterne db upgrade``)."""
    drop_postgres(name)
    admin = sa.create_engine(PG_ADMIN.replace("postgresql://", "postgresql+psycopg://"))
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return f"postgresql://postgres@127.0.0.1/{name}"


def drop_postgres(name: str = PG_DB) -> None:
    """Remove a bench database."""
    admin = sa.create_engine(PG_ADMIN.replace("postgresql://", "postgresql+psycopg://"))
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def server_env(url: str, redis_url: str, instance: Path) -> dict[str, str]:
    """The environment of a bench's servers, with the database migrated.

    Production settings, and an intake rate limit that a load generator on one address never
    reaches (the limiter still runs and still makes its Redis round trip).
    """
    env = dict(os.environ)
    env.update(
        DATABASE_URL=url,
        REDIS_URL=redis_url,
        LANTERNE_INSTANCE_PATH=str(instance),
        LANTERNE_RATELIMIT_INTAKE="1000000 per second",
        LANTERNE_ENV="production",
    )
    subprocess.run([str(BIN / "lanterne"), "db", "upgrade"], env=env, cwd=ROOT, check=True)  # noqa: S603
    return env


def add_load_arguments(parser: argparse.ArgumentParser, *, duration: int, port: int) -> None:
    """The options shared by the wrk benches."""
    parser.add_argument("--duration", type=int, default=duration)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=3, help="gunicorn workers")
    parser.add_argument("--port", type=int, default=port)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/7")


def bench_database(label: str, url: str, args: argparse.Namespace, tmp: Path) -> list[str]:
    """Lanterne vs bare INSERT on one database; returns table rows."""
    env = server_env(url, args.redis_url, tmp / "instance")
    from bare_insert_app import create_table  # bench/ is on sys.path when run as a script

    create_table(url)
    results: dict[str, list[dict[str, float]]] = {"lanterne": [], "bare": []}
    rss = 0.0
    for _ in range(args.runs):
        for name, app in (("lanterne", "backend.wsgi:app"), ("bare", "bench.bare_insert_app:app")):
            proc = run_server(app, env, args.port, args.workers)
            relay = start_relay(env) if name == "lanterne" else None
            try:
                result = measured_load(proc, args, relay)
                if relay is not None:
                    result["waiting"] = outbox_waiting(url)
                results[name].append(result)
                if name == "lanterne":
                    rss = max(rss, worker_rss_mb(proc))
            finally:
                stop(proc)
                if relay is not None:
                    stop(relay)
    rows = []
    med = {
        name: {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        for name, runs in results.items()
    }
    for name in ("lanterne", "bare"):
        m = med[name]
        waiting = f"{m['waiting']:.0f}" if "waiting" in m else ""
        rows.append(
            f"| {label} | {name} | {m['rps']:.0f} | {m['p50_ms']:.1f} | {m['p99_ms']:.1f} "
            f"| {m['errors']:.0f} | {m['cpu_web']:.2f} | {m['cpu_relay']:.2f} "
            f"| {m['cpu_postgres']:.2f} | {m['cpu_redis']:.2f} | {waiting} |"
        )
    ratio = med["lanterne"]["rps"] / med["bare"]["rps"]
    rows.append(f"| {label} | ratio lanterne / bare | {ratio:.2f} | | | | | | | | |")
    rows.append(f"| {label} | web worker RSS after the run | {rss:.0f} MB | | | | | | | | |")
    return rows


def main() -> None:
    """Run the bench and print a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__)
    add_load_arguments(parser, duration=60, port=8311)
    parser.add_argument("--only", choices=["postgresql", "sqlite"], default=None)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed: apt-get install wrk")
    rows = [
        "| database | server | reports/s | p50 ms | p99 ms | errors "
        "| CPU ms/report: web | relay | PostgreSQL | Redis | jobs waiting at the end |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        if args.only in (None, "postgresql"):
            try:
                rows += bench_database("PostgreSQL", prepare_postgres(), args, tmp)
            finally:
                drop_postgres()
        if args.only in (None, "sqlite"):
            rows += bench_database("SQLite", f"sqlite:///{tmp / 'bench.db'}", args, tmp)
    import redis

    redis.Redis.from_url(args.redis_url).flushdb()
    print("\n".join(rows))


if __name__ == "__main__":
    main()
