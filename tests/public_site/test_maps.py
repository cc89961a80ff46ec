"""The maps: drawn by folium in the worker at publication, only read by the web."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlmodel import Session, select

from backend.models import Area, PublishedMap
from tests.conftest import reference_path
from tests.public_site.conftest import add_report, month_start

QUARTIER = "1320101"  # Belsunce, in the 1st arrondissement (13201)
NOTICE = "La carte est en cours de préparation"
MAP_ELEMENT = 'class="folium-map"'


def add_reports(session: Session) -> None:
    """A few reports in a few quartiers (enough to be published)."""
    created = month_start(0) + timedelta(hours=3)
    for code in (QUARTIER, "1320102", "1320201"):
        for _ in range(6):
            add_report(session, area=code, service="streetlight", created=created, history=False)
    session.commit()


def publish_job(app: Flask) -> dict[str, Any]:
    """The cron's job (not forced), then a web process that sees the new publication."""
    from public_site import indicators
    from public_site.site import clear_page_cache
    from workers.jobs import publish_aggregates

    result = publish_aggregates()
    indicators.invalidate()
    clear_page_cache()
    return result


def body(client: FlaskClient, url: str) -> str:
    """A page's HTML, after checking it answered 200."""
    response = client.get(url)
    assert response.status_code == 200, url
    return response.get_data(as_text=True)


def test_maps_are_drawn_at_publication_and_again_only_when_their_areas_change(
    app: Flask,
    client: FlaskClient,
    session: Session,
    marseille_areas: int,
    publish: Callable[[], dict[str, Any]],
) -> None:
    add_reports(session)
    first = publish()
    # The city's two views (quartiers first, arrondissements first), then each area's outline.
    assert first["maps_rendered"] == 2 + marseille_areas + 16 and first["maps_failed"] == []
    stored = {m.key: m for m in session.exec(select(PublishedMap))}
    assert {"city:fine", "city:coarse", f"area:{QUARTIER}", "area:13201"} <= set(stored)
    city = body(client, "/")
    assert MAP_ELEMENT in city and NOTICE not in city
    assert f'id="{stored["city:fine"].map_name}"' in city
    # The page's figures name the stored map's layers (static/map.js applies them).
    figures = json.loads(city.split('id="map-figures">')[1].split("</script>")[0])
    assert figures["layers"] == stored["city:fine"].layer_names
    assert figures["map"] == stored["city:fine"].map_name
    area = body(client, f"/quartiers/{QUARTIER}")
    assert f'id="{stored[f"area:{QUARTIER}"].map_name}"' in area
    coarse = body(client, "/?niveau=arrondissement")
    assert f'id="{stored["city:coarse"].map_name}"' in coarse

    names = {key: m.map_name for key, m in stored.items()}
    # Nothing changed: the cron's publication is a no-op, a forced one draws no map.
    assert publish_job(app)["published"] is False
    assert publish()["maps_rendered"] == 0

    # A quartier renamed: published again although no report changed, and only the maps
    # that show it are drawn again (its parent's outline and name did not change).
    renamed = session.exec(select(Area).where(Area.code == QUARTIER)).one()
    renamed.name = "Belsunce (centre)"
    session.add(renamed)
    session.commit()
    again = publish_job(app)
    assert again["published"] is True and again["maps_rendered"] == 3
    # Each drawing names its map afresh: the names tell which maps were drawn again.
    session.expire_all()
    now = {m.key: m.map_name for m in session.exec(select(PublishedMap))}
    assert now.keys() == names.keys()
    assert {k for k in now if now[k] != names[k]} == {
        "city:fine",
        "city:coarse",
        f"area:{QUARTIER}",
    }
    assert "Belsunce (centre)" in body(client, "/")


def test_before_the_first_publication_no_map_is_loaded(
    app: Flask, client: FlaskClient, session: Session, marseille_areas: int
) -> None:
    # Nothing published yet: the pages say so (tests/public_site/test_pages.py), and load no
    # map and no Leaflet. A map not drawn yet after a publication: the next test.
    for url in ("/", f"/quartiers/{QUARTIER}?lang=en"):
        page = body(client, url)
        assert MAP_ELEMENT not in page and "leaflet.js" not in page


def test_areas_imported_after_a_publication_get_their_maps_at_the_next_one(
    app: Flask,
    client: FlaskClient,
    session: Session,
    marseille_areas: int,
    publish: Callable[[], dict[str, Any]],
) -> None:
    from backend.services.areas import import_areas, read_features
    from public_site import indicators
    from public_site.site import clear_page_cache

    add_reports(session)
    publish()
    assert MAP_ELEMENT in body(client, "/")
    # The arrondissements' own outlines and names replace the groups of quartiers.
    import_areas(
        session=session,
        features=read_features(reference_path("marseille", "arrondissements.geojson")),
        level="arrondissement",
        code_field="code_insee",
        name_field="nom",
    )
    # A web process started now (its catalogue read afresh) has no map of these areas yet.
    indicators.invalidate()
    clear_page_cache()
    city = body(client, "/?niveau=arrondissement")
    assert NOTICE in city and MAP_ELEMENT not in city and '<table id="figures"' in city
    # The next run of the cron's job publishes (no report changed, the areas did) and draws.
    result = publish_job(app)
    assert result["published"] is True and result["maps_rendered"] > 0
    city = body(client, "/?niveau=arrondissement")
    assert MAP_ELEMENT in city and NOTICE not in city
    assert MAP_ELEMENT in body(client, "/quartiers/13201")


