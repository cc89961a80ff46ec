"""Base maps drawn by folium, in the worker only (the web process never imports this module).

``import folium`` costs ~75 MB (it pulls branca, jinja2 templates and pandas when installed)
and a city map takes hundreds of milliseconds: the publication (``workers.publication.base_maps``)
renders a map here only when its inputs changed, and stores it for the pages.
"""

from __future__ import annotations

import json
from typing import Any

import folium
from shapely.geometry import shape

from public_site.areas import area_geometry
from public_site.maps import (
    AREA_LABEL_ZOOM,
    EMPTY_FILL,
    STREET_ZOOM,
    BaseMap,
    MapSpec,
    StreetPoint,
)

# The map's starting view before it fits the areas' bounds (Marseille).
DEFAULT_LOCATION = [43.2965, 5.3698]


def render_base_map(
    spec: MapSpec,
    *,
    tiles: str | None,
    attribution: str,
    streets: list[StreetPoint] | None = None,
) -> BaseMap:
    """The folium map of the spec's outlines: the element, the scripts, the names in them.

    Every feature carries its area code (``c``) and an empty tooltip text (``t``); a page's
    script (``public_site.maps.render_map``) sets the fill colours and texts of its figures.
    Without tiles, the city's own data is the base map: the areas' names at their centres and,
    zoomed in, the streets' names at their points (``streets``), so that a resident finds
    their street with nothing fetched from a third party.
    """
    fmap = folium.Map(location=DEFAULT_LOCATION, zoom_start=12, tiles=None, control_scale=True)
    # Only Leaflet, from this site (see public_site.maps).
    fmap.default_js = []
    fmap.default_css = []
    if tiles:
        folium.TileLayer(tiles=tiles, attr=attribution or " ", name="base").add_to(fmap)
    names: list[str] = []
    labels: list[list[Any]] = []
    # The finest areas are the most numerous layer (quartiers beside their arrondissements).
    finest = max(spec.layers, key=len)[0].level if spec.layers and spec.layers[0] else ""
    lats: list[float] = []
    lons: list[float] = []
    for index, nodes in enumerate(spec.layers):
        features = []
        for node in nodes:
            geometry = area_geometry(node)
            if geometry is None:
                continue
            outline = shape(geometry)
            minx, miny, maxx, maxy = outline.bounds
            if len(spec.layers) > 1 and node.name and node.name != node.code:
                centre = outline.representative_point()
                is_fine = node.level == finest
                labels.append([_e5(centre.y), _e5(centre.x), node.name, 1 if is_fine else 0])
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
    script += _labels_script(map_name, _short_names(labels), streets or [])
    return BaseMap(element=root.html.render(), script=script, map_name=map_name, layer_names=names)


def _short_names(labels: list[list[Any]]) -> list[list[Any]]:
    """Labels without the words every name of their level shares ("Marseille 1er
    Arrondissement", "Marseille 2e Arrondissement"... give "1er", "2e"): a phone has room."""
    out = [list(label) for label in labels]
    for level in {label[3] for label in out}:
        group = [label for label in out if label[3] == level]
        words = [str(label[2]).split() for label in group]
        if len(words) < 3:
            continue
        head = 0
        while all(len(w) > head + 1 and w[head] == words[0][head] for w in words):
            head += 1
        tail = 0
        while all(len(w) > head + tail + 1 and w[-1 - tail] == words[0][-1 - tail] for w in words):
            tail += 1
        for label, w in zip(group, words, strict=True):
            label[2] = " ".join(w[head : len(w) - tail])
    return out


def _e5(degrees: float) -> int:
    # Positions as integers of 1e-5 degree (~1 m): a third of the bytes of decimal text.
    return round(degrees * 100_000)


def _labels_script(map_name: str, labels: list[list[Any]], streets: list[StreetPoint]) -> str:
    """The script that writes the areas' and streets' names on the map, by zoom level.

    Areas' names show at the middle zooms (parents below ``AREA_LABEL_ZOOM``, the finest from
    it, or at every zoom when the parents have no names of their own), streets' names from
    ``STREET_ZOOM``, only those in view and not overlapping, in a pane above the colours that
    lets clicks and touches through to the areas.
    """
    if not labels and not streets:
        return ""
    data = {
        "a": labels,
        "s": [[_e5(s.lat), _e5(s.lon), s.name] for s in streets],
    }
    # Names come from a city's files: inserted with textContent, and escaped so that no
    # "</script>" in a name can end the stored block (public_site.maps.stored_script).
    payload = json.dumps(data, ensure_ascii=False, separators=(",", ":")).replace("<", "\\u003c")
    return (
        "\n<script>(function(){"
        f"var m={map_name},D={payload},AZ={AREA_LABEL_ZOOM},SZ={STREET_ZOOM};"
        + _LABELS_JS
        + "})();</script>"
    )


# Plain Leaflet (no plugin): divIcon markers built from text nodes; each name's box measured
# on a canvas, and a name that would overlap one already written is left out; redrawn when
# the view changes.
_LABELS_JS = (
    "var p=m.createPane('lanterne-labels');p.style.zIndex=450;p.style.pointerEvents='none';"
    "var g=L.layerGroup().addTo(m),coarse=D.a.some(function(r){return r[3]===0;});"
    "var cx=document.createElement('canvas').getContext('2d'),"
    "ff=getComputedStyle(m.getContainer()).fontFamily||'sans-serif';"
    "function lab(ll,t,c){var e=document.createElement('span');e.textContent=t;"
    "return L.marker(ll,{pane:'lanterne-labels',interactive:false,keyboard:false,"
    "icon:L.divIcon({className:c,html:e,iconSize:null,iconAnchor:[0,0]})});}"
    "function draw(){g.clearLayers();var z=m.getZoom(),b=m.getBounds(),boxes=[];"
    "m.getContainer().classList.toggle('lanterne-streets-shown',z>=SZ);"
    "function free(x0,y0,x1,y1){for(var i=0;i<boxes.length;i++){var o=boxes[i];"
    "if(x0<o[2]&&o[0]<x1&&y0<o[3]&&o[1]<y1)return false;}boxes.push([x0,y0,x1,y1]);return true;}"
    "function put(r,t,c,street){var ll=[r[0]/1e5,r[1]/1e5];"
    "if(!b.contains(ll)||boxes.length>=300)return;var q=m.latLngToContainerPoint(ll),w,x0,x1;"
    "if(street){L.circleMarker(ll,{pane:'lanterne-labels',radius:3,weight:1,color:'#222',"
    "fillColor:'#fff',fillOpacity:1,interactive:false}).addTo(g);"
    "cx.font='600 13px '+ff;w=cx.measureText(t).width+4;x0=q.x+4;x1=x0+w;}"
    "else{cx.font='700 12px '+ff;w=cx.measureText(t).width+6;"
    "x0=q.x-w/2;x1=q.x+w/2;}"
    "if(free(x0,q.y-11,x1,q.y+11))lab(ll,t,c).addTo(g);}"
    "if(z>=SZ){D.s.forEach(function(r){put(r,r[2],'lanterne-street',true);});}"
    "else{var f=z>=AZ||!coarse?1:0;"
    "D.a.forEach(function(r){if(r[3]===f)put(r,r[2],'lanterne-area',false);});}}"
    "m.on('zoomend moveend',draw);m.whenReady(draw);"
)
