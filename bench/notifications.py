"""Notifications: status change → e-mail accepted by an SMTP server, and a worker kill -9.

Starts its own Redis (``redis-server --save ""`` on ``--redis-port``), an aiosmtpd server in a
process of its own (``--smtp-port``), ``--workers`` real RQ worker processes (default one)
listening on the Procfile's queues,
and the outbox relay (``lanterne outbox relay``) as a process; uses a PostgreSQL database of
its own (``--database``, dropped and made again). Every report has a reporter who consented
to notifications. The outbox catch-up (``workers.jobs.drain_outbox``, every 10 s from the
scheduler in production) is run by this script every 10 s.

1. ``latency``: ``--rate`` status changes a second for ``--duration`` seconds (open loop, one
   committed ``set_status`` each, as staff make them); for each, the time from its commit to
   the SMTP server's acceptance of its e-mail; p50, p95, max.
2. ``kill``: the same load; the SMTP server takes ``--smtp-delay`` seconds to accept each
   message (a real server's pace, so that the worker is inside an SMTP transaction most of the
   time), a worker is killed with SIGKILL ``--kill-at`` seconds in, and started again one
   second later (as the process manager does). Then waits (bounded) and counts e-mails
   received twice (same Message-ID) and e-mails never received.

    PYTHONPATH=$PWD .venv/bin/python bench/notifications.py --phase both
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import redis
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

QUEUES = ["high", "reports", "notify", "default", "signals"]


SMTP_SERVER = """
import asyncio, sys, time
from aiosmtpd.controller import Controller
port, delay, out = int(sys.argv[1]), float(sys.argv[2]), open(sys.argv[3], "a", buffering=1)
class Handler:
    async def handle_DATA(self, server, session, envelope):
        if delay:
            await asyncio.sleep(delay)
        mid = ""
        for line in envelope.content.split(b"\\r\\n"):
            if line.lower().startswith(b"message-id:"):
                mid = line.split(b":", 1)[1].strip().decode()
                break
        out.write(f"{mid}\\t{time.time()}\\n")
        return "250 OK"
controller = Controller(Handler(), hostname="127.0.0.1", port=port)
controller.start()
print("ready", flush=True)
sys.stdin.read()
controller.stop()
"""


class Inbox:
    """An aiosmtpd server in a process of its own; what it accepted: Message-ID → times."""

    def __init__(self, port: int, delay: float, path: Path) -> None:
        self.path = path
        path.write_text("")
        self.proc = subprocess.Popen(
            [sys.executable, "-c", SMTP_SERVER, str(port), str(delay), str(path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        assert self.proc.stdout is not None
        self.proc.stdout.readline()  # "ready"

    def arrivals(self) -> dict[str, list[float]]:
        """Every message accepted so far."""
        found: dict[str, list[float]] = {}
        for line in self.path.read_text().splitlines():
            mid, _, when = line.partition("\t")
            if when:
                found.setdefault(mid, []).append(float(when))
        return found

    def stop(self) -> None:
        """Stop the server process."""
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=10)


def start_redis(port: int) -> subprocess.Popen[bytes]:
    """A Redis of this run only (nothing saved)."""
    proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    client = redis.Redis(port=port)
    for _ in range(100):
        try:
            client.ping()
            return proc
        except redis.ConnectionError:
            time.sleep(0.05)
    raise RuntimeError("redis-server did not start")


def fresh_database(url: str) -> None:
    """Drop and create the bench's database, then migrate it."""
    from backend import migrate
    from backend.db import make_engine

    base, name = url.rsplit("/", 1)
    admin = make_engine(base + "/postgres").execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    migrate.upgrade(url)


def env_for(args: argparse.Namespace, instance: Path) -> dict[str, str]:
    """The environment of the worker and relay processes (and of this script's app)."""
    env = dict(os.environ)
    env.update(
        DATABASE_URL=args.database,
        REDIS_URL=f"redis://127.0.0.1:{args.redis_port}/0",
        LANTERNE_SMTP_URL=f"smtp://127.0.0.1:{args.smtp_port}",
        LANTERNE_MAIL_FROM="Lanterne <bench@lanterne.example>",
        LANTERNE_INSTANCE_PATH=str(instance),
        LANTERNE_PUBLIC_URL="https://lanterne.example",
        PYTHONPATH=str(ROOT),
    )
    return env


