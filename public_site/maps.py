"""Choropleth maps: simplified outlines drawn by folium in the worker, figures added per page.

The outlines of the areas change only when areas are imported, while the figures change at
every publication. So the worker's publication renders each map's outlines once with folium
(``workers.publication.drawing``) and stores them (``PublishedMap``); a page reads the stored map
and adds a short script that applies its own figures (fill colour, dashes, tooltip text).
This module is what the web process needs: it never imports folium, branca or pandas (~75 MB
in each web worker).

Folium's defaults pull Leaflet, jQuery, Bootstrap and Font Awesome from CDNs; the public site
loads only Leaflet, vendored by the ``xstatic-leaflet`` package and served from this site (no
third party sees the residents' visits). Base map tiles are off unless the city configures a
tile server (``LANTERNE_TILE_URL``): by default the base map is the city's own data, the
areas' names and, zoomed in, the names of the streets imported by ``lanterne streets import``.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from backend.models import PublishedMap, Street
from public_site.areas import CITY, AreaNode, Hierarchy

# Bump when the rendering changes (workers.publication.drawing): every stored map is drawn again.
MAP_FORMAT = 2
# Zoom from which the finest areas' names replace their parents' (a few quartiers in view).
AREA_LABEL_ZOOM = 13
# Zoom from which the streets' names show (a few hundred metres across a phone's screen).
STREET_ZOOM = 15
# Zoom below which the city map shows the parent level (arrondissements) instead of the finest.
SWITCH_ZOOM = 11
# ColorBrewer YlOrRd, 5 classes (colour-blind safe); hidden and empty cells are greys.
PALETTE = ["#ffffb2", "#fecc5c", "#fd8d3c", "#f03b20", "#bd0026"]
HIDDEN_FILL = "#bdbdbd"
EMPTY_FILL = "#f7f7f7"


def classes(values: list[int]) -> list[int]:
    """Upper bounds of up to 5 classes of the published values, each bound a distinct integer.

    Few distinct values (5 or fewer) give a class each; more give quantile breaks (each class
    about a fifth of the areas), where equal breaks are merged into one class, so no two
    classes ever share a bound.
    """
    vals = sorted(v for v in values if v and v > 0)
    if not vals:
        return []
    distinct = sorted(set(vals))
    if len(distinct) <= len(PALETTE):
        return distinct
    bounds: list[int] = []
    for i in range(1, len(PALETTE) + 1):
        bound = vals[min(len(vals) - 1, -(-i * len(vals) // len(PALETTE)) - 1)]
        if not bounds or bound > bounds[-1]:
            bounds.append(bound)
    if bounds[-1] < vals[-1]:
        bounds[-1] = vals[-1]
    return bounds


def class_ranges(bounds: list[int], values: list[int]) -> list[tuple[int, int]]:
    """Each class's range of counts, for the legend: from the smallest published count (or
    the previous bound + 1) to its bound; a class of one count has both ends equal, and is
    shown as that count alone, never "6 – 6"."""
    vals = [v for v in values if v and v > 0]
    ranges = []
    low = min(vals) if vals else 1
    for bound in bounds:
        ranges.append((min(low, bound), bound))
        low = bound + 1
    return ranges


def fill_for(value: int | None, bounds: list[int]) -> str:
    """The fill colour of a published value (grey when hidden or zero)."""
    if value is None:
        return HIDDEN_FILL
    if value == 0 or not bounds:
        return EMPTY_FILL
    for i, bound in enumerate(bounds):
        if value <= bound:
            return PALETTE[i + (len(PALETTE) - len(bounds))]
    return PALETTE[-1]


@dataclass(frozen=True)
class StreetPoint:
    """A street's name at its point, as the base maps write it."""

    name: str
    lat: float
    lon: float
    area_code: str | None = None


def load_streets(session: Session) -> list[StreetPoint]:
    """The imported streets, in a stable order (the maps and their fingerprint read them)."""
    table = Street.__table__  # type: ignore[attr-defined]
    stmt = sa.select(table.c.name, table.c.lat, table.c.lon, table.c.area_code).order_by(
        table.c.name, table.c.lat, table.c.lon
    )
    return [StreetPoint(r.name, r.lat, r.lon, r.area_code) for r in session.execute(stmt)]


def streets_digest(streets: list[StreetPoint]) -> str:
    """A hash of the streets drawn on the maps: a new import draws the maps again."""
    digest = hashlib.sha256()
    for s in streets:
        digest.update(json.dumps([s.name, round(s.lat, 5), round(s.lon, 5)]).encode())
    return digest.hexdigest() if streets else ""


