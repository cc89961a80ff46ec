"""Memory and speed of `lanterne import incidents` on large generated CSV files.

Each size runs in a fresh process (so its peak resident memory is its own) against a fresh
SQLite database: a generated police-logbook CSV (lat/lon, date, time, kind, free text) is
imported through the transport mapping's machinery, with both passes (check, then write in
batches of 5,000). Constant memory shows as the same peak whatever the file size.

    .venv/bin/python bench/import_stream.py                 # 100k and 1M rows
    .venv/bin/python bench/import_stream.py --rows 200000 2000000 --tracemalloc
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

MAPPING = {
    "occurred_at": {"date": "date", "time": "heure", "formats": ["%d/%m/%Y"]},
    "position": {"lat": "lat", "lon": "lon"},
    "kind": {"column": "nature", "prefix": "main_courante:"},
    "external_id": {"column": "numero"},
}
NATURES = ["tapage", "rixe", "rodeo", "regroupement", "squat", "vol", "degradation"]


def generate(path: Path, rows: int, seed: int = 1) -> None:
    """Write a CSV of ``rows`` logbook entries around Marseille (about 110 bytes a row)."""
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8", newline="") as fh:
        fh.write("numero;date;heure;nature;lat;lon;suite;commentaire\n")
        for n in range(rows):
            fh.write(
                f"MC-{n:09d};{rng.randint(1, 28):02d}/{rng.randint(1, 12):02d}/2023;"
                f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d};{rng.choice(NATURES)};"
                f"{43.24 + rng.random() * 0.1:.5f};{5.34 + rng.random() * 0.1:.5f};"
                f'rappel;"texte libre, avec une virgule ; et un point-virgule"\n'
            )


def child(rows: int, use_tracemalloc: bool) -> dict[str, float]:
    """Import a generated file of ``rows`` rows in this process; return the figures."""
    from backend import migrate
    from backend.app import create_app
    from backend.config import TestingConfig
    from backend.extensions import db
    from workers.importers.csv_mapping import IncidentMapping, MappedCsv
    from workers.importers.engine import ImportOptions, run_import
    from workers.importers.positions import CitySettings, Locator
    from workers.importers.writers import IncidentWriter

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        data = folder / "logbook.csv"
        generate(data, rows)
        url = f"sqlite:///{folder / 'bench.db'}"
        migrate.upgrade(url)
        app = create_app(
            TestingConfig,
            DATABASE_URL=url,
            REDIS_URL="redis://127.0.0.1:9/0",
            INSTANCE_PATH=str(folder),
            MEDIA_PATH=str(folder / "media"),
        )
        with app.app_context(), db.new_session() as session:
            locator = Locator(session=session, city=CitySettings.from_config(app.config))
            source = MappedCsv(data, IncidentMapping.from_dict(MAPPING), locator)
            writer = IncidentWriter(session, "bench", link=False)
            base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            if use_tracemalloc:
                tracemalloc.start()
            start = time.perf_counter()
            summary = run_import(source=source, writer=writer, options=ImportOptions())
            elapsed = time.perf_counter() - start
            peak_py = tracemalloc.get_traced_memory()[1] if use_tracemalloc else 0
            if use_tracemalloc:
                tracemalloc.stop()
        assert summary.inserted == rows, summary.lines()
        return {
            "rows": rows,
            "file_mb": data.stat().st_size / 1e6 if data.exists() else 0.0,
            "seconds": elapsed,
            "rows_per_s": rows / elapsed,
            "maxrss_mb_before": base / 1024,
            "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "tracemalloc_peak_mb": peak_py / 1e6,
        }


def main() -> None:
    """Run each size in its own process and print a table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--tracemalloc", action="store_true", help="also trace Python memory")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.tracemalloc)))
        return
    print(
        f"{'rows':>10} {'file MB':>8} {'s':>7} {'rows/s':>8} {'RSS before':>11} "
        f"{'peak RSS MB':>11} {'py peak MB':>10}"
    )
    for rows in args.rows:
        cmd = [sys.executable, __file__, "--child", str(rows)]
        if args.tracemalloc:
            cmd.append("--tracemalloc")
        env = dict(os.environ, LANTERNE_ENV="testing")
        out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(
            f"{r['rows']:>10,} {r['file_mb']:>8.1f} {r['seconds']:>7.1f} {r['rows_per_s']:>8,.0f} "
            f"{r['maxrss_mb_before']:>11.0f} {r['maxrss_mb']:>11.0f} "
            f"{r['tracemalloc_peak_mb']:>10.1f}"
        )


if __name__ == "__main__":
    main()
