"""Staff dashboard and queue-map benchmark: latency with a million reports, on PostgreSQL.

Creates a database of its own (dropped at the end unless ``--keep``), loads N reports over two
years with INSERT ... SELECT from generate_series (10 % still open, the rest fixed, closed or
rejected, 4 % reopened once; a history of 2 to 4 steps each; a questionnaire for one fixed
report in ten), then requests in-process (the full WSGI stack, no network), R times each:

- ``GET /api/v1/staff/dashboard`` as an analyst (every service) and as a supervisor (one
  department), 12 weeks;
- ``GET /staff/dashboard`` (the page, logged in) and its CSV export;
- ``GET /api/v1/staff/map`` over the whole city at zoom 12 and a quartier at zoom 16;

and prints median and p95 per request kind. The dashboard's figures are first computed and
stored as the scheduled job does (its duration is printed): the requests read them.

    DATABASE_URL=postgresql://postgres@127.0.0.1/postgres REDIS_URL=redis://127.0.0.1:6379/6 \\
        .venv/bin/python bench/staff_dashboard.py

``--reports`` sets N (default 1,000,000), ``--repeat`` R (default 30).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa

LOAD_SQL = """
INSERT INTO report (tracking_id, description, lat, lon, area_code, service_code, status,
                    source, needs_triage, created_at, updated_at, closed_at)
SELECT 'b-' || g,
       'Signalement de banc numéro ' || g,
       43.20 + random() * 0.18,
       5.30 + random() * 0.20,
       '13' || lpad((1 + (g % 16))::text, 3, '0'),
       (ARRAY['streetlight','traffic_signal','road_sign','road_damage','graffiti',
              'illegal_dumping','waste_bins','abandoned_vehicle','noise','public_order',
              'street_furniture','water_leak','other'])[1 + (g % 13)],
       CASE WHEN r < 0.03 THEN 'open' WHEN r < 0.06 THEN 'in_progress'
            WHEN r < 0.08 THEN 'received' WHEN r < 0.10 THEN 'waiting'
            WHEN r < 0.95 THEN 'fixed' WHEN r < 0.98 THEN 'closed' ELSE 'rejected' END,
       'api', r < 0.02, c, c,
       CASE WHEN r >= 0.10 THEN c + (random() * 20 + 0.1) * interval '1 day' END
FROM (SELECT g, random() AS r,
             now() - (random() * 730) * interval '1 day' AS c
      FROM generate_series(1, :n) AS g) AS s
"""
PASSWORD = "correct horse battery staple"
HISTORY_SQL = [
    # received, at intake
    "INSERT INTO report_update (report_id, status, created_at) "
    "SELECT id, 'received', created_at FROM report",
    # reopened once (4 % of the fixed ones): fixed, then open, before the final fix
    "INSERT INTO report_update (report_id, status, created_at) "
    "SELECT id, s.status, created_at + s.k * (closed_at - created_at) / 3 "
    "FROM report, (VALUES ('fixed', 1), ('open', 2)) AS s(status, k) "
    "WHERE closed_at IS NOT NULL AND id % 25 = 0",
    # the final status
    "INSERT INTO report_update (report_id, status, created_at) "
    "SELECT id, status, coalesce(closed_at, created_at + interval '1 hour') FROM report "
    "WHERE status <> 'received'",
    "INSERT INTO feedback (report_id, fixed, satisfaction, created_at) "
    "SELECT id, id % 7 <> 0, 1 + id % 5, closed_at + interval '2 days' FROM report "
    "WHERE status = 'fixed' AND id % 10 = 0",
    # What autovacuum does after a bulk load: statistics, and the visibility map that lets
    # the map's box queries be index-only scans.
    "VACUUM ANALYZE",
]


def timed(call: Callable[[], Any], repeat: int) -> tuple[float, float]:
    """Median and p95 (nearest rank) of ``repeat`` calls, in milliseconds."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    ordered = sorted(times)
    return statistics.median(ordered), ordered[max(0, round(0.95 * len(ordered)) - 1)]


