"""Mixed public traffic against the Procfile's processes, in steps of load: where is the knee?

Resets the PostgreSQL database it is given (every table dropped, then ``lanterne db upgrade``),
loads Marseille's arrondissements and quartiers from ../shared/reference and ``lanterne demo``
(3,000 reports) as the Makefile's ``run`` target does, starts the Procfile's ``worker`` and
``relay`` (their own command lines, read from the Procfile) and has the worker publish the
aggregates. Then, for each gunicorn worker count (``--web-workers 1,2``), it starts gunicorn
on loopback, warms it up and drives it with wrk and ``bench/mixed_load.lua`` in steps of more
and more connections, each step measured ``--runs`` times: requests/s, p50 and p99 latency,
errors (non-2xx/3xx answers and socket errors) and the CPU each request cost the web, the RQ
worker, the relay, PostgreSQL and Redis. The database is reset before each worker count, so
each starts from the same data.

The mix (``--mix``, weights): intake (POST /api/v1/reports), tracking (GET
/api/v1/reports/<tracking-id> and /suivi/<tracking-id>), public pages (/, /quartiers/<code>,
/api/v1/indicators, /donnees), Open311 reads (services.json, requests.json with and without
filters). Rate limits are raised far above what one address sends: the limiter still runs
and still makes its Redis round trips.

Why closed-loop steps of connections (wrk -c N): wrk2 (a fixed request rate) is not in Debian;
wrk's own ``delay()`` opens the connection and then waits before writing the request, and a
gunicorn sync worker that accepted it waits with it, so it would measure the pauses; a Python
client would need about as much CPU per request as the server, on the same two cores. The knee
is the step of highest throughput whose p99 is within ``--p99-ms`` with no error; stepping
stops ``--past-knee`` steps after the first step beyond it, or at ``--max-minutes``.

    PYTHONPATH=$PWD .venv/bin/python bench/mixed_load.py --runs 3

Needs ``wrk`` (Debian package ``wrk``). Loopback only; it stops every process it started.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psutil
import sqlalchemy as sa
from intake import (  # bench/ is on sys.path when run as a script
    BIN,
    ROOT,
    cpu_seconds,
    outbox_waiting,
    parse_wrk,
    run_server,
    server_env,
    stop,
    worker_rss_mb,
)

from backend.db import make_engine

REFERENCE = ROOT.parent / "shared" / "reference" / "marseille"
VARIABLE = re.compile(r"\$\{?(\w+)(?::-([^}]*))?\}?")
CLASSES = ("intake", "tracking", "public", "open311")
# What residents write (bench/mixed_load.lua adds a number: no two descriptions alike).
INTAKE_TEXTS = (
    "Lampadaire éteint depuis trois jours",
    "Nid de poule énorme sur la chaussée, dangereux pour les deux-roues",
    "Poubelles qui débordent sur le trottoir",
    "Dépôt sauvage de gravats et d'encombrants au coin de la rue",
    "Feu tricolore bloqué au rouge",
    "Tags sur la façade de l'école",
    "Voiture abandonnée sans plaques depuis des semaines",
    "Fuite d'eau sur le trottoir",
    "Street light out in front of the bakery",
    "Broken bench in the square",
)
# Rate limits a single load generator must never reach (they still run, see the docstring).
UNLIMITED = {
    "LANTERNE_RATELIMIT_TRACKING": "1000000 per second",
    "LANTERNE_RATELIMIT_PUBLIC_TRACKING": "1000000 per second",
    "LANTERNE_OPEN311_ANONYMOUS_RATE_LIMIT": "1000000 per second",
}


def parse_mix(text: str) -> dict[str, float]:
    """``intake=10,tracking=30,...`` as weights by class (a class left out weighs 0)."""
    mix = dict.fromkeys(CLASSES, 0.0)
    for part in text.split(","):
        name, _, weight = part.partition("=")
        if name.strip() not in mix:
            raise argparse.ArgumentTypeError(f"unknown class {name!r}; use {', '.join(CLASSES)}")
        mix[name.strip()] = float(weight)
    if sum(mix.values()) <= 0:
        raise argparse.ArgumentTypeError("the mix weighs nothing")
    return mix


def procfile_command(name: str, env: dict[str, str]) -> list[str]:
    """The Procfile's command line for process ``name``, its variables taken from ``env``."""
    for line in (ROOT / "Procfile").read_text().splitlines():
        key, _, command = line.partition(":")
        if key.strip() == name:
            # $NAME and ${NAME:-default}, as the shell of a Procfile runner expands them.
            words = [
                VARIABLE.sub(lambda m: env.get(m[1]) or m[2] or "", w) for w in shlex.split(command)
            ]
            return [str(BIN / words[0]), *words[1:]]
    raise SystemExit(f"the Procfile has no {name!r} process")