# Run in a fresh interpreter: which modules the web loads, and who imported the heavy ones.
WEB_IMPORTS = """
import json, sys, traceback

HEAVY = ("folium", "branca", "pandas")
importers = {}


class Watch:
    def find_spec(self, name, path=None, target=None):
        if name in HEAVY and name not in importers:
            frames = [f for f in traceback.extract_stack()[:-1] if "<frozen" not in f.filename]
            importers[name] = frames[-1].filename if frames else "?"
        return None


sys.meta_path.insert(0, Watch())
from backend.wsgi import app

client = app.test_client()
pages = {url: client.get(url) for url in sys.argv[1:]}
print(json.dumps({
    "status": {url: r.status_code for url, r in pages.items()},
    "maps": {url: 'class="folium-map"' in r.get_data(as_text=True) for url, r in pages.items()},
    "loaded": [m for m in HEAVY if m in sys.modules],
    "importers": importers,
}))
"""


def test_the_web_never_loads_folium_branca_or_pandas(
    app: Flask,
    session: Session,
    marseille_areas: int,
    publish: Callable[[], dict[str, Any]],
    tmp_path: Path,
) -> None:
    add_reports(session)
    publish()
    urls = ["/", "/?niveau=arrondissement", f"/quartiers/{QUARTIER}", "/quartiers/13201"]
    out = subprocess.run(  # noqa: S603
        [sys.executable, "-c", WEB_IMPORTS, *urls],
        capture_output=True,
        text=True,
        check=True,
        env={
            **os.environ,
            "DATABASE_URL": app.config["DATABASE_URL"],
            "REDIS_URL": app.config["REDIS_URL"],
            "LANTERNE_INSTANCE_PATH": str(tmp_path),
        },
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["status"] == dict.fromkeys(urls, 200)
    assert result["maps"] == dict.fromkeys(urls, True)  # the stored maps, not the notice
    assert result["loaded"] == [], result["importers"]


def test_imported_streets_are_written_on_the_maps_at_the_next_publication(
    app: Flask,
    client: FlaskClient,
    session: Session,
    marseille_areas: int,
    publish: Callable[[], dict[str, Any]],
) -> None:
    from backend.services.street_import import import_streets, read_streets
    from public_site.maps import stored_script

    add_reports(session)
    publish()
    stored = {m.key: m for m in session.exec(select(PublishedMap))}
    assert "Cours Julien" not in stored["city:fine"].script
    import_streets(session=session, rows=read_streets(reference_path("marseille", "streets.json")))
    # A streets import alone calls for a publication, which draws every map again.
    again = publish_job(app)
    assert again["published"] is True and again["maps_rendered"] == len(stored)
    session.expire_all()
    stored = {m.key: m for m in session.exec(select(PublishedMap))}
    city = body(client, "/")
    script_url = city.split('<script src="/cartes/')[1].split('"')[0]
    fingerprint, name = script_url.removesuffix(".js").split("/")
    script = stored_script(session, fingerprint=fingerprint, map_name=name)
    assert script is not None and "Cours Julien" in script and "Boulevard Baille" in script
    assert client.get("/cartes/" + script_url).status_code == 200
    # An area's map has its own streets, not the whole city's.
    area_script = stored[f"area:{QUARTIER}"].script
    assert "Cours Belsunce" in area_script and "Cours Julien" not in area_script
    district = stored["area:13206"].script
    assert "Cours Julien" in district and "Cours Belsunce" not in district


def test_with_a_citys_tiles_the_maps_use_them_and_draw_no_street_layer(
    app: Flask,
    client: FlaskClient,
    session: Session,
    marseille_areas: int,
    publish: Callable[[], dict[str, Any]],
    monkeypatch: Any,
) -> None:
    from backend.services.street_import import import_streets, read_streets

    tiles = "https://tiles.ville.example/{z}/{x}/{y}.png"
    monkeypatch.setitem(app.config, "PUBLIC_MAP_TILES", tiles)
    monkeypatch.setitem(app.config, "PUBLIC_MAP_ATTRIBUTION", "© OpenStreetMap contributors")
    import_streets(session=session, rows=read_streets(reference_path("marseille", "streets.json")))
    add_reports(session)
    publish()
    city = session.exec(select(PublishedMap).where(PublishedMap.key == "city:fine")).one()
    assert "tiles.ville.example" in city.script and "OpenStreetMap contributors" in city.script
    assert "Cours Julien" not in city.script
    page = client.get("/")
    assert MAP_ELEMENT in page.get_data(as_text=True)
    assert "https://tiles.ville.example" in page.headers["Content-Security-Policy"]
