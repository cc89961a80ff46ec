"""Public site benchmark: page latency with a million reports, on PostgreSQL.

Creates a database of its own (dropped at the end), imports Marseille's 111 quartiers and
16 arrondissements (with their population) from ../shared/reference, loads N reports over three
years with PostgreSQL's COPY, rebuilds and publishes the aggregates (timed), then requests the
public pages and the indicators API in-process (the full WSGI stack, no network) and prints
median and p95 per page kind, cold (first render after a publication) and warm.

    DATABASE_URL=postgresql://postgres@127.0.0.1/postgres .venv/bin/python bench/public_pages.py

``--reports`` sets N (default 1,000,000); ``--keep`` keeps the database for a look afterwards.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT.parent / "shared" / "reference" / "marseille"
SERVICES = {
    "streetlight": 0.14,
    "traffic_signal": 0.05,
    "road_sign": 0.04,
    "road_damage": 0.16,
    "graffiti": 0.07,
    "illegal_dumping": 0.15,
    "waste_bins": 0.13,
    "abandoned_vehicle": 0.04,
    "noise": 0.07,
    "public_order": 0.06,
    "street_furniture": 0.04,
    "water_leak": 0.03,
    "other": 0.02,
}


def percentile(values: list[float], q: float) -> float:
    """The q-quantile (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def load_reports(url: str, count: int, seed: int) -> float:
    """COPY ``count`` reports (three years, skewed areas and categories) into the database."""
    import psycopg

    from backend.db import make_engine

    engine = make_engine(url)
    with engine.connect() as conn:
        areas = conn.execute(
            sa.text("SELECT code, centroid_lat, centroid_lon FROM area WHERE level='quartier'")
        ).all()
    engine.dispose()
    rng = random.Random(seed)
    # Some quartiers are a hundred times busier than others (as in a real city).
    weights = [rng.lognormvariate(0, 1.2) for _ in areas]
    codes = list(SERVICES)
    shares = list(SERVICES.values())
    now = datetime.now(UTC)
    start = now - timedelta(days=3 * 365)
    span = (now - start).total_seconds()
    started = time.perf_counter()
    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn) as pg, pg.cursor() as cur:
        with cur.copy(
            "COPY report (tracking_id, description, description_public, lat, lon, area_code, "
            "service_code, status, source, needs_triage, created_at, updated_at, closed_at) "
            "FROM STDIN"
        ) as copy:
            picks = rng.choices(range(len(areas)), weights=weights, k=count)
            services = rng.choices(codes, weights=shares, k=count)
            for i in range(count):
                code, lat, lon = areas[picks[i]]
                created = start + timedelta(seconds=rng.random() * span)
                age = (now - created).days
                roll = rng.random()
                status = "open"
                closed = None
                if roll < 0.75 and age > 2:
                    status = "fixed" if roll < 0.68 else "rejected"
                    closed = created + timedelta(days=rng.expovariate(1 / 6))
                    if closed > now:
                        closed, status = None, "in_progress"
                copy.write_row(
                    (
                        uuid.uuid4().hex[:24],
                        f"bench report {i}",
                        "texte nettoyé" if i % 2 else None,
                        lat + rng.uniform(-0.003, 0.003),
                        lon + rng.uniform(-0.003, 0.003),
                        code,
                        services[i],
                        status,
                        "bench",
                        False,
                        created,
                        closed or created,
                        closed,
                    )
                )
        pg.commit()
    return time.perf_counter() - started


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=200, help="per page kind")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()

    from backend import migrate
    from backend.app import create_app
    from backend.config import TestingConfig
    from backend.db import make_engine

    base = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1/postgres")
    name = f"lanterne_bench_{uuid.uuid4().hex[:8]}"
    admin = make_engine(base).execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = base.rsplit("/", 1)[0] + f"/{name}"
    print(f"database {name}; {args.reports:,} reports; 2 cores")
    try:
        migrate.upgrade(url)
        instance = Path("/tmp") / name
        app = create_app(
            TestingConfig,
            DATABASE_URL=url,
            REDIS_URL=os.environ.get("REDIS_URL", "redis://127.0.0.1:9/0"),
            RATELIMIT_STORAGE_URI="memory://",
            INSTANCE_PATH=str(instance),
            MEDIA_PATH=str(instance / "media"),
            PUBLIC_DATA_PATH=str(instance / "public_data"),
        )
        with app.app_context():
            from backend.extensions import db
            from backend.services.areas import import_areas, load_population, read_features

            with db.new_session() as session:
                import_areas(
                    session=session,
                    features=read_features(REFERENCE / "quartiers.geojson"),
                    level="quartier",
                    code_field="code_qua",
                    name_field="nom",
                    parent_field="DEPCO",
                )
                import_areas(
                    session=session,
                    features=read_features(REFERENCE / "arrondissements.geojson"),
                    level="arrondissement",
                    code_field="code_insee",
                    name_field="nom",
                )
                load_population(
                    session=session,
                    path=REFERENCE / "population_arrondissements.csv",
                    code_field="code_insee",
                    population_field="pop_estimate_2010",
                )
            seconds = load_reports(url, args.reports, args.seed)
            print(f"load (COPY): {seconds:.1f} s")
            from workers.jobs import publish_aggregates
            from workers.publication.cells import rebuild_all, refresh_report

            with db.new_session() as session:
                started = time.perf_counter()
                cells = rebuild_all(session=session, tz="Europe/Paris")
                print(
                    f"full rebuild of the raw cells: {time.perf_counter() - started:.1f} s "
                    f"({cells:,} cells)"
                )
                # One incremental refresh, as after a status change.
                rid = session.execute(sa.text("SELECT max(id) FROM report")).scalar_one()
                times = []
                for _ in range(20):
                    started = time.perf_counter()
                    refresh_report(session=session, report_id=rid, tz="Europe/Paris")
                    session.commit()
                    times.append(time.perf_counter() - started)
                print(
                    f"incremental refresh of one report: median "
                    f"{statistics.median(times) * 1000:.1f} ms"
                )
            started = time.perf_counter()
            result = publish_aggregates(force=True)
            print(
                f"publication (suppression + open data files): "
                f"{time.perf_counter() - started:.1f} s; {result.get('cells'):,} cells, "
                f"{result.get('hidden'):,} hidden ({result.get('primary'):,} primary)"
            )

        client = app.test_client()
        rng = random.Random(args.seed)
        months = []
        day = datetime.now(UTC)
        for _ in range(30):
            months.append(f"{day.year:04d}-{day.month:02d}")
            day = day.replace(day=1) - timedelta(days=1)
        with app.app_context():
            from backend.extensions import db

            quartiers = [r[0] for r in db.session.execute(sa.text("SELECT code FROM area")).all()]
        services = ["*", *SERVICES]
        kinds = {
            "city": lambda: f"/?periode={rng.choice(months)}&categorie={rng.choice(services)}",
            "quartier": lambda: f"/quartiers/{rng.choice(quartiers)}?periode={rng.choice(months)}",
            "api": lambda: (
                f"/api/v1/indicators?area={rng.choice(quartiers)}&period={rng.choice(months)}"
            ),
        }
        size = len(client.get("/").data)
        print(f"city page: {size / 1024:.0f} KB")
        from public_site import indicators
        from public_site.site import clear_page_cache

        for label, make in kinds.items():
            for phase in ("cold", "warm"):
                if phase == "cold":
                    clear_page_cache()
                    indicators.invalidate()
                    client.get("/")  # the outlines' map, rendered once per publication
                urls = [make() for _ in range(args.requests)]
                if phase == "warm":
                    for url in urls:
                        client.get(url)
                times = []
                for url in urls:
                    if phase == "cold":
                        clear_page_cache()  # every request renders from the aggregates
                    started = time.perf_counter()
                    response = client.get(url)
                    times.append(time.perf_counter() - started)
                    assert response.status_code == 200, (url, response.status_code)
                print(
                    f"{label:9s} {phase}: median {statistics.median(times) * 1000:6.1f} ms, "
                    f"p95 {percentile(times, 0.95) * 1000:6.1f} ms ({len(times)} requests)"
                )
        app.extensions["lanterne.db"].dispose()
    finally:
        if not args.keep:
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            print(f"database {name} dropped")
        admin.dispose()


if __name__ == "__main__":
    main()
