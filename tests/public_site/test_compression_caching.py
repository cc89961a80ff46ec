"""Pages and files are compressed (brotli, gzip) and cached (ETag, Cache-Control)."""

from __future__ import annotations

import gzip
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import brotli
from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import Session

from tests.public_site.conftest import add_report, month_start


def published_city(session: Session, publish: Callable[[], dict[str, Any]]) -> None:
    created = month_start(0) + timedelta(hours=2)
    for code in ("1320101", "1320102", "1320201"):
        for _ in range(6):
            add_report(session, area=code, service="streetlight", created=created, history=False)
    session.commit()
    publish()


def test_pages_are_compressed_with_brotli_or_gzip_and_say_so(
    app: Flask,
    client: FlaskClient,
    session: Session,
    marseille_areas: int,
    publish: Callable[[], dict[str, Any]],
) -> None:
    published_city(session, publish)
    plain = client.get("/", headers={"Accept-Encoding": "identity"})
    assert plain.status_code == 200 and "Content-Encoding" not in plain.headers
    page = plain.get_data()
    br = client.get("/", headers={"Accept-Encoding": "gzip, deflate, br"})
    assert br.headers["Content-Encoding"] == "br"
    assert brotli.decompress(br.get_data()) == page
    assert len(br.get_data()) < len(page) / 4
    gz = client.get("/", headers={"Accept-Encoding": "gzip"})
    assert gz.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(gz.get_data()) == page
    for response in (plain, br, gz):
        vary = {v.strip().lower() for v in response.headers["Vary"].split(",")}
        assert {"accept-encoding", "accept-language"} <= vary
    # The API's JSON too.
    api = client.get("/api/v1/indicators?area=1320101", headers={"Accept-Encoding": "br"})
    assert api.status_code == 200 and api.headers["Content-Encoding"] == "br"


def test_pages_carry_an_etag_and_answer_304_until_the_next_publication(
    app: Flask,
    client: FlaskClient,
    session: Session,
    marseille_areas: int,
    publish: Callable[[], dict[str, Any]],
) -> None:
    published_city(session, publish)
    for encoding in ("identity", "br", "gzip"):
        first = client.get("/quartiers/1320101", headers={"Accept-Encoding": encoding})
        assert first.status_code == 200
        etag = first.headers["ETag"]
        assert "public" in first.headers["Cache-Control"]
        assert "max-age=300" in first.headers["Cache-Control"]
        again = client.get(
            "/quartiers/1320101",
            headers={"Accept-Encoding": encoding, "If-None-Match": etag},
        )
        assert again.status_code == 304 and again.get_data() == b""
    # A new publication (a report more) changes the page, hence its ETag.
    add_report(
        session,
        area="1320101",
        service="graffiti",
        created=month_start(0) + timedelta(hours=3),
        history=False,
    )
    session.commit()
    publish()
    changed = client.get("/quartiers/1320101", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag


def test_assets_have_versioned_urls_cached_for_a_year(
    app: Flask,
    client: FlaskClient,
    session: Session,
    marseille_areas: int,
    publish: Callable[[], dict[str, Any]],
) -> None:
    published_city(session, publish)
    page = client.get("/").get_data(as_text=True)
    urls = re.findall(r'(?:src|href)="(/[^"]+\.(?:js|css)[^"]*)"', page)
    names = {u.split("?")[0].rsplit("/", 1)[-1] for u in urls}
    assert {"site.css", "leaflet.css", "leaflet.js", "map.js"} <= names
    for url in urls:
        url = url.replace("&amp;", "&")
        response = client.get(url, headers={"Accept-Encoding": "br"})
        assert response.status_code == 200, url
        control = response.headers["Cache-Control"]
        assert "max-age=31536000" in control and "immutable" in control, (url, control)
        assert response.headers["Content-Encoding"] == "br", url
        assert "accept-encoding" in response.headers["Vary"].lower()
        response.close()
    # The same file without its version: kept an hour only, and checked again by its ETag.
    bare = client.get("/static/public/site.css")
    assert "max-age=3600" in bare.headers["Cache-Control"]
    assert bare.headers.get("ETag")
    bare.close()