def streets_for(spec: MapSpec, streets: list[StreetPoint]) -> list[StreetPoint]:
    """The streets of a map: all of them on the city's, those of the area on an area's."""
    if spec.key.startswith("city:"):
        return streets
    codes = {n.code for nodes in spec.layers for n in nodes}
    inside = {s for s in streets if s.area_code in codes}
    if spec.children:
        inside |= {s for s in streets if s.area_code in spec.children}
    return sorted(inside, key=lambda s: (s.name, s.lat, s.lon))


@dataclass
class MapArea:
    """One area on the map: its node, its published value and its tooltip text."""

    node: AreaNode
    value: int | None
    text: str
    bounds: list[int] | None = None  # this area's layer's classes (default: the map's)


@dataclass
class BaseMap:
    """A folium map of outlines, rendered once per set of inputs and reused by every page."""

    element: str
    script: str
    map_name: str
    layer_names: list[str]
    fingerprint: str = ""  # of its inputs (MapSpec.fingerprint); set when read from storage


@dataclass
class RenderedMap:
    """The pieces to put in a page: the map's element, where its script is, its figures.

    No inline script (the public pages' Content-Security-Policy allows only this site's
    files): the stored map's script is served as a file (``stored_script``), and the page's
    figures go in a JSON data block that ``static/map.js`` applies to the map's layers.
    """

    element: str
    fingerprint: str
    map_name: str
    figures: str


@dataclass
class MapSpec:
    """What a base map is drawn from: its name, its layers of areas and the zoom switch.

    The web and the worker build specs from the same hierarchy, so the fingerprint of a page's
    spec finds the map the publication rendered for it (and no map of other areas).
    """

    key: str
    layers: list[list[AreaNode]]
    switch_zoom: int | None = None
    # The codes of the finest areas inside an area (its streets are theirs).
    children: frozenset[str] = frozenset()

    def fingerprint(self, *, tiles: str | None, attribution: str, streets: str = "") -> str:
        """A hash of every input of the rendering (areas, streets, settings, ``MAP_FORMAT``)."""
        digest = hashlib.sha256()
        head = [MAP_FORMAT, self.key, tiles or "", attribution or "", self.switch_zoom, streets]
        digest.update(json.dumps(head).encode())
        for nodes in self.layers:
            digest.update(b"\x1elayer")
            for node in nodes:
                geometry = node.geometry or ""
                # Each field's length first: no two different inputs give the same bytes.
                fields = [node.code, node.level, node.name, len(geometry)]
                digest.update(json.dumps(fields, ensure_ascii=False).encode())
                digest.update(geometry.encode())
        return digest.hexdigest()


def city_map_spec(hierarchy: Hierarchy, *, fine_first: bool) -> MapSpec:
    """The city page's map: the finest areas and their parents (shown by zoom level).

    With ``fine_first`` the finest areas show when zoomed in and the parents when zoomed out;
    otherwise (the page asked for the parents' level) the parents are on top and stay.
    """
    fine = hierarchy.level_codes(hierarchy.finest_level)
    coarse = hierarchy.level_codes(hierarchy.parent_level) if hierarchy.parent_level else []
    order = [fine, coarse] if fine_first else [coarse, fine]
    return MapSpec(
        key="city:fine" if fine_first else "city:coarse",
        layers=[[hierarchy.nodes[c] for c in codes] for codes in order if codes],
        switch_zoom=SWITCH_ZOOM if coarse and fine_first else None,
    )


def area_map_spec(node: AreaNode, hierarchy: Hierarchy | None = None) -> MapSpec:
    """An area's page's map: its outline alone (and its streets)."""
    children = frozenset(
        c for c, n in (hierarchy.nodes.items() if hierarchy else ()) if n.parent == node.code
    )
    return MapSpec(key=f"area:{node.code}", layers=[[node]], children=children)


def map_specs(hierarchy: Hierarchy) -> list[MapSpec]:
    """Every map a page can ask for: the city's (one or two) and each area's."""
    specs = [city_map_spec(hierarchy, fine_first=True)]
    if hierarchy.parent_level:
        specs.append(city_map_spec(hierarchy, fine_first=False))
    specs += [
        area_map_spec(n, hierarchy) for code, n in sorted(hierarchy.nodes.items()) if code != CITY
    ]
    return specs


# --- stored maps, as the web reads them -----------------------------------------------------

_STORED: OrderedDict[str, tuple[str, BaseMap]] = OrderedDict()
_FINGERPRINTS: OrderedDict[tuple[Any, ...], str] = OrderedDict()
_STORED_LOCK = threading.Lock()
# A city map weighs ~150 KB (its outlines), an area's a few KB: at most a few MB per process.
STORED_CACHE_SIZE = 256


