"""Time from POST to classified, at a steady rate of reports, with one RQ worker.

Starts gunicorn, the outbox relay and one Lanterne RQ worker
(``workers.worker.LanterneWorker``, the model preloaded) on PostgreSQL + Redis servers, sends
JSON reports at a fixed rate (an open loop: a slow answer does not slow the sender), and
measures, for each report, the time from the moment its POST was sent to the moment the worker
processed it (classified, scrubbed, linked: its ``process-report-<id>`` outbox row done; the
report stays "received" until someone at the city reads it).

    .venv/bin/python bench/post_to_classified.py --rate 50 --duration 60 --runs 3
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import sqlalchemy as sa
from intake import (
    BIN,
    ROOT,
    drop_postgres,
    prepare_postgres,
    run_server,
    server_env,
    start_relay,
    stop,
)

PG_DB = "lanterne_bench_classified"
TEXTS = [
    "Lampadaire éteint depuis trois jours rue de Rome, on n'y voit rien le soir",
    "Nid de poule énorme sur le boulevard National, dangereux pour les scooters",
    "Les poubelles débordent place Castellane depuis lundi",
    "Dépôt sauvage de gravats et de matelas au coin de la rue",
    "Tags sur la façade de l'école, c'est la troisième fois ce mois-ci",
    "Panneau stop arraché au carrefour, les voitures ne s'arrêtent plus",
    "Street light out on the Canebière near the metro",
    "Musique très forte tous les soirs jusqu'à 3h du matin au 12",
]


def post_report(port: int, text: str) -> tuple[str, float]:
    """POST one report; return its tracking id and when it was sent (epoch seconds)."""
    body = {
        "description": text,
        "lat": 43.28 + random.random() * 0.04,  # noqa: S311 (a bench, not a secret)
        "lon": 5.37 + random.random() * 0.04,  # noqa: S311
    }
    request = urllib.request.Request(  # noqa: S310 (loopback)
        f"http://127.0.0.1:{port}/api/v1/reports",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    sent = time.time()
    with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310
        return json.load(answer)["tracking_id"], sent


def send_steadily(port: int, rate: float, duration: float) -> dict[str, float]:
    """Send ``rate`` reports a second for ``duration`` seconds; tracking id -> sent time."""
    total = int(rate * duration)
    sent: dict[str, float] = {}
    lock = threading.Lock()
    errors = 0

    def one(i: int) -> None:
        nonlocal errors
        try:
            tracking_id, at = post_report(port, TEXTS[i % len(TEXTS)] + f" ({i})")
        except OSError:
            with lock:
                errors += 1
            return
        with lock:
            sent[tracking_id] = at

    start = time.monotonic()
    with ThreadPoolExecutor(max_workers=32) as pool:
        for i in range(total):
            delay = start + i / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            pool.submit(one, i)
            if i and i % int(rate * 10) == 0:
                print(f"  sent {i}/{total}", file=sys.stderr)
    if errors:
        print(f"  {errors} POSTs failed", file=sys.stderr)
    return sent


def opened_at(url: str, tracking_ids: list[str], timeout: float) -> dict[str, datetime]:
    """Wait until every report is processed (or the timeout); tracking id -> time the worker
    committed it (its processing job's outbox row marked done, in the job's transaction)."""
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    query = sa.text(
        "SELECT r.tracking_id, o.done_at FROM report r "
        "JOIN outbox_message o ON o.job_id = 'process-report-' || r.id AND o.done_at IS NOT NULL"
    )
    deadline = time.monotonic() + timeout
    wanted = set(tracking_ids)
    found: dict[str, datetime] = {}
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            found = {t: at for t, at in conn.execute(query) if t in wanted}
        if len(found) == len(wanted):
            break
        time.sleep(1)
    engine.dispose()
    return found


def start_worker(env: dict[str, str]) -> subprocess.Popen[bytes]:
    """One RQ worker, as the Procfile starts it."""
    cmd = [
        str(BIN / "rq"),
        "worker",
        "--url",
        env["REDIS_URL"],
        "--worker-class",
        "workers.worker.LanterneWorker",
        "--logging_level",
        "WARNING",
        "high",
        "reports",
        "default",
    ]
    return subprocess.Popen(cmd, env=env, cwd=ROOT, start_new_session=True)  # noqa: S603


def one_run(args: argparse.Namespace, env: dict[str, str], url: str) -> dict[str, float]:
    """Warm up, then one measured run; latency percentiles in seconds."""
    web = run_server("backend.wsgi:app", env, args.port, args.web_workers)
    relay = start_relay(env)
    worker = start_worker(env)
    try:
        warm = send_steadily(args.port, 5, 2)  # the worker loads its models meanwhile
        if len(opened_at(url, list(warm), 120)) != len(warm):
            raise RuntimeError("the worker did not process the warm-up reports")
        sent = send_steadily(args.port, args.rate, args.duration)
        opened = opened_at(url, list(sent), 300)
    finally:
        stop(web)
        stop(relay)
        stop(worker)
    latencies = sorted(opened[t].timestamp() - sent[t] for t in opened)
    missing = len(sent) - len(opened)
    return {
        "reports": len(sent),
        "missing": missing,
        "p50": statistics.median(latencies),
        "p95": latencies[int(0.95 * (len(latencies) - 1))],
        "max": latencies[-1],
    }


def main() -> None:
    """Run the bench and print a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rate", type=float, default=50, help="reports per second")
    parser.add_argument("--duration", type=float, default=60, help="seconds of sending")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--port", type=int, default=8312)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/8")
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        url = prepare_postgres(PG_DB)
        try:
            env = server_env(url, args.redis_url, tmp / "instance")
            for run in range(args.runs):
                print(f"run {run + 1}/{args.runs}", file=sys.stderr)
                results.append(one_run(args, env, url))
                print(f"  {results[-1]}", file=sys.stderr)
        finally:
            drop_postgres(PG_DB)
            import redis

            redis.Redis.from_url(args.redis_url).flushdb()
    print(f"{args.rate:g} reports/s for {args.duration:g} s, one RQ worker, {args.runs} runs")
    print("| run | reports | not processed | p50 s | p95 s | max s |")
    print("|---|---|---|---|---|---|")
    for i, r in enumerate(results, 1):
        print(
            f"| {i} | {r['reports']:.0f} | {r['missing']:.0f} | {r['p50']:.2f} | {r['p95']:.2f} "
            f"| {r['max']:.2f} |"
        )
    print(f"| median | | | | {statistics.median(r['p95'] for r in results):.2f} | |")


if __name__ == "__main__":
    main()
