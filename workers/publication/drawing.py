"""Base maps drawn by folium, in the worker only (the web process never imports this module).

``import folium`` costs ~75 MB (it pulls branca, jinja2 templates and pandas when installed)
and a city map takes hundreds of milliseconds: the publication (``workers.publication.base_maps``)
renders a map here only when its inputs changed, and stores it for the pages.
"""

from __future__ import annotations

from typing import Any

import folium
from shapely.geometry import shape

from public_site.areas import area_geometry
from public_site.maps import EMPTY_FILL, BaseMap, MapSpec

# The map's starting view before it fits the areas' bounds (Marseille).
DEFAULT_LOCATION = [43.2965, 5.3698]


def render_base_map(spec: MapSpec, *, tiles: str | None, attribution: str) -> BaseMap:
    """The folium map of the spec's outlines: the element, the scripts, the names in them.

    Every feature carries its area code (``c``) and an empty tooltip text (``t``); a page's
    script (``public_site.maps.render_map``) sets the fill colours and texts of its figures.
    """
    fmap = folium.Map(location=DEFAULT_LOCATION, zoom_start=12, tiles=None, control_scale=True)
    # Only Leaflet, from this site (see public_site.maps).
    fmap.default_js = []
    fmap.default_css = []
    if tiles:
        folium.TileLayer(tiles=tiles, attr=attribution or " ", name="base").add_to(fmap)
    names: list[str] = []
    lats: list[float] = []
    lons: list[float] = []
    for index, nodes in enumerate(spec.layers):
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
    if spec.switch_zoom is not None and len(names) == 2:
        fine, coarse = names
        script += (
            "\n<script>(function(){"
            f"var m={map_name},f={fine},c={coarse};"
            f"function s(){{if(m.getZoom()<{spec.switch_zoom}){{m.removeLayer(f);c.addTo(m);}}"
            "else{m.removeLayer(c);f.addTo(m);}}"
            "m.on('zoomend',s);s();})();</script>"
        )
    return BaseMap(element=root.html.render(), script=script, map_name=map_name, layer_names=names)
