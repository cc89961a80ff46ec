"""How long `lanterne demo` takes, with and without its events step (calendar, incidents,
clusters, links), on a fresh SQLite database with Marseille's 111 quartiers.

Each run is a fresh process and database: the reports alone (``generate_demo`` without
further steps) are the baseline, measured in the same run as the full demo.

    .venv/bin/python bench/demo_events.py              # 3 runs of each, 3000 reports
    .venv/bin/python bench/demo_events.py --runs 5 --reports 3000
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
QUARTIERS = ROOT.parent / "shared" / "reference" / "marseille" / "quartiers.geojson"


def child(reports: int, with_events: bool) -> float:
    """Seconds for one demo in this process (areas imported first, not timed)."""
    import backend.demo
    from backend import migrate
    from backend.app import create_app
    from backend.config import TestingConfig
    from backend.extensions import db
    from backend.services.areas import import_areas, read_features
    from workers.demo_events import load_demo_events

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        url = f"sqlite:///{folder / 'bench.db'}"
        migrate.upgrade(url)
        app = create_app(
            TestingConfig,
            DATABASE_URL=url,
            REDIS_URL="redis://127.0.0.1:9/0",
            INSTANCE_PATH=str(folder),
            MEDIA_PATH=str(folder / "media"),
        )
        steps = [load_demo_events] if with_events else []
        backend.demo.demo_steps = lambda: steps  # type: ignore[assignment]
        with app.app_context(), db.new_session() as session:
            import_areas(
                session=session,
                features=read_features(QUARTIERS),
                level="quartier",
                code_field="code_qua",
                name_field="nom",
                parent_field="DEPCO",
            )
            started = time.perf_counter()
            backend.demo.generate_demo(session=session, count=reports, days=365, seed=13)
            return time.perf_counter() - started


def main() -> None:
    """Run the children and print the medians."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--reports", type=int, default=3000)
    parser.add_argument("--child", choices=["base", "events"])
    args = parser.parse_args()
    if args.child:
        print(json.dumps({"seconds": child(args.reports, args.child == "events")}))
        return
    times: dict[str, list[float]] = {"base": [], "events": []}
    for _ in range(args.runs):
        for mode in ("base", "events"):
            out = subprocess.run(
                [sys.executable, __file__, "--child", mode, "--reports", str(args.reports)],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            times[mode].append(json.loads(out.strip().splitlines()[-1])["seconds"])
    base, full = statistics.median(times["base"]), statistics.median(times["events"])
    print(f"reports only: median {base:.1f} s of {times['base']}")
    print(f"full demo:    median {full:.1f} s of {times['events']}")
    print(f"events step:  {full - base:.1f} s; full/base = {full / base:.2f}")


if __name__ == "__main__":
    main()
