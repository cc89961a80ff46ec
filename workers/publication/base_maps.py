"""The base maps of the public pages, drawn again at publication when their inputs changed.

Each map's outlines are drawn with folium (``drawing``) and stored (``PublishedMap``); a page
reads the stored map and adds its own figures (``public_site.maps``), so the web process never
draws nor imports folium.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlmodel import Session, col, delete

from backend.models import PublishedMap
from public_site.areas import Hierarchy
from public_site.maps import load_streets, map_specs, streets_digest, streets_for
from workers.publication.settings import PublishSettings

log = logging.getLogger(__name__)


@dataclass
class MapUpdate:
    """The base maps a publication drew again, and the stored ones no page asks for any more."""

    rows: list[PublishedMap]
    stale: list[str]
    failed: list[str] = field(default_factory=list)


def render_changed_maps(
    *, session: Session, hierarchy: Hierarchy, settings: PublishSettings
) -> MapUpdate:
    """Draw with folium the base maps whose inputs changed since they were stored (no writes).

    Each map is keyed by the fingerprint of its inputs (its areas' outlines, names and levels,
    the imported streets, the tile settings, ``MAP_FORMAT``): a publication where none changed
    draws nothing and does not even import folium. A map that cannot be drawn is logged and
    left out (its page shows its table and a notice) rather than holding back the figures;
    the next forced publication (nightly) tries again.
    """
    table = PublishedMap.__table__  # type: ignore[attr-defined]
    stored = {key: fp for key, fp in session.execute(sa.select(table.c.key, table.c.fingerprint))}
    update = MapUpdate(rows=[], stale=[])
    wanted: set[str] = set()
    # The city's own base map (no tiles): its streets' names (``lanterne streets import``).
    streets = [] if settings.map_tiles else load_streets(session)
    digest = streets_digest(streets)
    for spec in map_specs(hierarchy):
        wanted.add(spec.key)
        fingerprint = spec.fingerprint(
            tiles=settings.map_tiles, attribution=settings.map_attribution, streets=digest
        )
        if stored.get(spec.key) == fingerprint:
            continue
        # folium (~75 MB with pandas) is imported here, and only to draw: a publication where
        # no map changed does not load it.
        from workers.publication.drawing import render_base_map

        try:
            base = render_base_map(
                spec,
                tiles=settings.map_tiles,
                attribution=settings.map_attribution,
                streets=streets_for(spec, streets),
            )
        except Exception:
            log.exception("base map %s could not be drawn; its page shows its table", spec.key)
            update.failed.append(spec.key)
            continue
        update.rows.append(
            PublishedMap(
                key=spec.key,
                fingerprint=fingerprint,
                element=base.element,
                script=base.script,
                map_name=base.map_name,
                layer_names=base.layer_names,
            )
        )
    update.stale = sorted(set(stored) - wanted)
    return update


def write_maps(*, session: Session, maps: MapUpdate) -> None:
    """Replace the maps drawn again and drop the stale ones (in the caller's transaction)."""
    keys = [row.key for row in maps.rows] + maps.stale + maps.failed
    for i in range(0, len(keys), 500):
        session.exec(delete(PublishedMap).where(col(PublishedMap.key).in_(keys[i : i + 500])))  # type: ignore[call-overload]
    session.add_all(maps.rows)