def start_process(name: str, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """Start a Procfile process in a session of its own (``stop`` ends it and its children)."""
    handle = log.open("ab")
    return subprocess.Popen(  # noqa: S603
        procfile_command(name, env),
        env=env,
        cwd=ROOT,
        stdout=handle,
        stderr=handle,
        start_new_session=True,
    )


def lanterne(env: dict[str, str], *args: str) -> None:
    """Run a ``lanterne`` command (quietly; its errors stop the bench)."""
    subprocess.run(  # noqa: S603
        [str(BIN / "lanterne"), *args], env=env, cwd=ROOT, check=True, capture_output=True
    )


def reset_database(
    url: str, redis_url: str, instance: Path, reference: Path = REFERENCE
) -> dict[str, str]:
    """Empty the database and Redis db, migrate, load the areas and the demo; the servers' env."""
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP SCHEMA public CASCADE"))
        conn.execute(sa.text("CREATE SCHEMA public"))
    engine.dispose()
    import redis

    redis.Redis.from_url(redis_url).flushdb()
    env = server_env(url, redis_url, instance)  # migrates
    env.update(UNLIMITED)
    lanterne(
        env,
        "areas",
        "import",
        str(reference / "arrondissements.geojson"),
        "--level",
        "arrondissement",
        "--code-field",
        "code_insee",
        "--name-field",
        "nom",
    )
    lanterne(
        env,
        "areas",
        "import",
        str(reference / "quartiers.geojson"),
        "--level",
        "quartier",
        "--code-field",
        "code_qua",
        "--name-field",
        "nom",
        "--parent-field",
        "DEPCO",
    )
    lanterne(env, "demo")
    return env


def publish(redis_url: str, timeout: float = 600) -> None:
    """Have the running worker rebuild and publish the aggregates (the nightly job), and wait."""
    import redis
    from rq import Queue

    queue = Queue("default", connection=redis.Redis.from_url(redis_url))
    job = queue.enqueue("workers.jobs.rebuild_aggregates", job_timeout=int(timeout))
    deadline = time.monotonic() + timeout
    while (status := job.get_status(refresh=True)) not in ("finished", "failed"):
        if time.monotonic() > deadline:
            raise SystemExit("the worker did not publish the aggregates in time")
        time.sleep(0.5)
    if status == "failed":
        raise SystemExit("publishing the aggregates failed: see the worker's log")


def request_lines(url: str, mix: dict[str, float], seed: int) -> list[str]:
    """The request file of mixed_load.lua: the mix, then ``<class> <path>`` lines."""
    rng = random.Random(seed)
    engine = make_engine(url)
    with engine.connect() as conn:
        tracking = list(conn.execute(sa.text("SELECT tracking_id FROM report")).scalars())
        # Demo positions lie inside the areas (intake refuses the harbour and the sea).
        positions = conn.execute(sa.text("SELECT lat, lon FROM report ORDER BY id")).all()
        areas = list(conn.execute(sa.text("SELECT code FROM area ORDER BY code")).scalars())
        services = list(conn.execute(sa.text("SELECT code FROM service ORDER BY code")).scalars())
    engine.dispose()
    today = datetime.now(UTC).date()
    months = [f"{(today - timedelta(days=30 * i)):%Y-%m}" for i in range(12)]
    week_ago = (datetime.now(UTC) - timedelta(days=7)).strftime("%Y-%m-%dT%H:%M:%SZ")
    ids = rng.sample(tracking, min(300, len(tracking)))
    # Within a class: how often each kind of request comes (a resident opens the city page or
    # their quartier far more often than the open-data page; Open311 clients poll filtered).
    kinds = {
        "tracking": [
            (1, lambda: f"/api/v1/reports/{rng.choice(ids)}"),
            (1, lambda: f"/suivi/{rng.choice(ids)}"),
        ],
        "public": [
            (25, lambda: "/"),
            (45, lambda: f"/quartiers/{rng.choice(areas)}"),
            (
                25,
                lambda: (
                    f"/api/v1/indicators?area={rng.choice(areas)}&period={rng.choice(months)}"
                    + (f"&service_code={rng.choice(services)}" if rng.random() < 0.5 else "")
                ),
            ),
            (5, lambda: "/donnees"),
        ],
        "open311": [
            (40, lambda: "/open311/v2/services.json"),
            (20, lambda: f"/open311/v2/requests.json?service_code={rng.choice(services)}"),
            (15, lambda: "/open311/v2/requests.json?status=open"),
            (19, lambda: f"/open311/v2/requests.json?start_date={week_ago}"),
            (6, lambda: "/open311/v2/requests.json"),  # the last 90 days: 1,000 requests
        ],
    }
    lines = ["mix " + " ".join(f"{mix[c]:g}" for c in CLASSES)]
    for lat, lon in rng.sample(positions, min(1000, len(positions))):
        body = {"description": rng.choice(INTAKE_TEXTS) + " ({n})", "lat": lat, "lon": lon}
        lines.append("intake " + json.dumps(body, ensure_ascii=False))
    for name, choices in kinds.items():
        weights = [w for w, _ in choices]
        for _ in range(1000):
            make = rng.choices([m for _, m in choices], weights=weights)[0]
            lines.append(f"{name} {make()}")
    return lines


def check_paths(port: int, lines: list[str]) -> None:
    """Every distinct path of the mix answers 200 before the load starts (no 404 in the mix)."""
    gets = {line.split(" ", 1)[1] for line in lines[1:] if not line.startswith("intake ")}
    for path in sorted(gets):
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=30) as answer:  # noqa: S310
            if answer.status != 200:
                raise SystemExit(f"{path} answered {answer.status}")


