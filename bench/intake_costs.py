"""What Flask-Limiter costs intake: Lanterne with and without it, beside the bare endpoint.

Runs, in turn and on PostgreSQL, Lanterne as it is, Lanterne without Flask-Limiter
(``bench/intake_variant_app.py``), each with its outbox relay beside it, and the bare INSERT
endpoint; wrk as in ``bench/intake.py``. Prints the median reports/s, the ratio to the bare
endpoint and the CPU per accepted report of the web workers, the relay, PostgreSQL and Redis.

    .venv/bin/python bench/intake_costs.py --duration 20 --runs 3
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

from intake import (  # bench/ is on sys.path when run as a script
    add_load_arguments,
    drop_postgres,
    measured_load,
    prepare_postgres,
    run_server,
    server_env,
    start_relay,
    stop,
)

DB = "lanterne_bench_costs"
# What each server leaves out (LANTERNE_BENCH_VARIANT, read by bench/intake_variant_app.py);
# "bare" is the baseline of bench/intake.py. bench/intake_instructions.py counts the same list.
VARIANTS = [
    ("Lanterne", ""),
    ("without Flask-Limiter", "limiter"),
    ("bare INSERT", "bare"),
]


def wsgi_app(variant: str) -> str:
    """The gunicorn app of a variant."""
    if variant == "bare":
        return "bench.bare_insert_app:app"
    return "bench.intake_variant_app:app" if variant else "backend.wsgi:app"


def main() -> None:
    """Run every variant ``--runs`` times, interleaved, and print a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_load_arguments(parser, duration=20, port=8312)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed: apt-get install wrk")
    from bare_insert_app import create_table

    results: dict[str, list[dict[str, float]]] = {name: [] for name, _ in VARIANTS}
    with tempfile.TemporaryDirectory() as tmp:
        url = prepare_postgres(DB)
        try:
            env = server_env(url, args.redis_url, Path(tmp) / "instance")
            create_table(url)
            for run in range(args.runs):
                for name, variant in VARIANTS:
                    variant_env = {**env, "LANTERNE_BENCH_VARIANT": variant}
                    proc = run_server(wsgi_app(variant), variant_env, args.port, args.workers)
                    relay = None if variant == "bare" else start_relay(variant_env)
                    try:
                        result = measured_load(proc, args, relay)
                    finally:
                        stop(proc)
                        if relay is not None:
                            stop(relay)
                    results[name].append(result)
                    print(f"run {run + 1}: {name}: {result['rps']:.0f} reports/s", file=sys.stderr)
        finally:
            drop_postgres(DB)
    import redis

    redis.Redis.from_url(args.redis_url).flushdb()
    med = {
        name: {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        for name, runs in results.items()
    }
    bare = med["bare INSERT"]["rps"]
    print(
        "| server | reports/s | ratio to bare | p99 ms "
        "| CPU ms/report: web | relay | PostgreSQL | Redis |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name, m in med.items():
        print(
            f"| {name} | {m['rps']:.0f} | {m['rps'] / bare:.2f} | {m['p99_ms']:.1f} "
            f"| {m['cpu_web']:.2f} | {m['cpu_relay']:.2f} | {m['cpu_postgres']:.2f} "
            f"| {m['cpu_redis']:.2f} |"
        )


if __name__ == "__main__":
    main()
