"""What Flask-Limiter costs intake: Lanterne with and without it, beside the bare endpoint.

Runs, in turn and on PostgreSQL, Lanterne as it is, Lanterne without Flask-Limiter
(``bench/intake_variant_app.py``), each with its outbox relay beside it, and the bare INSERT
endpoint; wrk as in ``bench/intake.py``. Prints the median reports/s, the ratio to the bare
endpoint and the CPU per accepted report of the web workers, the relay, PostgreSQL and Redis.

``--checkout LABEL=PATH`` (repeatable) adds another checkout of Lanterne to the same run, e.g.
the commit before a change (``git worktree add /tmp/before HEAD~1``): its web runs from PATH
(``PYTHONPATH`` set to it), with a relay when its Procfile has one. The database is migrated
by this checkout, so an older one must read the newer schema (migrations only add).

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
    ROOT,
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


def has_relay(variant: str, tree: Path) -> bool:
    """Whether the server runs an outbox relay beside its web (its Procfile says so)."""
    procfile = (tree / "Procfile").read_text()
    return variant != "bare" and any(line.startswith("relay:") for line in procfile.splitlines())


def main() -> None:
    """Run every variant ``--runs`` times, interleaved, and print a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_load_arguments(parser, duration=20, port=8312)
    parser.add_argument(
        "--checkout",
        action="append",
        default=[],
        metavar="LABEL=PATH",
        help="another checkout of Lanterne to measure in the same run",
    )
    args = parser.parse_args()
    servers = [(name, variant, ROOT) for name, variant in VARIANTS]
    for given in args.checkout:
        label, _, path = given.partition("=")
        checkout = Path(path).resolve()
        if not label or not (checkout / "backend" / "wsgi.py").is_file():
            sys.exit(f"--checkout {given!r}: give LABEL=PATH, PATH a checkout of Lanterne")
        if label in {name for name, _, _ in servers}:
            sys.exit(f"--checkout {given!r}: the label {label!r} is taken; choose another")
        servers.insert(-1, (label, "", checkout))
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed: apt-get install wrk")
    from bare_insert_app import create_table

    results: dict[str, list[dict[str, float]]] = {name: [] for name, _, _ in servers}
    with tempfile.TemporaryDirectory() as tmp:
        url = prepare_postgres(DB)
        try:
            env = server_env(url, args.redis_url, Path(tmp) / "instance")
            create_table(url)
            for run in range(args.runs):
                for name, variant, tree in servers:
                    variant_env = {
                        **env,
                        "LANTERNE_BENCH_VARIANT": variant,
                        "PYTHONPATH": str(tree),
                    }
                    app = wsgi_app(variant)
                    proc = run_server(app, variant_env, args.port, args.workers, cwd=tree)
                    relay = start_relay(variant_env, tree) if has_relay(variant, tree) else None
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