def worker_cpu(worker: subprocess.Popen[bytes]) -> float:
    """CPU seconds so far of the RQ worker (and any child it has)."""
    root = psutil.Process(worker.pid)
    total = 0.0
    for proc in [root, *root.children(recursive=True)]:
        try:
            times = proc.cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system
    return total


def unprocessed(url: str) -> int:
    """Reports the worker has not processed yet (still ``received``)."""
    engine = make_engine(url)
    with engine.connect() as conn:
        count = conn.execute(
            sa.text("SELECT count(*) FROM report WHERE status = 'received'")
        ).scalar_one()
    engine.dispose()
    return int(count)


def wrk(port: int, connections: int, duration: int, request_file: Path) -> dict[str, float]:
    """One wrk run of the mix; wrk's figures and the answers' status codes."""
    out = subprocess.run(  # noqa: S603
        [
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{duration}s",
            "--latency",
            "--timeout",
            "5s",
            "-s",
            str(ROOT / "bench" / "mixed_load.lua"),
            f"http://127.0.0.1:{port}/api/v1/reports",
            "--",
            str(request_file),
            str(ROOT / "bench"),
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=duration + 60,
    ).stdout
    result = parse_wrk(out)
    statuses = out.split("statuses ", 1)[1].split()[0] if "statuses " in out else ""
    counts = dict(part.split("=") for part in statuses.split(",") if "=" in part)
    result["requests"] = sum(int(v) for v in counts.values())
    result["created"] = int(counts.get("201", 0))
    result["statuses"] = statuses  # type: ignore[assignment]
    return result


def measure_step(
    server: subprocess.Popen[bytes],
    worker: subprocess.Popen[bytes],
    relay: subprocess.Popen[bytes],
    args: argparse.Namespace,
    connections: int,
    request_file: Path,
) -> dict[str, float]:
    """One measured run: wrk's figures and the CPU per request of each process."""
    load = os.getloadavg()[0]
    before = cpu_seconds(server, relay)
    before["worker"] = worker_cpu(worker)
    result = wrk(args.port, connections, args.duration, request_file)
    after = cpu_seconds(server, relay)
    after["worker"] = worker_cpu(worker)
    done = max(1.0, result["requests"])
    for role in before:
        result[f"cpu_{role}"] = (after[role] - before[role]) * 1000 / done
    result["load"] = load
    result["connections"] = connections
    result["backlog"] = unprocessed(args.database_url) + outbox_waiting(args.database_url)
    return result


def median_of(runs: list[dict[str, float]]) -> dict[str, float]:
    """Each numeric figure's median over the runs (status strings joined)."""
    med: dict[str, float] = {}
    for key in runs[0]:
        if isinstance(runs[0][key], str):
            med[key] = " / ".join(str(r[key]) for r in runs)  # type: ignore[assignment]
        else:
            med[key] = statistics.median(r[key] for r in runs)
    med["load_max"] = max(r["load"] for r in runs)
    return med


def within(step: dict[str, float], p99_ms: float) -> bool:
    """Whether a step is below the knee: p99 within the bound and no error."""
    return step["p99_ms"] <= p99_ms and step["errors"] == 0


def bench_workers(
    web_workers: int, args: argparse.Namespace, tmp: Path, started: float
) -> dict[str, object]:
    """Reset, start the processes, step the load up for one gunicorn worker count."""
    instance = tmp / f"instance-{web_workers}"
    env = reset_database(args.database_url, args.redis_url, instance, args.reference)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    worker = start_process("worker", env, tmp / "worker.log")
    relay = start_process("relay", env, tmp / "relay.log")
    server = None
    try:
        publish(args.redis_url)
        lines = request_lines(args.database_url, args.mix, args.seed)
        request_file = tmp / "requests.txt"
        request_file.write_text("\n".join(lines) + "\n")
        server = run_server("backend.wsgi:app", env, args.port, web_workers)
        check_paths(args.port, lines)
        wrk(args.port, 4, args.warmup, request_file)  # caches, pools, the worker's model
        steps: list[dict[str, float]] = []
        beyond = 0
        for connections in args.connections:
            if time.monotonic() - started > args.max_minutes * 60:
                print(f"stopped at {args.max_minutes} minutes", file=sys.stderr)
                break
            runs = [
                measure_step(server, worker, relay, args, connections, request_file)
                for _ in range(args.runs)
            ]
            step = median_of(runs)
            steps.append(step)
            print(
                f"{web_workers} web worker(s), {connections} connections: "
                f"{step['rps']:.0f} req/s, p50 {step['p50_ms']:.1f} ms, "
                f"p99 {step['p99_ms']:.1f} ms, errors {step['errors']:.0f}, "
                f"load {step['load']:.1f}",
                file=sys.stderr,
            )
            if not within(step, args.p99_ms):
                beyond += 1
                if beyond > args.past_knee:
                    break
        rss = worker_rss_mb(server)
        rq_rss = psutil.Process(worker.pid).memory_info().rss / 1e6
    finally:
        if server is not None:
            stop(server)
        stop(relay)
        stop(worker)
    below = [s for s in steps if within(s, args.p99_ms)]
    knee = max(below, key=lambda s: s["rps"]) if below else None
    return {
        "web_workers": web_workers,
        "steps": steps,
        "knee": knee,
        "rss_mb": rss,
        "rq_rss_mb": rq_rss,
    }


def markdown(results: list[dict[str, object]], args: argparse.Namespace) -> str:
    """The tables of docs/BENCHMARKS.md."""
    rows = [
        "| web workers | connections | req/s | p50 ms | p99 ms | errors | load avg "
        "| CPU ms/request: web | worker | relay | PostgreSQL | Redis | backlog at the end |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for result in results:
        knee = result["knee"]
        for s in result["steps"]:  # type: ignore[attr-defined]
            mark = "**" if s is knee else ""
            rows.append(
                f"| {result['web_workers']} | {s['connections']:.0f} | {mark}{s['rps']:.0f}{mark} "
                f"| {s['p50_ms']:.1f} | {s['p99_ms']:.1f} | {s['errors']:.0f} "
                f"| {s['load']:.1f}–{s['load_max']:.1f} | {s['cpu_web']:.2f} "
                f"| {s['cpu_worker']:.2f} | {s['cpu_relay']:.2f} | {s['cpu_postgres']:.2f} "
                f"| {s['cpu_redis']:.2f} | {s['backlog']:.0f} |"
            )
    rows += [
        "",
        "| web workers | knee req/s | p99 ms there | web CPU ms/request there "
        "| req/s per web core (1000 / web CPU ms) | RSS: web worker | RQ worker |",
        "|---|---|---|---|---|---|---|",
    ]
    for result in results:
        knee = result["knee"]
        if knee is None:
            rows.append(f"| {result['web_workers']} | none within {args.p99_ms:g} ms | | | | | |")
            continue
        rows.append(
            f"| {result['web_workers']} | {knee['rps']:.0f} | {knee['p99_ms']:.1f} "
            f"| {knee['cpu_web']:.2f} | {1000 / knee['cpu_web']:.0f} "
            f"| {result['rss_mb']:.0f} MB | {result['rq_rss_mb']:.0f} MB |"
        )
    return "\n".join(rows)


def main() -> None:
    """Run the steps for each gunicorn worker count and print Markdown tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--database-url",
        default="postgresql://postgres@127.0.0.1/lanterne_deploy",
        help="a PostgreSQL database of its own: every table in it is dropped",
    )
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/10", help="flushed")
    parser.add_argument("--port", type=int, default=5800)
    parser.add_argument(
        "--reference", type=Path, default=REFERENCE, help="Marseille's GeoJSON files"
    )
    parser.add_argument("--web-workers", default="1,2", help="gunicorn worker counts, in turn")
    parser.add_argument(
        "--mix", type=parse_mix, default=parse_mix("intake=10,tracking=30,public=40,open311=20")
    )
    parser.add_argument(
        "--connections", default="1,2,4,6,8,12,16,24,32,48,64", help="wrk connections of each step"
    )
    parser.add_argument("--duration", type=int, default=10, help="seconds of each run")
    parser.add_argument("--runs", type=int, default=3, help="runs of each step (median)")
    parser.add_argument("--warmup", type=int, default=10, help="seconds, before the steps")
    parser.add_argument("--p99-ms", type=float, default=100.0, help="the knee's latency bound")
    parser.add_argument(
        "--past-knee", type=int, default=1, help="steps measured after the first one past the bound"
    )
    parser.add_argument("--max-minutes", type=float, default=40.0, help="stop stepping then")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--json", type=Path, help="also write every figure there")
    args = parser.parse_args()
    args.connections = [int(c) for c in args.connections.split(",")]
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed: apt-get install wrk")
    if not args.database_url.startswith("postgresql"):
        sys.exit("--database-url must be a PostgreSQL database (the production engine)")
    started = time.monotonic()
    print(
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} CPUs, load average "
        f"{os.getloadavg()[0]:.1f}; mix {args.mix}",
        file=sys.stderr,
    )
    results = []
    with tempfile.TemporaryDirectory() as tmp_name:
        for count in (int(w) for w in args.web_workers.split(",")):
            results.append(bench_workers(count, args, Path(tmp_name), started))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, default=str))
    print(markdown(results, args))


if __name__ == "__main__":
    main()
