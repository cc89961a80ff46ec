"""The published areas: the area tree (finest areas, their parents, the city) and outlines.

Read by the pages, the API and the maps, and built by the worker's publication from the same
imported areas (``workers.publication``), so that both sides agree on every code and outline.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import h3
import shapely
from shapely.geometry import mapping, shape

from backend.models import Area

CITY = "city"
# ~40 m: invisible at city zoom, and divides the size of Marseille's quartiers by ~15.
SIMPLIFY_DEGREES = 0.0004
COORD_DECIMALS = 5


@dataclass
class AreaNode:
    """An area of the published hierarchy (finest areas, their parents, the city)."""

    code: str
    name: str
    level: str
    parent: str | None
    population: int | None = None
    geometry: str | None = None


@dataclass
class Hierarchy:
    """The published areas: finest level, the parent level (if any) and the city."""

    nodes: dict[str, AreaNode]
    finest_level: str
    parent_level: str | None

    def chain(self, code: str) -> list[str]:
        """The area, its parent (if any) and the city."""
        out = [code]
        node = self.nodes.get(code)
        if node is not None and node.parent:
            out.append(node.parent)
        out.append(CITY)
        return out

    def level_codes(self, level: str) -> list[str]:
        """The codes of one level, in order."""
        return sorted(c for c, n in self.nodes.items() if n.level == level)


def build_hierarchy(areas: Iterable[Area], raw_codes: Iterable[str]) -> Hierarchy:
    """The area hierarchy from the imported areas (or H3 cells when none are loaded).

    The finest level is the one with most areas (as for locating reports); parents are the
    areas named by ``parent_code`` (imported at another level, e.g. arrondissements) or, when
    they were not imported, groups of the finest areas by ``parent_code``.
    """
    areas = list(areas)
    nodes: dict[str, AreaNode] = {}
    counts: dict[str, int] = defaultdict(int)
    for area in areas:
        counts[area.level] += 1
    finest = max(counts, key=lambda lvl: counts[lvl]) if counts else "h3"
    by_code = {a.code: a for a in areas}
    parent_level: str | None = None
    for area in areas:
        if area.level != finest:
            continue
        parent = area.parent_code or None
        nodes[area.code] = AreaNode(
            area.code, area.name, finest, parent, area.population, area.geometry
        )
        if parent and parent not in nodes:
            imported = by_code.get(parent)
            level = imported.level if imported is not None else "arrondissement"
            parent_level = parent_level or level
            nodes[parent] = AreaNode(
                parent,
                imported.name if imported is not None else parent,
                parent_level,
                None,
                imported.population if imported is not None else None,
                imported.geometry if imported is not None else None,
            )
    for code in raw_codes:
        if code not in nodes and code != CITY:
            # Counted before areas were imported (an H3 cell), or an area since removed.
            level = "h3" if h3.is_valid_cell(code) else finest
            nodes[code] = AreaNode(code, code, level, None)
    # Parents without their own population: the sum of their children's, when all have one.
    children: dict[str, list[AreaNode]] = defaultdict(list)
    for node in nodes.values():
        if node.parent:
            children[node.parent].append(node)
    for code, kids in children.items():
        parent_node = nodes[code]
        if parent_node.population is None and all(k.population for k in kids):
            parent_node.population = sum(k.population or 0 for k in kids)
    tops = [n for n in nodes.values() if n.parent is None]
    city_pop = (
        sum(n.population or 0 for n in tops) if tops and all(n.population for n in tops) else None
    )
    nodes[CITY] = AreaNode(CITY, "city", CITY, None, city_pop)
    hierarchy = Hierarchy(nodes=nodes, finest_level=finest, parent_level=parent_level)
    _fill_parent_geometries(hierarchy, children)
    return hierarchy


def _fill_parent_geometries(hierarchy: Hierarchy, children: Mapping[str, list[AreaNode]]) -> None:
    """Parents that were not imported get the union of their children's outlines."""
    for code, kids in children.items():
        node = hierarchy.nodes[code]
        if node.geometry:
            continue
        shapes = [shape(g) for g in (area_geometry(k) for k in kids) if g]
        if shapes:
            union = shapely.union_all(shapes)
            node.geometry = json.dumps(mapping(union))


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
