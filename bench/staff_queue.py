"""Triage queue benchmark: the staff queue page at a million reports, on PostgreSQL.

Creates a database of its own (dropped at the end), loads N reports over three years with
PostgreSQL's COPY (5 % still open, each with its team, due date, and two open cases in three
held by a person), logs an agent of one team in through the real login form, then requests
the queue page in-process (the full WSGI stack, no network): the default view ("my work"),
the overdue tab, a search, and the staff API's queue; prints median and p95 per view, and
the query plans of the queue's two statements (EXPLAIN ANALYZE).

    DATABASE_URL=postgresql://postgres@127.0.0.1/lanterne_queues \\
        .venv/bin/python bench/staff_queue.py

``--reports`` sets N (default 1,000,000); ``--keep`` keeps the database.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

# service: (share, team); the roads department's reports split between two teams by area.
SERVICES = {
    "streetlight": (0.14, "eclairage"),
    "traffic_signal": (0.05, "voirie"),
    "road_sign": (0.04, "voirie"),
    "road_damage": (0.16, "voirie"),
    "graffiti": (0.07, "proprete"),
    "illegal_dumping": (0.15, "proprete"),
    "waste_bins": (0.13, "proprete"),
    "abandoned_vehicle": (0.04, "police"),
    "noise": (0.07, "police"),
    "public_order": (0.06, "police"),
    "street_furniture": (0.04, "voirie"),
    "water_leak": (0.03, "eau"),
    "other": (0.02, "accueil"),
}
TEAMS = ["eclairage", "voirie-nord", "voirie-sud", "proprete", "police", "eau", "accueil"]
TARGET = {"traffic_signal": 2, "waste_bins": 2, "water_leak": 2, "illegal_dumping": 3}
AGENT = "agent.voirie-sud@bench.fr"
PASSWORD = "bench password for the queue"


def percentile(values: list[float], q: float) -> float:
    """The q-quantile (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def load_reports(url: str, count: int, seed: int, holders: dict[str, int]) -> float:
    """COPY ``count`` reports; return the seconds it took."""
    import psycopg

    rng = random.Random(seed)
    codes = list(SERVICES)
    shares = [SERVICES[c][0] for c in codes]
    now = datetime.now(UTC)
    start = now - timedelta(days=3 * 365)
    span = (now - start).total_seconds()
    started = time.perf_counter()
    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn) as pg, pg.cursor() as cur:
        with cur.copy(
            "COPY report (tracking_id, description, address, area_code, service_code, status, "
            "source, needs_triage, confidence, created_at, updated_at, closed_at, team_code, "
            "assignee_id, due_at) FROM STDIN"
        ) as copy:
            services = rng.choices(codes, weights=shares, k=count)
            for i in range(count):
                code = services[i]
                team = SERVICES[code][1]
                area = f"132{rng.randrange(1, 17):02d}{rng.randrange(1, 8):02d}"
                if team == "voirie":
                    team = (
                        "voirie-nord"
                        if area[3:5] in ("02", "03", "13", "14", "15")
                        else ("voirie-sud")
                    )
                created = start + timedelta(seconds=rng.random() * span)
                due = created + timedelta(days=TARGET.get(code, 10))
                roll = rng.random()
                status, closed, holder = (
                    "fixed",
                    created + timedelta(days=rng.expovariate(1 / 6)),
                    None,
                )
                if roll < 0.05 or closed > now:
                    status, closed = rng.choice(["open", "in_progress", "received"]), None
                    if rng.random() < 0.67:
                        holder = holders.get(team)
                copy.write_row(
                    (
                        uuid.uuid4().hex[:24],
                        f"bench report {i} rue {rng.randrange(500)}",
                        f"{rng.randrange(1, 200)} rue du banc {rng.randrange(300)}",
                        area,
                        code,
                        status,
                        "bench",
                        rng.random() < 0.2,
                        round(rng.uniform(0.3, 0.99), 3),
                        created,
                        closed or created,
                        closed,
                        team,
                        holder,
                        due,
                    )
                )
        pg.commit()
    return time.perf_counter() - started


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=40, help="per view")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument(
        "--reuse", metavar="NAME", help="measure again on a database kept by --keep (no load)"
    )
    args = parser.parse_args()

    from backend import migrate
    from backend.app import create_app
    from backend.config import TestingConfig
    from backend.db import make_engine

    base = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1/lanterne_queues")
    name = args.reuse or f"lanterne_queues_bench_{uuid.uuid4().hex[:6]}"
    admin = make_engine(base).execution_options(isolation_level="AUTOCOMMIT")
    if not args.reuse:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = base.rsplit("/", 1)[0] + f"/{name}"
    print(f"database {name}; {args.reports:,} reports; 2 cores shared")
    try:
        migrate.upgrade(url)
        instance = Path("/tmp") / name
        app = create_app(
            TestingConfig,
            DATABASE_URL=url,
            REDIS_URL=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/5"),
            RATELIMIT_STORAGE_URI="memory://",
            RATELIMIT_ENABLED=False,
            INSTANCE_PATH=str(instance),
            MEDIA_PATH=str(instance / "media"),
            ARGON2_TIME_COST=1,
            ARGON2_MEMORY_COST=1024,
            ARGON2_PARALLELISM=1,
        )
        with app.app_context():
            from sqlmodel import select

            from backend.extensions import db
            from backend.models import StaffUser
            from backend.services.staff import issue_token

            if not args.reuse:
                prepare(url, args)
            with db.new_session() as session:
                agent = session.exec(select(StaffUser).where(StaffUser.email == AGENT)).one()
                token = issue_token(session=session, staff=agent, name="bench")
        client = app.test_client()
        page = client.get("/staff/login").get_data(as_text=True)
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert csrf
        login = client.post(
            "/staff/login",
            data={"email": AGENT, "password": PASSWORD, "csrf_token": csrf[1]},
        )
        assert login.status_code == 302, login.status_code
        views = {
            "my work (default)": ("/staff/triage", {}),
            "overdue tab": ("/staff/triage?tab=overdue", {}),
            "search 'banc 12'": ("/staff/triage?tab=all&q=banc+12", {}),
            "API /triage?tab=work": (
                "/api/v1/staff/triage?tab=work",
                {"Authorization": f"Bearer {token}"},
            ),
        }
        for label, (path, headers) in views.items():
            first = client.get(path, headers=headers)
            assert first.status_code == 200, (path, first.status_code)
            rows = (
                len(first.get_json())
                if path.startswith("/api/")
                else first.get_data(as_text=True).count('id="report-')
            )
            times = []
            for _ in range(args.requests):
                started = time.perf_counter()
                response = client.get(path, headers=headers)
                times.append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200
            work = re.search(
                r'id="tab-work"[^>]*>[^<]*<span class="count">\((\d+)\)',
                first.get_data(as_text=True),
            )
            print(
                f"{label:>22}: median {statistics.median(times):6.1f} ms, "
                f"p95 {percentile(times, 0.95):6.1f} ms ({args.requests} requests; "
                f"{rows} rows shown" + (f", my work holds {work[1]}" if work else "") + ")"
            )
        with app.app_context():
            explain(url)
    finally:
        if not (args.keep or args.reuse):
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def prepare(url: str, args: argparse.Namespace) -> None:
    """Teams, one agent a team (the bench's agent works the south roads team), the reports."""
    from backend.db import make_engine
    from backend.extensions import db
    from backend.models import Service, Team
    from backend.services.staff import create_staff

    with db.new_session() as session:
        for team in TEAMS:
            session.add(Team(code=team, name=team.title(), department="bench"))
        session.commit()
        holders = {}
        for team in TEAMS:
            services = [c for c, (_s, t) in SERVICES.items() if team.startswith(t)]
            person = create_staff(
                session=session,
                email=AGENT if team == "voirie-sud" else f"agent.{team}@bench.fr",
                role="agent",
                password=PASSWORD,
                service_codes=services,
                team_code=team,
            )
            assert person.id is not None
            holders[team] = person.id
        assert session.get(Service, "road_damage") is not None
    seconds = load_reports(url, args.reports, args.seed, holders)
    print(f"load (COPY): {seconds:.1f} s")
    engine = make_engine(url).execution_options(isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text("VACUUM ANALYZE report"))
        open_count = conn.execute(
            sa.text("SELECT count(*) FROM report WHERE closed_at IS NULL")
        ).scalar_one()
    print(f"open reports: {open_count:,}")