def start_worker(env: dict[str, str]) -> subprocess.Popen[bytes]:
    """A real RQ worker process on the Procfile's queues (RQ's SimpleWorker: the e-mail
    jobs need no model, and the packaged classifier is a build artefact)."""
    return subprocess.Popen(
        [
            str(Path(sys.executable).parent / "rq"),
            "worker",
            "--url",
            env["REDIS_URL"],
            "--worker-class",
            "rq.worker.SimpleWorker",
            "--with-scheduler",
            "--maintenance-interval",
            "60",  # as the Procfile: a restarted worker takes the dead one's scheduler lock
            "--logging_level",
            "WARNING",
            *QUEUES,
        ],
        env=env,
        cwd=ROOT,
        # Its own process group: the kill takes the worker and its scheduler child together,
        # as a machine or container dying does, and nothing outlives the run.
        start_new_session=True,
    )


def kill_group(proc: subprocess.Popen[bytes], sig: int) -> None:
    """Send ``sig`` to a worker and its scheduler child."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)


def start_relay(env: dict[str, str]) -> subprocess.Popen[bytes]:
    """``lanterne outbox relay``, as the Procfile's relay process."""
    # Only the relay command: not loading the plugin commands (entry points of the installed
    # package, which may name modules of another checkout than this one).
    code = "from backend.cli import main; main._loaded_plugin_commands = True; main()"
    return subprocess.Popen(
        [sys.executable, "-c", code, "outbox", "relay", "--interval", "0.1"], env=env, cwd=ROOT
    )


def make_reports(app: Any, count: int, offset: int) -> list[int]:
    """Reports whose reporter consented to notifications; their ids."""
    from backend.extensions import db
    from backend.models import Report, ReportUpdate
    from backend.services.contacts import ContactCipher, ContactDetails, load_keys, make_contact

    cipher = ContactCipher(load_keys(app.config["CONTACT_KEYS"], Path(app.instance_path)))
    ids = []
    with app.app_context(), db.new_session() as session:
        for i in range(offset, offset + count):
            report = Report(
                tracking_id=f"bench-{i:06d}-notify",
                description="Lampadaire éteint",
                service_code="streetlight",
                status="open",
                language="fr" if i % 3 else "en",
            )
            session.add(report)
            session.flush()
            assert report.id is not None
            session.add(ReportUpdate(report_id=report.id, status="open"))
            details = ContactDetails(email=f"resident{i}@example.org", consent_notifications=True)
            session.add(make_contact(cipher=cipher, report_id=report.id, details=details))
            ids.append(report.id)
        session.commit()
    return ids


def change_statuses(app: Any, report_ids: list[int], rate: float) -> dict[int, float]:
    """One committed status change per report at ``rate`` a second; update id → commit time."""
    from backend.extensions import db
    from backend.models import Report, ReportStatus
    from backend.services.reports import set_status

    committed: dict[int, float] = {}
    start = time.monotonic()
    with app.app_context(), db.new_session() as session:
        for n, report_id in enumerate(report_ids):
            due = start + n / rate
            pause = due - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            report = session.get(Report, report_id)
            assert report is not None
            update = set_status(session=session, report=report, status=ReportStatus.IN_PROGRESS)
            session.commit()
            assert update.id is not None
            committed[update.id] = time.time()
    return committed


def expected_ids(app: Any, update_ids: list[int]) -> dict[str, int]:
    """The Message-ID each update's e-mail must carry → update id."""
    from backend.extensions import db
    from backend.models import Contact, ReportUpdate
    from backend.services.notifications import message_key
    from workers.notifications.mail import message_id_for

    found = {}
    with app.app_context(), db.new_session() as session:
        rows = session.execute(
            sa.select(ReportUpdate.id, Contact.email_hmac)
            .join(Contact, Contact.report_id == ReportUpdate.report_id)
            .where(ReportUpdate.id.in_(update_ids))  # type: ignore[union-attr]
        ).all()
        sender = app.config["MAIL_FROM"]
        for update_id, key in rows:
            found[message_id_for(message_key(update_id, key, "email"), sender)] = update_id
    return found


