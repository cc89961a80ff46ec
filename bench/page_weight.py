"""Page weight: the home page on a phone, every byte a browser receives, compressed as served.

Builds the demo of ``make run`` in a temporary instance folder (SQLite, embedded Redis):
Marseille's quartiers and arrondissements, their population and streets from
../shared/reference, 3,000 demo reports over a year; publishes; serves the app on loopback
(port 5140); then opens the home page in Chromium (Playwright) with a phone's profile (390x844,
mobile) and sums, for every response (the HTML, the CSS, Leaflet, the stored map's script,
map.js), the bytes on the wire: headers plus the body as transferred (Chromium's own count).

Each run is a fresh browser context (an empty cache, a first visit). A baseline is measured in
the same run: the same visit asking for no compression (``Accept-Encoding: identity``). A
second visit in the same context (the cache warm) shows what caching saves.

    .venv/bin/python bench/page_weight.py [--runs 5] [--port 5140]
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import statistics
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT.parent / "shared" / "reference" / "marseille"
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 1, "is_mobile": True}
BUDGET = 250 * 1024


def build_demo(instance: Path) -> Any:
    """The app on a fresh instance folder, loaded as ``make run`` loads it, and published."""
    os.environ["LANTERNE_INSTANCE_PATH"] = str(instance)
    os.environ.pop("DATABASE_URL", None)
    os.environ.pop("REDIS_URL", None)
    sys.path.insert(0, str(ROOT))
    from backend import migrate
    from backend.app import create_app
    from backend.cli import main
    from backend.config import config_from_env

    app = create_app(config_from_env())
    migrate.upgrade(app.config["DATABASE_URL"])
    runner = app.test_cli_runner()
    steps = [
        ["areas", "import", str(REFERENCE / "arrondissements.geojson"), "--level",
         "arrondissement", "--code-field", "code_insee", "--name-field", "nom"],
        ["areas", "import", str(REFERENCE / "quartiers.geojson"), "--level", "quartier",
         "--code-field", "code_qua", "--name-field", "nom", "--parent-field", "DEPCO"],
        ["areas", "population", str(REFERENCE / "population_arrondissements.csv"),
         "--code-field", "code_insee", "--population-field", "pop_estimate_2010"],
        ["streets", "import", str(REFERENCE / "streets.json")],
        ["demo", "--reports", "3000", "--seed", "13"],
    ]  # fmt: skip
    for args in steps:
        result = runner.invoke(main, args)
        if result.exit_code != 0:
            raise SystemExit(f"lanterne {' '.join(args[:2])} failed:\n{result.output}")
    from workers.jobs import rebuild_aggregates

    with app.app_context():
        rebuild_aggregates()
    return app


def visit(browser: Any, url: str, *, compressed: bool) -> tuple[dict[str, int], dict[str, int]]:
    """Bytes per response of a first visit, then of a second visit with the cache warm."""
    headers = {} if compressed else {"Accept-Encoding": "identity"}
    context = browser.new_context(**PHONE, locale="fr-FR", extra_http_headers=headers)
    page = context.new_page()
    visits: list[dict[str, int]] = []
    for _ in range(2):
        seen: dict[str, int] = {}
        responses: list[Any] = []

        def keep(response: Any, into: list[Any] = responses) -> None:
            into.append(response)

        page.on("response", keep)
        page.goto(url, wait_until="networkidle")
        page.remove_listener("response", keep)
        for response in responses:
            sizes = response.request.sizes()
            name = response.url.split("?")[0].replace(url.rstrip("/"), "") or "/"
            seen[name] = (
                seen.get(name, 0) + sizes["responseHeadersSize"] + sizes["responseBodySize"]
            )
        visits.append(seen)
    context.close()
    return visits[0], visits[1]


def main() -> None:
    """Measure and print the figures for docs/BENCHMARKS.md."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--port", type=int, default=5140)
    args = parser.parse_args()
    chromium = shutil.which("chromium")
    if chromium is None:
        raise SystemExit("needs Chromium on PATH (make browser)")
    from playwright.sync_api import sync_playwright
    from werkzeug.serving import make_server

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="lanterne-weight-") as folder:
        app = build_demo(Path(folder))
        httpd = make_server("127.0.0.1", args.port, app, threaded=True)
        thread = threading.Thread(target=httpd.serve_forever, daemon=True)
        thread.start()
        url = f"http://127.0.0.1:{args.port}/"
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(
                    executable_path=chromium, args=["--no-sandbox", "--headless"]
                )
                firsts, warms, plains = [], [], []
                detail: dict[str, int] = {}
                for _ in range(args.runs):
                    first, warm = visit(browser, url, compressed=True)
                    plain, _ = visit(browser, url, compressed=False)
                    firsts.append(sum(first.values()))
                    warms.append(sum(warm.values()))
                    plains.append(sum(plain.values()))
                    detail = first
                browser.close()
        finally:
            httpd.shutdown()
            thread.join(timeout=5)
            app.extensions["lanterne.db"].dispose()
            app.extensions["lanterne.redis"].close()
    first_kb = statistics.median(firsts) / 1024
    plain_kb = statistics.median(plains) / 1024
    print(f"home page, phone 390x844, {args.runs} runs (median), bytes on the wire:")
    for name, size in sorted(detail.items(), key=lambda item: -item[1]):
        shown = name if len(name) < 50 else name[:22] + "..." + name[-25:]
        print(f"  {shown:50s} {size / 1024:8.1f} KB")
    print(f"first visit, compressed:        {first_kb:8.1f} KB (budget {BUDGET // 1024} KB)")
    print(f"first visit, uncompressed:      {plain_kb:8.1f} KB (baseline, same run)")
    print(f"ratio compressed / baseline:    {first_kb / plain_kb:8.2f}")
    print(f"second visit (cache warm):      {statistics.median(warms) / 1024:8.1f} KB")
    if statistics.median(firsts) > BUDGET:
        raise SystemExit("over budget")


if __name__ == "__main__":
    main()
