"""Content-Security-Policy of the public pages: they run only this site's script files."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from html.parser import HTMLParser
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import Session

from tests.public_site.conftest import add_report, month_start


class Scripts(HTMLParser):
    """The <script> elements of a page: their attributes and whether they hold code."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[dict[str, str | None]] = []
        self._open: dict[str, str | None] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "script":
            self._open = {**dict(attrs), "body": ""}
            self.found.append(self._open)

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            self._open["body"] = (self._open["body"] or "") + data

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._open = None


def scripts_of(page: str) -> list[dict[str, str | None]]:
    parser = Scripts()
    parser.feed(page)
    return parser.found


def directives(header: str) -> dict[str, str]:
    parts = (p.strip().split(" ", 1) for p in header.split(";") if p.strip())
    return {name: value for name, value in parts}


@pytest.fixture
def published(session: Session, marseille_areas: int, publish: Callable[[], dict[str, Any]]) -> str:
    created = month_start(0) + timedelta(hours=3)
    for code in ("1320101", "1320102", "1320201"):
        for _ in range(8):
            report = add_report(
                session, area=code, service="streetlight", created=created, history=False
            )
    session.commit()
    publish()
    return str(report.tracking_id)


def test_public_pages_run_no_inline_script(client: FlaskClient, published: str) -> None:
    pages = ["/", "/?niveau=arrondissement", "/quartiers/1320101", "/donnees", "/?lang=en"]
    pages.append(f"/suivi/{published}")
    seen_map_data = 0
    for path in pages:
        response = client.get(path)
        assert response.status_code == 200, path
        policy = directives(response.headers["Content-Security-Policy"])
        assert policy["script-src"] == "'self'", path
        assert policy["frame-ancestors"] == "'none'" and policy["object-src"] == "'none'"
        for script in scripts_of(response.get_data(as_text=True)):
            if script.get("type") == "application/json":  # data, never run
                seen_map_data += 1
                continue
            assert script.get("src") and not (script["body"] or "").strip(), (path, script)
            assert str(script["src"]).startswith("/"), script  # this site only
    assert seen_map_data == 4  # the city (two levels, English), the quartier


def test_a_stored_map_script_is_served_as_a_file(client: FlaskClient, published: str) -> None:
    page = client.get("/").get_data(as_text=True)
    url = next(
        str(s["src"]) for s in scripts_of(page) if str(s.get("src", "")).startswith("/cartes/")
    )
    response = client.get(url)
    assert response.status_code == 200
    assert response.mimetype == "text/javascript"
    script = response.get_data(as_text=True)
    assert "<script" not in script and "L.map(" in script
    # Another drawing's name, or an unknown fingerprint: no script.
    assert client.get(re.sub(r"/map_\w+\.js$", "/map_0.js", url)).status_code == 404
    assert client.get("/cartes/0000/map_0.js").status_code == 404


def test_error_pages_and_downloads_carry_the_policy(client: FlaskClient, published: str) -> None:
    for path in ("/quartiers/nowhere", "/donnees/indicateurs.csv", "/static/public/map.js"):
        with client.get(path) as response:  # files: closed once read
            policy = directives(response.headers["Content-Security-Policy"])
        assert policy["script-src"] == "'self'", path


def test_images_from_the_tile_server_only_when_one_is_set(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert directives(client.get("/").headers["Content-Security-Policy"])["img-src"] == (
        "'self' data:"
    )
    tiles = "https://{s}.tile.example.org/{z}/{x}/{y}.png"
    monkeypatch.setitem(app.config, "PUBLIC_MAP_TILES", tiles)
    policy = directives(client.get("/").headers["Content-Security-Policy"])
    assert policy["img-src"] == "'self' data: https://*.tile.example.org"
