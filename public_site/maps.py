"""Choropleth maps with folium, on simplified geometries, with Leaflet served by the site itself.

Folium's defaults pull Leaflet, jQuery, Bootstrap and Font Awesome from CDNs; the public site
loads only Leaflet, vendored by the ``xstatic-leaflet`` package and served from this site (no
third party sees the residents' visits). Base map tiles are off unless the city configures a
tile server (``LANTERNE_PUBLIC_MAP_TILES``).
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import folium
import h3
import shapely
from shapely.geometry import mapping, shape

if TYPE_CHECKING:
    from public_site.publication import AreaNode

# ~40 m: invisible at city zoom, and divides the size of Marseille's quartiers by ~15.
SIMPLIFY_DEGREES = 0.0004
COORD_DECIMALS = 5
# ColorBrewer YlOrRd, 5 classes (colour-blind safe); hidden and empty cells are greys.
PALETTE = ["#ffffb2", "#fecc5c", "#fd8d3c", "#f03b20", "#bd0026"]
HIDDEN_FILL = "#bdbdbd"
EMPTY_FILL = "#f7f7f7"


def _round(coords: Any) -> Any:
    if isinstance(coords, (int, float)):
        return round(float(coords), COORD_DECIMALS)
    return [_round(c) for c in coords]


@lru_cache(maxsize=4096)
def _simplified(geometry_text: str) -> str:
    geom = shape(json.loads(geometry_text))
    simple = shapely.simplify(geom, SIMPLIFY_DEGREES, preserve_topology=True)
    data = mapping(simple)
    return json.dumps({"type": data["type"], "coordinates": _round(data["coordinates"])})


def area_geometry(node: AreaNode) -> dict[str, Any] | None:
    """The simplified GeoJSON geometry of an area (an H3 cell's hexagon), or None."""
    if node.geometry:
        return dict(json.loads(_simplified(node.geometry)))
    if node.level == "h3" and h3.is_valid_cell(node.code):
        ring = [
            [round(lon, COORD_DECIMALS), round(lat, COORD_DECIMALS)]
            for lat, lon in h3.cell_to_boundary(node.code)
        ]
        ring.append(ring[0])
        return {"type": "Polygon", "coordinates": [ring]}
    return None


def classes(values: list[int]) -> list[int]:
    """Upper bounds of up to 5 classes (quantiles of the published values)."""
    vals = sorted(v for v in values if v > 0)
    if not vals:
        return []
    bounds: list[int] = []
    for i in range(1, 6):
        bound = vals[min(len(vals) - 1, round(i * len(vals) / 5) - 1)]
        if not bounds or bound > bounds[-1]:
            bounds.append(bound)
    return bounds


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


@dataclass
class MapArea:
    """One area on the map: its node, its published value and its tooltip text."""

    node: AreaNode
    value: int | None
    text: str
    bounds: list[int] | None = None  # this area's layer's classes (default: the map's)


@dataclass
class BaseMap:
    """A folium map of outlines, rendered once per set of areas and reused by every page."""

    element: str
    script: str
    map_name: str
    layer_names: list[str]


@dataclass
class RenderedMap:
    """The pieces to put in a page: the map's element and its scripts."""

    element: str
    script: str


_BASE_CACHE: OrderedDict[tuple[Any, ...], BaseMap] = OrderedDict()
_BASE_LOCK = threading.Lock()
BASE_CACHE_SIZE = 256


def base_map(
    *,
    key: tuple[Any, ...],
    layers: list[list[AreaNode]],
    tiles: str | None,
    attribution: str,
    switch_zoom: int | None = None,
) -> BaseMap:
    """The folium map of the areas' outlines (cached under ``key``).

    Folium renders in hundreds of milliseconds; the outlines change only when areas are
    imported, so they are rendered once, and each page only sends its figures (a few KB)
    that a short script applies to the features (fill colour, dashes, tooltip text).
    """
    with _BASE_LOCK:
        cached = _BASE_CACHE.get(key)
        if cached is not None:
            _BASE_CACHE.move_to_end(key)
            return cached
    fmap = folium.Map(location=[43.2965, 5.3698], zoom_start=12, tiles=None, control_scale=True)
    # Only Leaflet, from this site (see the module docstring).
    fmap.default_js = []
    fmap.default_css = []
    if tiles:
        folium.TileLayer(tiles=tiles, attr=attribution or " ", name="base").add_to(fmap)
    names: list[str] = []
    lats: list[float] = []
    lons: list[float] = []
    for index, nodes in enumerate(layers):
        features = []
        for node in nodes:
            geometry = area_geometry(node)
            if geometry is None:
                continue
            minx, miny, maxx, maxy = shape(geometry).bounds
            lats += [miny, maxy]
            lons += [minx, maxx]
            features.append(
                {
                    "type": "Feature",
                    "geometry": geometry,
                    "properties": {"c": node.code, "t": ""},
                }
            )
        if not features:
            continue
        layer = folium.GeoJson(
            {"type": "FeatureCollection", "features": features},
            style_function=lambda _f: {
                "fillColor": EMPTY_FILL,
                "color": "#444444",
                "weight": 1,
                "fillOpacity": 0.75,
            },
            highlight_function=lambda _f: {"weight": 3, "color": "#000000"},
            tooltip=folium.GeoJsonTooltip(fields=["t"], labels=False),
            name=f"layer{index}",
            embed=True,
            show=index == 0,
        )
        layer.add_to(fmap)
        names.append(layer.get_name())
    if lats:
        fmap.fit_bounds([[min(lats), min(lons)], [max(lats), max(lons)]])
    root: Any = fmap.get_root()  # a branca Figure (header, html, script)
    root.render()
    map_name = fmap.get_name()
    # Folium gives the script's body; the page needs the element.
    script = "<script>" + root.script.render() + "</script>"
    if switch_zoom is not None and len(names) == 2:
        fine, coarse = names
        script += (
            "\n<script>(function(){"
            f"var m={map_name},f={fine},c={coarse};"
            f"function s(){{if(m.getZoom()<{switch_zoom}){{m.removeLayer(f);c.addTo(m);}}"
            "else{m.removeLayer(c);f.addTo(m);}}"
            "m.on('zoomend',s);s();})();</script>"
        )
    result = BaseMap(
        element=root.html.render(), script=script, map_name=map_name, layer_names=names
    )
    with _BASE_LOCK:
        _BASE_CACHE[key] = result
        while len(_BASE_CACHE) > BASE_CACHE_SIZE:
            _BASE_CACHE.popitem(last=False)
    return result


def render_map(
    base: BaseMap, *, areas: list[MapArea], bounds: list[int], label: str
) -> RenderedMap:
    """The page's map: the cached outlines, with this page's figures applied by a script."""
    data = {
        a.node.code: {
            "t": a.text,
            "f": fill_for(a.value, a.bounds if a.bounds is not None else bounds),
            "h": a.value is None,
        }
        for a in areas
    }
    # Escaped for an inline script: no "</script>" can close it early.
    payload = json.dumps(data, ensure_ascii=False).replace("<", "\\u003c")
    layers = ",".join(base.layer_names)
    apply = (
        "<script>(function(){"
        f"var d={payload};"
        f"document.getElementById({json.dumps(base.map_name)}).setAttribute('aria-label',"
        f"{json.dumps(label)});"
        f"[{layers}].forEach(function(g){{"
        "g.options.style=function(f){var v=d[f.properties.c];return {fillColor:v?v.f:"
        f"'{EMPTY_FILL}',color:'#444444',weight:1,fillOpacity:0.75,"
        "dashArray:v&&v.h?'4 3':null};};"
        "g.eachLayer(function(l){var v=d[l.feature.properties.c];if(!v)return;"
        # The tooltip is inserted as HTML: the text goes through textContent first.
        "var e=document.createElement('span');e.textContent=v.t;"
        "l.feature.properties.t=e.innerHTML;});"
        "g.setStyle(g.options.style);});})();</script>"
    )
    return RenderedMap(element=base.element, script=base.script + "\n" + apply)