def main() -> None:
    """Load, then measure (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reports", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()

    from backend import migrate
    from backend.app import create_app
    from backend.config import TestingConfig
    from backend.db import make_engine

    base = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1/postgres")
    name = f"lanterne_casework_bench_{uuid.uuid4().hex[:6]}"
    admin = make_engine(base).execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = base.rsplit("/", 1)[0] + f"/{name}"
    print(f"database {name}; {args.reports:,} reports; {os.cpu_count()} cores")
    try:
        migrate.upgrade(url)
        engine = make_engine(url)
        started = time.perf_counter()
        with engine.begin() as conn:
            conn.execute(sa.text(LOAD_SQL), {"n": args.reports})
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            for statement in HISTORY_SQL:
                conn.execute(sa.text(statement))
            updates = conn.execute(sa.text("SELECT count(*) FROM report_update")).scalar_one()
        engine.dispose()
        print(f"load: {time.perf_counter() - started:.0f} s ({updates:,} history steps)")
        instance = Path("/tmp") / name
        app = create_app(
            TestingConfig,
            DATABASE_URL=url,
            REDIS_URL=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/6"),
            RATELIMIT_STORAGE_URI="memory://",
            INSTANCE_PATH=str(instance),
            MEDIA_PATH=str(instance / "media"),
            ARGON2_TIME_COST=1,
            ARGON2_MEMORY_COST=1024,
            ARGON2_PARALLELISM=1,
        )
        with app.app_context():
            from backend.extensions import db
            from backend.services.staff import create_staff, issue_token

            with db.new_session() as session:
                analyst = create_staff(
                    session=session,
                    email="analyst@bench.example.org",
                    role="analyst",
                    password=PASSWORD,
                )
                supervisor = create_staff(
                    session=session,
                    email="supervisor@bench.example.org",
                    role="supervisor",
                    password=PASSWORD,
                    department="roads",
                )
                tokens = {
                    "analyst": issue_token(session=session, staff=analyst),
                    "supervisor": issue_token(session=session, staff=supervisor),
                }
            from backend.services.dashboard import refresh
            from backend.services.queue_map import refresh_grid

            # What the scheduled job does every 5 minutes (every period offered, the map grid).
            with db.new_session() as session:
                started = time.perf_counter()
                refresh(session=session)
                middle = time.perf_counter()
                refresh_grid(session=session)
                print(
                    f"refresh job: dashboard (4 periods) {middle - started:.1f} s, "
                    f"map grid {time.perf_counter() - middle:.1f} s"
                )
        client = app.test_client()

        def api(path: str, who: str) -> Callable[[], Any]:
            headers = {"Authorization": f"Bearer {tokens[who]}"}

            def call() -> None:
                response = client.get(path, headers=headers)
                assert response.status_code == 200, response.get_data(as_text=True)[:300]

            return call

        page = app.test_client()
        form = page.get("/staff/login").get_data(as_text=True)
        token = re.search(r'name="csrf_token" value="([^"]+)"', form)
        assert token is not None
        page.post(
            "/staff/login",
            data={
                "email": "analyst@bench.example.org",
                "password": PASSWORD,
                "csrf_token": token.group(1),
            },
        )

        def html(path: str) -> Callable[[], Any]:
            def call() -> None:
                assert page.get(path).status_code == 200

            return call

        city = "south=43.19&west=5.28&north=43.40&east=5.52"
        quartier = "south=43.285&west=5.37&north=43.30&east=5.395"
        district = "south=43.25&west=5.34&north=43.34&east=5.44"
        cases = [
            ("API dashboard, analyst (all services)", api("/api/v1/staff/dashboard", "analyst")),
            ("API dashboard, supervisor (roads)", api("/api/v1/staff/dashboard", "supervisor")),
            ("page /staff/dashboard", html("/staff/dashboard")),
            ("CSV /staff/dashboard.csv", html("/staff/dashboard.csv")),
            (
                "API map, city, zoom 12, open reports",
                api(f"/api/v1/staff/map?{city}&zoom=12&needs_triage=false", "supervisor"),
            ),
            (
                "API map, a quarter of the city, zoom 13, open reports",
                api(f"/api/v1/staff/map?{district}&zoom=13&needs_triage=false", "supervisor"),
            ),
            (
                "API map, quartier, zoom 16, open reports",
                api(f"/api/v1/staff/map?{quartier}&zoom=16&needs_triage=false", "supervisor"),
            ),
        ]
        for label, call in cases:
            call()  # warm-up
            median, p95 = timed(call, args.repeat)
            print(f"{label}: median {median:.0f} ms, p95 {p95:.0f} ms")
        app.extensions["lanterne.db"].dispose()
    finally:
        if not args.keep:
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
