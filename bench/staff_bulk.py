"""Bulk action benchmark: one status change (with a public note) and one assignment on 500
reports, each in ONE transaction and audited per report, on PostgreSQL.

Creates a database of its own (dropped at the end), loads ``--background`` reports so that
the tables are not empty, then for each of ``--runs`` rounds takes 500 fresh open reports and
times ``backend.services.bulk.bulk_apply`` (status, then assignment). The baseline, measured
in the same run: the same 500 status changes made one by one (``triage.change_status``, one
transaction each), as an agent without bulk actions would.

    DATABASE_URL=postgresql://postgres@127.0.0.1/lanterne_queues \\
        .venv/bin/python bench/staff_bulk.py
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa


def load(url: str, count: int, *, status: str = "open") -> None:
    """COPY ``count`` open traffic-signal reports."""
    import psycopg

    now = datetime.now(UTC)
    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn) as pg, pg.cursor() as cur:
        with cur.copy(
            "COPY report (tracking_id, description, service_code, status, source, "
            "needs_triage, created_at, updated_at) FROM STDIN"
        ) as copy:
            for i in range(count):
                created = now - timedelta(hours=1 + i % 500)
                copy.write_row(
                    (
                        uuid.uuid4().hex,
                        f"bench {i}",
                        "traffic_signal",
                        status,
                        "bench",
                        False,
                        created,
                        created,
                    )
                )
        pg.commit()


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=500)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--background", type=int, default=100_000)
    args = parser.parse_args()

    from sqlmodel import col, select

    from backend import migrate
    from backend.app import create_app
    from backend.config import TestingConfig
    from backend.db import make_engine
    from backend.models import Report, Team
    from backend.services import bulk, triage
    from backend.services.staff import create_staff

    base = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1/lanterne_queues")
    name = f"lanterne_queues_bulk_{uuid.uuid4().hex[:6]}"
    admin = make_engine(base).execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = base.rsplit("/", 1)[0] + f"/{name}"
    print(f"database {name}; {args.background:,} reports beside; {args.size} per action")
    try:
        migrate.upgrade(url)
        instance = Path("/tmp") / name
        app = create_app(
            TestingConfig,
            DATABASE_URL=url,
            REDIS_URL=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/5"),
            RATELIMIT_STORAGE_URI="memory://",
            INSTANCE_PATH=str(instance),
            MEDIA_PATH=str(instance / "media"),
            ARGON2_TIME_COST=1,
            ARGON2_MEMORY_COST=1024,
            ARGON2_PARALLELISM=1,
        )
        load(url, args.background, status="fixed")
        with app.app_context():
            from backend.extensions import db

            with db.new_session() as session:
                session.add(Team(code="feux", name="Feux", department="roads"))
                session.commit()
                agent = create_staff(
                    session=session,
                    email="bench@x.fr",
                    role="agent",
                    service_codes=["traffic_signal"],
                    team_code="feux",
                )
                timings: dict[str, list[float]] = {"status": [], "assign": [], "one by one": []}
                for _ in range(args.runs):
                    load(url, args.size)
                    ids = list(
                        session.exec(
                            select(Report.id)
                            .where(col(Report.status) == "open", col(Report.team_code).is_(None))
                            .order_by(col(Report.id).desc())
                            .limit(args.size)
                        )
                    )
                    session.expire_all()
                    started = time.perf_counter()
                    bulk.bulk_apply(
                        session=session,
                        staff=agent,
                        report_ids=ids,
                        action="status",
                        status="in_progress",
                        public_note="Intervention planifiée cette semaine.",
                    )
                    timings["status"].append(time.perf_counter() - started)
                    session.expire_all()
                    started = time.perf_counter()
                    bulk.bulk_apply(
                        session=session,
                        staff=agent,
                        report_ids=ids,
                        action="assign",
                        team_code="feux",
                        assignee_id=agent.id,
                    )
                    timings["assign"].append(time.perf_counter() - started)
                    # Baseline: the same kind of change, one report per transaction.
                    load(url, args.size)
                    singles = list(
                        session.exec(
                            select(Report)
                            .where(col(Report.status) == "open", col(Report.team_code).is_(None))
                            .order_by(col(Report.id).desc())
                            .limit(args.size)
                        )
                    )
                    started = time.perf_counter()
                    for report in singles:
                        triage.change_status(
                            session=session,
                            report=report,
                            status="in_progress",
                            public_note="Intervention planifiée cette semaine.",
                            staff=agent,
                        )
                    timings["one by one"].append(time.perf_counter() - started)
                audited = session.execute(
                    sa.text("SELECT count(*) FROM audit_log WHERE action LIKE 'report.%'")
                ).scalar_one()
            for label, values in timings.items():
                print(
                    f"{label:>11}: median {statistics.median(values):.2f} s, "
                    f"max {max(values):.2f} s ({args.runs} runs of {args.size})"
                )
            ratio = statistics.median(timings["one by one"]) / statistics.median(timings["status"])
            print(f"bulk status vs one by one: {ratio:.1f}x faster; audit rows: {audited:,}")
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
