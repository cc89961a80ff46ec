"""One publication: the published snapshot, the open data and the maps, rebuilt when needed.

Every figure the public can see (pages, open data, ``/api/v1/indicators``) comes from the
``published_cell`` table and the files written here, rebuilt in one transaction by the
``publish_aggregates`` job when the raw cells or the areas changed. Nothing public reads a
report. The publication also draws the maps' outlines with folium when their inputs changed
(``PublishedMap``), so that the web process never has to.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, delete, select

from backend.db import utcnow
from backend.models import AggregateCell, AggregateState, Area, PublishedCell, Service
from public_site import periods
from public_site.areas import build_hierarchy
from public_site.maps import MAP_FORMAT, load_streets, streets_digest
from workers.publication.base_maps import render_changed_maps, write_maps
from workers.publication.open_data import write_open_data
from workers.publication.partial import same_days
from workers.publication.rollup import build_snapshot
from workers.publication.settings import PublishSettings


def inputs_fingerprint(*, session: Session, settings: PublishSettings) -> str:
    """A hash of what a publication depends on besides the raw cells: areas, streets, settings.

    Areas (outlines, names, levels, parents, populations) shape the roll-up, the rates, the
    open data and the maps; a change to them (``lanterne areas import``, ``areas population``)
    calls for a publication even when no report changed.
    """
    digest = hashlib.sha256()
    head = [MAP_FORMAT, settings.map_tiles or "", settings.map_attribution or ""]
    digest.update(json.dumps(head).encode())
    # The streets drawn on the maps (``lanterne streets import``) when no tiles are set.
    if not settings.map_tiles:
        digest.update(streets_digest(load_streets(session)).encode())
    stmt = sa.select(  # type: ignore[call-overload]
        Area.code, Area.name, Area.level, Area.parent_code, Area.population, Area.geometry
    ).order_by(col(Area.code))
    for code, name, level, parent, population, geometry in session.execute(stmt):
        fields = [code, name, level, parent, population, len(geometry)]
        digest.update(json.dumps(fields, ensure_ascii=False).encode())
        digest.update(geometry.encode())
    return digest.hexdigest()


def publish(*, session: Session, settings: PublishSettings, force: bool = False) -> dict[str, Any]:
    """Rebuild the published snapshot, the open data files and the maps when anything changed.

    Anything: the raw cells, or the areas and map settings (``inputs_fingerprint``). The maps'
    outlines are drawn again only for the maps whose own inputs changed.
    """
    state = session.get(AggregateState, 1)
    if state is None:
        state = AggregateState(id=1)
        session.add(state)
        session.flush()
    inputs = inputs_fingerprint(session=session, settings=settings)
    if (
        not force
        and state.published_at is not None
        and state.published_version == state.raw_version
        and (state.details or {}).get("inputs") == inputs
    ):
        return {"published": False, "version": state.published_version}
    raw_version = state.raw_version
    cells = list(session.exec(select(AggregateCell)))
    areas = list(session.exec(select(Area)))
    hierarchy = build_hierarchy(areas, {c.area_code for c in cells})
    catalogue = list(session.exec(select(Service).order_by(col(Service.sort_order))))
    services = [s.code for s in catalogue]
    services += sorted({c.service_code for c in cells} - set(services))
    now_month = periods.month_of(utcnow(), settings.tz)
    first = min((c.month for c in cells), default=now_month)
    months = periods.month_range(
        min(first, now_month), max(now_month, max((c.month for c in cells), default=now_month))
    )
    snapshot = build_snapshot(
        cells=cells,
        hierarchy=hierarchy,
        services=services,
        months=months,
        threshold=settings.threshold,
    )
    # Drawn before the first write: SQLite holds its write lock until the commit.
    maps = render_changed_maps(session=session, hierarchy=hierarchy, settings=settings)
    session.exec(delete(PublishedCell))  # type: ignore[call-overload]
    for i in range(0, len(snapshot.rows), 10_000):
        session.execute(sa.insert(PublishedCell.__table__), snapshot.rows[i : i + 10_000])  # type: ignore[attr-defined]
    object_services = {s.code for s in catalogue if not s.about_people}
    write_open_data(
        session=session,
        settings=settings,
        snapshot=snapshot,
        hierarchy=hierarchy,
        object_services=object_services,
    )
    write_maps(session=session, maps=maps)
    published_at = utcnow()
    partial = same_days(
        session=session,
        now=published_at,
        tz=settings.tz,
        services=services,
        hierarchy=hierarchy,
        hidden=snapshot.hidden,
        threshold=settings.threshold,
    )
    state = session.get(AggregateState, 1)
    assert state is not None
    state.published_version = raw_version
    state.published_at = published_at
    state.details = {
        "cells": len(snapshot.rows),
        "hidden": len(snapshot.hidden),
        "primary": len(snapshot.primary),
        "first_month": months[0],
        "last_month": months[-1],
        "finest_level": hierarchy.finest_level,
        "parent_level": hierarchy.parent_level,
        "inputs": inputs,
        # The periods under way and the same days of the periods before (``partial``).
        "same_days": partial,
    }
    session.add(state)
    session.commit()
    return {
        "published": True,
        "version": raw_version,
        **state.details,
        "maps_rendered": len(maps.rows),
        "maps_failed": maps.failed,
    }
