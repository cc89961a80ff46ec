"""Instructions the web process runs per report, counted by valgrind, with parts left out.

On a shared machine, CPU times and rates move by 10 % or more from one run to the next;
instruction counts move less: counts of the same code have come out 1 % to 5 % apart (the
database client's wait loop, and caches that expire by the clock, run more or less often as
the machine is busier). Compare counts taken one after the other on an idle machine.
This runs bench/intake_cpu.py under callgrind twice, with two request counts, each on a fresh
PostgreSQL database, and divides the difference by the extra requests: start-up and warm-up
cancel out. A variant leaves out
Flask-Limiter (bench/intake_variant_app.py); the last variant is the baseline of
bench/intake.py, the bare INSERT endpoint. Only the user-space instructions of the web process
are counted: not the kernel's (round trips), nor the outbox relay's, PostgreSQL's or Redis's.
Needs valgrind (Debian package ``valgrind``); takes about 3 minutes a variant.

    .venv/bin/python bench/intake_instructions.py
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from intake import ROOT, drop_postgres, prepare_postgres, server_env  # bench/ is on sys.path
from intake_costs import VARIANTS

DB = "lanterne_bench_instructions"


def instructions(variant: str, requests: int, redis_url: str, tmp: Path) -> int:
    """Instructions of one bench/intake_cpu.py run of ``requests`` reports (after 200 warm-up)."""
    try:
        env = server_env(prepare_postgres(DB), redis_url, tmp / "instance")
        # The same hash seed each run: set and dict orders, hence counts, repeat.
        env.update(LANTERNE_BENCH_VARIANT=variant, PYTHONHASHSEED="0")
        cmd = [
            "valgrind",
            "--tool=callgrind",
            "--callgrind-out-file=/dev/null",
            sys.executable,
            str(ROOT / "bench" / "intake_cpu.py"),
            "--requests",
            str(requests),
            "--runs",
            "1",
        ]
        out = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, check=True)  # noqa: S603
    finally:
        drop_postgres(DB)
    found = re.search(r"Collected : (\d+)", out.stderr)
    if found is None:
        sys.exit(f"valgrind printed no count:\n{out.stderr[-2000:]}")
    return int(found.group(1))


def main() -> None:
    """Count each variant and print a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200, help="extra requests counted")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/9")
    parser.add_argument(
        "--only", nargs="+", choices=[v or "lanterne" for _, v in VARIANTS], help="variants"
    )
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is needed: apt-get install valgrind")
    rows = [
        "| web process | instructions per report | share of Lanterne's |",
        "|---|---|---|",
    ]
    lanterne = 0.0
    with tempfile.TemporaryDirectory() as tmp_name:
        for label, variant in VARIANTS:
            if args.only and (variant or "lanterne") not in args.only:
                continue
            print(f"{label}: counting...", file=sys.stderr, flush=True)
            low = instructions(variant, 100, args.redis_url, Path(tmp_name))
            high = instructions(variant, 100 + args.requests, args.redis_url, Path(tmp_name))
            per_report = (high - low) / args.requests
            if not variant:
                lanterne = per_report
            share = f"{per_report / lanterne:.0%}" if lanterne else "(Lanterne not counted)"
            rows.append(f"| {label} | {per_report / 1e6:.2f} M | {share} |")
    import redis

    redis.Redis.from_url(args.redis_url).flushdb()
    print("\n".join(rows))


if __name__ == "__main__":
    main()
