"""CPU time of one report's intake in one process (no HTTP server, no load generator).

Posts JSON reports through the Flask test client against the configured database and Redis
(``DATABASE_URL``, ``REDIS_URL``; PostgreSQL and a Redis server for the figures in
docs/BENCHMARKS.md) and prints wall and process CPU time per request, median of --runs.
The database must be migrated (``lanterne db upgrade``).

    DATABASE_URL=postgresql://postgres@127.0.0.1/bench REDIS_URL=redis://127.0.0.1:6379/9 \\
        .venv/bin/python bench/intake_cpu.py --requests 2000 --runs 3
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time

# Read by the config classes when backend.config is imported: set them first.
os.environ.setdefault("LANTERNE_RATELIMIT_INTAKE", "1000000 per second")
os.environ.setdefault("LANTERNE_ENV", "production")
os.environ.setdefault("LANTERNE_INSTANCE_PATH", tempfile.mkdtemp(prefix="lanterne-bench-"))

from backend.app import create_app  # noqa: E402
from backend.config import config_from_env  # noqa: E402


def main() -> None:
    """Run the measurement and print one line per run and the medians."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    # For bench/intake_instructions.py: the baseline, or Lanterne with parts left out.
    # (bench/ is on sys.path when run as a script.)
    if os.environ.get("LANTERNE_BENCH_VARIANT") == "bare":
        from bare_insert_app import app, create_table

        create_table(os.environ["DATABASE_URL"])
    elif os.environ.get("LANTERNE_BENCH_VARIANT"):
        from intake_variant_app import app
    else:
        app = create_app(config_from_env())
    client = app.test_client()
    rng = random.Random(1)

    def post() -> None:
        body = {
            "description": f"Lampadaire éteint rue de Rome ({rng.randint(0, 10**6)})",
            "lat": 43.28 + rng.random() * 0.04,
            "lon": 5.37 + rng.random() * 0.04,
        }
        response = client.post("/api/v1/reports", json=body)
        assert response.status_code == 201, response.get_data(as_text=True)

    for _ in range(200):  # warm-up: connections, caches
        post()
    walls, cpus = [], []
    for _ in range(args.runs):
        wall, cpu = time.perf_counter(), time.process_time()
        for _ in range(args.requests):
            post()
        walls.append((time.perf_counter() - wall) * 1000 / args.requests)
        cpus.append((time.process_time() - cpu) * 1000 / args.requests)
        print(f"{walls[-1]:.2f} ms wall, {cpus[-1]:.2f} ms CPU per report")
    print(
        f"median of {args.runs}: {statistics.median(walls):.2f} ms wall, "
        f"{statistics.median(cpus):.2f} ms CPU per report"
    )


if __name__ == "__main__":
    main()