def explain(url: str) -> None:
    """Print the plans of the default view's statements (ranking rows, tab counts)."""
    from sqlalchemy.dialects import postgresql
    from sqlmodel import col, select

    from backend.db import make_engine
    from backend.extensions import db
    from backend.models import Report, StaffUser
    from backend.services import queues as triage

    with db.new_session() as session:
        staff = session.exec(select(StaffUser).where(StaffUser.email == AGENT)).one()
        filters = triage.TriageFilters(needs_triage=None, tab="work")
        now = datetime.now(UTC)
        where = triage.queue_conditions(session=session, staff=staff, filters=filters, now=now)
        rank = sa.select(
            col(Report.id),
            col(Report.created_at),
            col(Report.closed_at),
            col(Report.confidence),
            col(Report.needs_triage),
            col(Report.service_code),
        ).where(*where)
        counts = [
            sa.func.count().filter(triage._tab_condition(tab, staff, now)).label(tab)
            for tab in triage.TABS
        ]
        base = triage.queue_conditions(
            session=session,
            staff=staff,
            filters=triage.TriageFilters(needs_triage=None, tab="all"),
            now=now,
        )
        count_stmt = sa.select(*counts).where(*base)
    engine = make_engine(url)
    with engine.connect() as conn:
        for label, stmt in (("ranking rows", rank), ("tab counts", count_stmt)):
            sql = stmt.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True})
            plan = conn.execute(sa.text(f"EXPLAIN (ANALYZE, BUFFERS OFF) {sql}")).scalars().all()
            print(f"--- EXPLAIN ANALYZE: {label}")
            print("\n".join(plan))
    engine.dispose()


if __name__ == "__main__":
    main()