def stored_base_map(
    session: Session, spec: MapSpec, *, tiles: str | None, attribution: str, version: Any
) -> BaseMap | None:
    """The base map the publication rendered for ``spec``, or None when there is none yet.

    None means the map was not rendered for these areas and settings: nothing was published
    yet, or areas were imported (or the tile settings changed) since the last publication,
    which renders it. ``version`` identifies the hierarchy (the catalogue's serial): the
    fingerprint (a hash of the outlines, a few ms for a city) is computed once per version.
    Maps are kept in memory by fingerprint, so a map drawn from other inputs is never served.
    """
    fingerprint_key = (version, spec.key, tiles, attribution)
    with _STORED_LOCK:
        fingerprint = _FINGERPRINTS.get(fingerprint_key)
    if fingerprint is None:
        fingerprint = spec.fingerprint(
            tiles=tiles,
            attribution=attribution,
            # With tiles, the city's streets are on them: the worker draws none.
            streets="" if tiles else _streets_digest(session, version),
        )
        with _STORED_LOCK:
            _FINGERPRINTS[fingerprint_key] = fingerprint
            while len(_FINGERPRINTS) > STORED_CACHE_SIZE:
                _FINGERPRINTS.popitem(last=False)
    with _STORED_LOCK:
        cached = _STORED.get(spec.key)
        if cached is not None and cached[0] == fingerprint:
            _STORED.move_to_end(spec.key)
            return cached[1]
    table = PublishedMap.__table__  # type: ignore[attr-defined]
    row = session.execute(
        sa.select(table.c.element, table.c.script, table.c.map_name, table.c.layer_names).where(
            table.c.key == spec.key, table.c.fingerprint == fingerprint
        )
    ).first()
    if row is None:
        return None
    base = BaseMap(
        element=row.element,
        script=row.script,
        map_name=row.map_name,
        layer_names=list(row.layer_names),
        fingerprint=fingerprint,
    )
    with _STORED_LOCK:
        _STORED[spec.key] = (fingerprint, base)
        while len(_STORED) > STORED_CACHE_SIZE:
            _STORED.popitem(last=False)
    return base


_STREETS_DIGEST: dict[Any, str] = {}


def _streets_digest(session: Session, version: Any) -> str:
    # Once per published version: streets imported since then show at the next publication,
    # which draws the maps with them (until then the pages keep the maps they have).
    with _STORED_LOCK:
        digest = _STREETS_DIGEST.get(version)
    if digest is None:
        digest = streets_digest(load_streets(session))
        with _STORED_LOCK:
            _STREETS_DIGEST.clear()
            _STREETS_DIGEST[version] = digest
    return digest


def clear_cache() -> None:
    """Forget the stored maps kept in memory (tests)."""
    with _STORED_LOCK:
        _STORED.clear()
        _FINGERPRINTS.clear()
        _STREETS_DIGEST.clear()


def render_map(
    base: BaseMap, *, areas: list[MapArea], bounds: list[int], label: str
) -> RenderedMap:
    """The page's map: the stored outlines, and this page's figures for ``static/map.js``."""
    data = {
        a.node.code: {
            "t": a.text,
            "f": fill_for(a.value, a.bounds if a.bounds is not None else bounds),
            "h": a.value is None,
        }
        for a in areas
    }
    figures = {
        "map": base.map_name,
        "layers": base.layer_names,
        "label": label,
        "empty": EMPTY_FILL,
        "areas": data,
    }
    # Escaped for a <script type="application/json"> block: no "</script>" can close it.
    payload = json.dumps(figures, ensure_ascii=False).replace("<", "\\u003c")
    return RenderedMap(
        element=base.element,
        fingerprint=base.fingerprint,
        map_name=base.map_name,
        figures=payload,
    )


_SCRIPT_TAG_RE = re.compile(r"<script>(.*?)</script>", re.DOTALL)


def stored_script(session: Session, *, fingerprint: str, map_name: str) -> str | None:
    """The JavaScript of the stored map with this fingerprint and name, or None.

    The publication stores folium's script as inline ``<script>`` blocks
    (``workers.publication.drawing``); it is served as a file, so the tags are taken off here
    (maps stored by any version keep working, nothing is drawn again). The name changes at
    each drawing, so a URL made of both always means the same script and can be cached for
    long.
    """
    table = PublishedMap.__table__  # type: ignore[attr-defined]
    script = session.execute(
        sa.select(table.c.script).where(
            table.c.fingerprint == fingerprint, table.c.map_name == map_name
        )
    ).scalar()
    if script is None:
        return None
    return ";\n".join(_SCRIPT_TAG_RE.findall(str(script)))