def catch_up_forever(app: Any, connection: redis.Redis, stop: threading.Event) -> None:
    """The scheduler's ``drain_outbox``, every 10 s."""
    from backend.extensions import db
    from backend.services import outbox

    while not stop.wait(10):
        with app.app_context(), db.new_session() as session:
            outbox.dispatch_pending(session=session, connection=connection)


def wait_for(inbox: Inbox, wanted: set[str], timeout: float) -> dict[str, list[float]]:
    """Until every wanted Message-ID arrived, or ``timeout`` seconds; what arrived."""
    deadline = time.monotonic() + timeout
    while True:
        arrivals = inbox.arrivals()
        if wanted <= set(arrivals) or time.monotonic() >= deadline:
            return arrivals
        time.sleep(0.5)


def settle(app: Any, timeout: float) -> None:
    """Until no delivery is "sending", "committing" or "retry" any more, or ``timeout`` s."""
    from backend.extensions import db
    from backend.models import Notification

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with app.app_context(), db.new_session() as session:
            open_rows = session.execute(
                sa.select(sa.func.count()).where(
                    Notification.status.in_(["sending", "committing", "retry"])  # type: ignore[attr-defined]
                )
            ).scalar()
        if not open_rows:
            return
        time.sleep(1)


def breakdown(app: Any, connection: redis.Redis, update_ids: list[int]) -> dict[str, float]:
    """Where the time goes (medians, s): commit → relay push, push → worker start, job run."""
    from rq.job import Job

    from backend.extensions import db
    from backend.models import OutboxMessage
    from backend.services.notifications import notify_job_id

    ids = [notify_job_id(u) for u in update_ids]
    with app.app_context(), db.new_session() as session:
        rows = session.execute(
            sa.select(OutboxMessage.created_at, OutboxMessage.dispatched_at).where(
                OutboxMessage.job_id.in_(ids)  # type: ignore[attr-defined]
            )
        ).all()
    relay = [(d - c).total_seconds() for c, d in rows if d is not None]
    waits, runs = [], []
    for job in Job.fetch_many(ids, connection=connection):
        if job is None or job.started_at is None or job.ended_at is None:
            continue
        assert job.enqueued_at is not None
        waits.append((job.started_at - job.enqueued_at).total_seconds())
        runs.append((job.ended_at - job.started_at).total_seconds())
    return {
        "relay_s": round(statistics.median(relay), 3) if relay else float("nan"),
        "queue_wait_s": round(statistics.median(waits), 3) if waits else float("nan"),
        "job_run_s": round(statistics.median(runs), 3) if runs else float("nan"),
    }


