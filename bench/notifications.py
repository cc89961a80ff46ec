"""Notifications: status change → e-mail accepted by an SMTP server, and a worker kill -9.

Starts its own Redis (``redis-server --save ""`` on ``--redis-port``), an aiosmtpd server in
this process (``--smtp-port``), a real RQ worker process listening on the Procfile's queues,
and the outbox relay (``lanterne outbox relay``) as a process; uses a PostgreSQL database of
its own (``--database``, dropped and made again). Every report has a reporter who consented
to notifications. The outbox catch-up (``workers.jobs.drain_outbox``, every 10 s from the
scheduler in production) is run by this script every 10 s.

1. ``latency``: ``--rate`` status changes a second for ``--duration`` seconds (open loop, one
   committed ``set_status`` each, as staff make them); for each, the time from its commit to
   the SMTP server's acceptance of its e-mail; p50, p95, max.
2. ``kill``: the same load; the SMTP server takes ``--smtp-delay`` seconds to accept each
   message (a real server's pace, so that the worker is inside an SMTP transaction most of the
   time), the worker is killed with SIGKILL ``--kill-at`` seconds in, and started again one
   second later (as the process manager does). Then waits (bounded) and counts e-mails
   received twice (same Message-ID) and e-mails never received.

    PYTHONPATH=$PWD .venv/bin/python bench/notifications.py --phase both
"""

from __future__ import annotations

import argparse
import asyncio
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
from aiosmtpd.controller import Controller

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

QUEUES = ["high", "reports", "notify", "default", "signals"]


class Inbox:
    """What the SMTP server accepted: Message-ID → arrival times."""

    def __init__(self, delay: float = 0.0) -> None:
        self.arrivals: dict[str, list[float]] = {}
        self.delay = delay
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        if self.delay:
            await asyncio.sleep(self.delay)
        message_id = ""
        for line in envelope.content.split(b"\r\n"):
            if line.lower().startswith(b"message-id:"):
                message_id = line.split(b":", 1)[1].strip().decode()
                break
        with self.lock:
            self.arrivals.setdefault(message_id, []).append(time.time())
        return "250 OK"


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
            "--logging_level",
            "WARNING",
            *QUEUES,
        ],
        env=env,
        cwd=ROOT,
    )


def start_relay(env: dict[str, str]) -> subprocess.Popen[bytes]:
    """``lanterne outbox relay``, as the Procfile's relay process."""
    code = "from backend.cli import main; main()"
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


def wait_for(inbox: Inbox, wanted: set[str], timeout: float) -> None:
    """Until every wanted Message-ID arrived, or ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with inbox.lock:
            if wanted <= set(inbox.arrivals):
                return
        time.sleep(0.2)


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
    parser.add_argument("--database", default="postgresql://postgres@127.0.0.1/lanterne_notify_bench")
    parser.add_argument("--redis-port", type=int, default=5121)
    parser.add_argument("--smtp-port", type=int, default=5122)
    parser.add_argument("--wait", type=float, default=240.0)
    args = parser.parse_args()

    instance = Path("/tmp/lanterne-notify-bench")
    instance.mkdir(mode=0o700, exist_ok=True)
    env = env_for(args, instance)
    os.environ.update({k: v for k, v in env.items() if k != "PYTHONPATH"})
    fresh_database(args.database)
    redis_proc = start_redis(args.redis_port)
    connection = redis.Redis(port=args.redis_port)
    inbox = Inbox()
    smtp = Controller(inbox, hostname="127.0.0.1", port=args.smtp_port)
    smtp.start()

    from backend.app import create_app
    from backend.config import config_from_env

    app = create_app(config_from_env())
    worker = start_worker(env)
    relay = start_relay(env)
    stop = threading.Event()
    catcher = threading.Thread(target=catch_up_forever, args=(app, connection, stop), daemon=True)
    catcher.start()
    results: dict[str, Any] = {"rate": args.rate, "duration": args.duration}
    count = int(args.rate * args.duration)
    try:
        time.sleep(2)  # the worker and relay start
        if args.phase in ("latency", "both"):
            ids = make_reports(app, count, 0)
            committed = change_statuses(app, ids, args.rate)
            wanted = expected_ids(app, list(committed))
            wait_for(inbox, set(wanted), args.wait)
            latencies = [
                inbox.arrivals[mid][0] - committed[update_id]
                for mid, update_id in wanted.items()
                if mid in inbox.arrivals
            ]
            results["latency"] = {
                "changes": len(committed),
                "mails": len(latencies),
                "p50_s": round(statistics.median(latencies), 3),
                "p95_s": round(percentile(latencies, 0.95), 3),
                "max_s": round(max(latencies), 3),
            }
        if args.phase in ("kill", "both"):
            inbox.delay = args.smtp_delay
            ids = make_reports(app, count, 100_000)
            killer_log: dict[str, float] = {}

            def kill_later() -> None:
                nonlocal worker
                time.sleep(args.kill_at)
                killer_log["killed_at"] = time.time()
                worker.send_signal(signal.SIGKILL)
                worker.wait()
                time.sleep(1)
                worker = start_worker(env)

            killer = threading.Thread(target=kill_later)
            killer.start()
            committed = change_statuses(app, ids, args.rate)
            killer.join()
            wanted = expected_ids(app, list(committed))
            wait_for(inbox, set(wanted), args.wait)
            with inbox.lock:
                copies = Counter({mid: len(inbox.arrivals.get(mid, [])) for mid in wanted})
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
            results["kill"]["book"] = {status: n for status, n in rows}
            results["kill"]["taken_over"] = resent
    finally:
        stop.set()
        for proc in (worker, relay):
            proc.send_signal(signal.SIGTERM)
        for proc in (worker, relay):
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        smtp.stop()
        redis_proc.terminate()
        redis_proc.wait(timeout=10)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
