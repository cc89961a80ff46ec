"""GET /open311/v2/requests.json returning 1,000 requests, on PostgreSQL holding 1M reports.

Creates the database ``lanterne_bench_open311`` (dropped at the end unless ``--keep``), migrates
it, bulk-loads the reports with COPY (spread over three years, 30 % with a public note), then
times the request through the Flask test client (the whole app: routing, query, three batched
look-ups, JSON rendering). Prints median and p95 per query.

    .venv/bin/python bench/open311_requests.py --rows 1000000 --runs 200 [--keep | --reuse]
"""

from __future__ import annotations

import argparse
import io
import os
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta

import psycopg
import sqlalchemy as sa

from backend import migrate
from backend.app import create_app
from backend.config import Config
from backend.db import make_engine
from backend.services.catalogue import DEFAULT_SERVICES

PG_ADMIN = "postgresql://postgres@127.0.0.1/test"
PG_DB = "lanterne_bench_open311"
STATUSES = ["open"] * 5 + ["in_progress"] * 2 + ["fixed"] * 4 + ["closed", "rejected"]


def database_url(admin: str, name: str) -> str:
    """The URL of database ``name`` on the admin URL's server."""
    return admin.rsplit("/", 1)[0] + f"/{name}"


def recreate(admin: str, name: str) -> str:
    """Drop and create the bench database; return its URL."""
    engine = make_engine(admin).execution_options(isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return database_url(admin, name)


def drop(admin: str, name: str) -> None:
    """Drop the bench database."""
    engine = make_engine(admin).execution_options(isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


def load(url: str, rows: int, seed: int) -> float:
    """COPY ``rows`` reports (and their notes) into the database; return seconds taken."""
    rng = random.Random(seed)
    codes = [s.code for s in DEFAULT_SERVICES]
    now = datetime.now(UTC)
    span = timedelta(days=3 * 365).total_seconds()
    started = time.perf_counter()
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        stamps = sorted(now - timedelta(seconds=rng.random() * span) for _ in range(rows))
        buffer = io.StringIO()
        notes = io.StringIO()
        for i, created in enumerate(stamps, start=1):
            status = rng.choice(STATUSES)
            closed = status in ("fixed", "closed", "rejected")
            updated = created + timedelta(hours=rng.randint(1, 400))
            lat = 43.25 + rng.random() * 0.1
            lon = 5.33 + rng.random() * 0.12
            text = f"Signalement {i}: description publique nettoyée"
            buffer.write(
                "\t".join(
                    [
                        f"bench-{i}",
                        text,
                        text,
                        f"{lat:.6f}",
                        f"{lon:.6f}",
                        rng.choice(codes),
                        status,
                        "api",
                        "f",
                        created.isoformat(),
                        updated.isoformat(),
                        updated.isoformat() if closed else "\\N",
                    ]
                )
                + "\n"
            )
            if rng.random() < 0.3:
                # As written and as published (scrubbed: nothing personal in it).
                note = f"Équipe passée le {updated:%d/%m}"
                notes.write(f"{i}\t{status}\t{note}\t{note}\t{updated.isoformat()}\n")
        buffer.seek(0)
        notes.seek(0)
        columns = (
            "tracking_id, description, description_public, lat, lon, service_code, status, "
            "source, needs_triage, created_at, updated_at, closed_at"
        )
        with cur.copy(f"COPY report ({columns}) FROM STDIN") as copy:
            while chunk := buffer.read(1 << 20):
                copy.write(chunk)
        with cur.copy(
            "COPY report_update (report_id, status, public_note, public_note_published, "
            "created_at) FROM STDIN"
        ) as copy:
            while chunk := notes.read(1 << 20):
                copy.write(chunk)
        conn.commit()
        cur.execute("ANALYZE report")
        cur.execute("ANALYZE report_update")
        conn.commit()
    return time.perf_counter() - started


def main() -> None:
    """Load, then time GET requests.json (1,000 results) for a few queries."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--admin-url", default=PG_ADMIN)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--redis-url",
        default="redis://127.0.0.1:6379/7",
        help="a Redis server (the embedded one would outlive its temporary folder)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument(
        "--reuse", action="store_true", help="time a database kept by an earlier --keep run"
    )
    args = parser.parse_args()

    url = database_url(args.admin_url, PG_DB) if args.reuse else recreate(args.admin_url, PG_DB)
    try:
        if not args.reuse:
            migrate.upgrade(url)
            seconds = load(url, args.rows, args.seed)
            print(f"loaded {args.rows:,} reports in {seconds:.1f} s")
        with tempfile.TemporaryDirectory() as instance:
            app = create_app(
                Config,
                DATABASE_URL=url,
                REDIS_URL=args.redis_url,
                INSTANCE_PATH=instance,
                MEDIA_PATH=f"{instance}/media",
                RATELIMIT_ENABLED=False,
                TESTING=True,
            )
            client = app.test_client()
            queries = {
                "default (last 90 days)": "",
                "status=open": "status=open",
                "service_code=streetlight,road_damage": "service_code=streetlight,road_damage",
                "xml, default": "",
            }
            for label, query in queries.items():
                fmt = "xml" if label.startswith("xml") else "json"
                path = f"/open311/v2/requests.{fmt}?{query}"
                for _ in range(5):  # warm-up: connections, caches
                    client.get(path)
                times = []
                for _ in range(args.runs):
                    started = time.perf_counter()
                    response = client.get(path)
                    times.append((time.perf_counter() - started) * 1000)
                    assert response.status_code == 200, response.get_data(as_text=True)
                if fmt == "json" and not query:
                    assert len(response.get_json()) == 1000
                times.sort()
                p95 = times[max(0, round(0.95 * len(times)) - 1)]
                print(
                    f"{label:40s} median {statistics.median(times):6.1f} ms   "
                    f"p95 {p95:6.1f} ms   ({args.runs} runs)"
                )
            app.extensions["lanterne.db"].dispose()
        print(f"load average during the run: {os.getloadavg()[0]:.1f} ({os.cpu_count()} CPUs)")
    finally:
        if not args.keep:
            drop(args.admin_url, PG_DB)


if __name__ == "__main__":
    main()