def percentile(values: list[float], q: float) -> float:
    """The q-quantile (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def main() -> None:
    """Run the phases and print their figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--phase", choices=["latency", "kill", "both"], default="both")
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--kill-at", type=float, default=12.0)
    parser.add_argument("--smtp-delay", type=float, default=0.03)
    parser.add_argument(
        "--database", default="postgresql://postgres@127.0.0.1/lanterne_notify_bench"
    )
    parser.add_argument("--redis-port", type=int, default=5121)
    parser.add_argument("--smtp-port", type=int, default=5122)
    parser.add_argument("--wait", type=float, default=240.0)
    parser.add_argument("--workers", type=int, default=1, help="RQ worker processes")
    args = parser.parse_args()

    instance = Path("/tmp/lanterne-notify-bench")
    instance.mkdir(mode=0o700, exist_ok=True)
    env = env_for(args, instance)
    os.environ.update({k: v for k, v in env.items() if k != "PYTHONPATH"})
    fresh_database(args.database)
    redis_proc = start_redis(args.redis_port)
    connection = redis.Redis(port=args.redis_port)
    inbox = Inbox(args.smtp_port, 0.0, instance / "inbox-latency.tsv")

    from backend.app import create_app
    from backend.config import config_from_env

    app = create_app(config_from_env())
    workers = [start_worker(env) for _ in range(args.workers)]
    relay = start_relay(env)
    stop = threading.Event()
    catcher = threading.Thread(target=catch_up_forever, args=(app, connection, stop), daemon=True)
    catcher.start()
    results: dict[str, Any] = {
        "rate": args.rate,
        "duration": args.duration,
        "workers": args.workers,
        "cpus": os.cpu_count(),
        "load_average_before": os.getloadavg()[0],
    }
    count = int(args.rate * args.duration)
    try:
        # Warm-up: each worker builds its app on its first job (seconds on a busy machine);
        # a kill must land on a worker at work, not on one still starting.
        warm = make_reports(app, 4 * args.workers, 900_000)
        warm_committed = change_statuses(app, warm, 2.0)
        wait_for(inbox, set(expected_ids(app, list(warm_committed))), args.wait)
        if args.phase in ("latency", "both"):
            ids = make_reports(app, count, 0)
            committed = change_statuses(app, ids, args.rate)
            wanted = expected_ids(app, list(committed))
            arrivals = wait_for(inbox, set(wanted), args.wait)
            latencies = [
                arrivals[mid][0] - committed[update_id]
                for mid, update_id in wanted.items()
                if mid in arrivals
            ]
            results["latency"] = {
                "changes": len(committed),
                "mails": len(latencies),
                "p50_s": round(statistics.median(latencies), 3),
                "p95_s": round(percentile(latencies, 0.95), 3),
                "max_s": round(max(latencies), 3),
                "medians": breakdown(app, connection, list(committed)),
            }
        if args.phase in ("kill", "both"):
            inbox.stop()
            inbox = Inbox(args.smtp_port, args.smtp_delay, instance / "inbox-kill.tsv")
            ids = make_reports(app, count, 100_000)
            killer_log: dict[str, float] = {}

            def kill_later() -> None:
                time.sleep(args.kill_at)
                killer_log["killed_at"] = time.time()
                kill_group(workers[0], signal.SIGKILL)
                workers[0].wait()
                time.sleep(1)
                workers[0] = start_worker(env)

            killer = threading.Thread(target=kill_later)
            killer.start()
            committed = change_statuses(app, ids, args.rate)
            killer.join()
            wanted = expected_ids(app, list(committed))
            wait_for(inbox, set(wanted), args.wait)
            # Every message may have arrived while a delivery is still "sending" or
            # "committing" (the worker died during it): its takeover comes later (and would
            # send a copy if "committing" were not marked "uncertain"). Count once settled.
            settle(app, args.wait)
            time.sleep(1)
            arrivals = inbox.arrivals()
            copies = Counter({mid: len(arrivals.get(mid, [])) for mid in wanted})
            results["kill"] = {
                "changes": len(committed),
                "received": sum(1 for n in copies.values() if n >= 1),
                "duplicates": sum(n - 1 for n in copies.values() if n > 1),
                "lost": sum(1 for n in copies.values() if n == 0),
                "smtp_delay_s": args.smtp_delay,
                "kill_at_s": args.kill_at,
            }
            from backend.extensions import db
            from backend.models import Notification

            with app.app_context(), db.new_session() as session:
                rows = session.execute(
                    sa.select(Notification.status, sa.func.count()).group_by(Notification.status)
                ).all()
                resent = session.execute(
                    sa.select(sa.func.count()).where(Notification.attempts > 1)  # type: ignore[arg-type]
                ).scalar()
            book = {status: n for status, n in rows}
            results["kill"]["book"] = book
            results["kill"]["taken_over"] = resent
            # Died after the final "." (decision 0010): never sent again; received or not?
            results["kill"]["uncertain"] = book.get("uncertain", 0)
    finally:
        stop.set()
        relay.send_signal(signal.SIGTERM)
        for proc in workers:
            kill_group(proc, signal.SIGTERM)
        for proc in (*workers, relay):
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        for proc in workers:
            kill_group(proc, signal.SIGKILL)  # a scheduler child that did not stop
        inbox.stop()
        redis_proc.terminate()
        redis_proc.wait(timeout=10)
    results["load_average_after"] = os.getloadavg()[0]
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
