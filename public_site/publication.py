"""The published snapshot: the raw cells rolled up, protected, and written for the public side.

Every figure the public can see (pages, open data, ``/api/v1/indicators``) comes from the
``published_cell`` table and the files written here, rebuilt in one transaction by the
``publish_aggregates`` job when the raw cells or the areas changed. Nothing public reads a
report. The publication also renders the maps' outlines with folium when their inputs changed
(``PublishedMap``), so that the web process never has to.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import os
import shutil
import tempfile
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h3
import sqlalchemy as sa
from sqlmodel import Session, col, delete, select

from backend.db import utcnow
from backend.models import (
    AggregateCell,
    AggregateState,
    Area,
    PublishedCell,
    PublishedMap,
    Report,
    Service,
)
from backend.services.catalogue import service_of
from backend.services.reports import snap
from public_site import periods
from public_site.suppression import Relation, protect

CITY = "city"
ALL = "*"
NOW = "now"
OPEN_DATA_DIR = "public_data"
LICENCE = "Licence Ouverte / Open Licence 2.0 (Etalab)"
LICENCE_URL = "https://www.etalab.gouv.fr/licence-ouverte-open-licence/"

log = logging.getLogger(__name__)


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
    import shapely
    from shapely.geometry import mapping, shape

    from public_site.maps import area_geometry

    for code, kids in children.items():
        node = hierarchy.nodes[code]
        if node.geometry:
            continue
        shapes = [shape(g) for g in (area_geometry(k) for k in kids) if g]
        if shapes:
            union = shapely.union_all(shapes)
            node.geometry = json.dumps(mapping(union))


@dataclass
class Figures:
    """Figures of a published cell before protection (sums of raw cells)."""

    reports: int = 0
    fixed: int = 0
    open_count: int = 0
    fix_days: dict[int, int] = field(default_factory=dict)
    feedback_n: int = 0
    feedback_fixed_yes: int = 0
    satisfaction_n: int = 0
    satisfaction_sum: int = 0

    def merge(self, other: Figures) -> None:
        """Add another cell's figures."""
        self.reports += other.reports
        self.fixed += other.fixed
        self.open_count += other.open_count
        for days, n in other.fix_days.items():
            self.fix_days[days] = self.fix_days.get(days, 0) + n
        self.feedback_n += other.feedback_n
        self.feedback_fixed_yes += other.feedback_fixed_yes
        self.satisfaction_n += other.satisfaction_n
        self.satisfaction_sum += other.satisfaction_sum


def median_days(histogram: Mapping[int, int]) -> float | None:
    """The median of a histogram of whole days (exact, mid-point of the two middle values)."""
    total = sum(histogram.values())
    if total == 0:
        return None
    ordered = sorted(histogram.items())

    def at(rank: int) -> int:
        seen = 0
        for days, n in ordered:
            seen += n
            if seen > rank:
                return days
        return ordered[-1][0]  # pragma: no cover

    return (at((total - 1) // 2) + at(total // 2)) / 2


Key = tuple[str, str, str]  # period, area, service


def roll_up(
    cells: Iterable[AggregateCell], hierarchy: Hierarchy, months: list[str]
) -> dict[Key, Figures]:
    """Sum the raw month cells into every period, area level and "all services"."""
    base: dict[Key, Figures] = defaultdict(Figures)
    wanted = set(months)
    for cell in cells:
        if cell.month not in wanted:
            continue
        fig = Figures(
            cell.reports,
            cell.fixed,
            cell.open_count,
            {int(k): v for k, v in (cell.fix_days or {}).items()},
            cell.feedback_n,
            cell.feedback_fixed_yes,
            cell.satisfaction_n,
            cell.satisfaction_sum,
        )
        for service in (cell.service_code, ALL):
            base[(cell.month, cell.area_code, service)].merge(fig)
    # Areas: each finest area into its parent and the city.
    by_area: dict[Key, Figures] = defaultdict(Figures)
    for (month, area, service), fig in base.items():
        for code in hierarchy.chain(area):
            by_area[(month, code, service)].merge(fig)
    # Time: months into quarters and years.
    out: dict[Key, Figures] = defaultdict(Figures)
    for (month, area, service), fig in by_area.items():
        for period in (month, periods.quarter_of(month), periods.year_of(month)):
            out[(period, area, service)].merge(fig)
    return out


def all_periods(months: list[str]) -> list[str]:
    """Months, then their quarters and years (each once), for a contiguous range of months."""
    quarters = sorted({periods.quarter_of(m) for m in months})
    years = sorted({periods.year_of(m) for m in months})
    return [*months, *quarters, *years]


def relations_for(
    hierarchy: Hierarchy, services: list[str], period_list: list[str], *, with_time: bool = True
) -> list[Relation]:
    """Every additive relation between published cells (services, areas, time)."""
    areas = list(hierarchy.nodes)
    finest = [c for c, n in hierarchy.nodes.items() if c != CITY and n.parent is None] + [
        c for c, n in hierarchy.nodes.items() if n.parent is not None
    ]
    children: dict[str, list[str]] = defaultdict(list)
    for code, node in hierarchy.nodes.items():
        if code == CITY:
            continue
        children[node.parent or CITY].append(code)
    del finest
    rels: list[Relation] = []
    svc_all = [*services, ALL]
    for period in period_list:
        for area in areas:
            rels.append(Relation((period, area, ALL), tuple((period, area, s) for s in services)))
        for service in svc_all:
            for parent, kids in children.items():
                rels.append(
                    Relation((period, parent, service), tuple((period, k, service) for k in kids))
                )
    if with_time:
        months = [p for p in period_list if periods.kind(p) == "month"]
        quarters = sorted({periods.quarter_of(m) for m in months})
        years = sorted({periods.year_of(m) for m in months})
        for area in areas:
            for service in svc_all:
                for quarter in quarters:
                    parts = tuple((m, area, service) for m in periods.months_of(quarter))
                    rels.append(Relation((quarter, area, service), parts))
                for year in years:
                    parts = tuple((q, area, service) for q in periods.quarters_of(year))
                    rels.append(Relation((year, area, service), parts))
    return rels


def ratio_pct(part: int, whole: int, minimum: int) -> int | None:
    """A whole percentage, or None under ``minimum`` answers."""
    return round(100 * part / whole) if whole >= minimum and whole > 0 else None


@dataclass
class Snapshot:
    """What one publication produced."""

    rows: list[dict[str, Any]]
    hidden: set[Key]
    primary: set[Key]
    published_cells: set[tuple[str, str, str]]


def build_snapshot(
    *,
    cells: list[AggregateCell],
    hierarchy: Hierarchy,
    services: list[str],
    months: list[str],
    threshold: int,
) -> Snapshot:
    """Roll up, protect and format every published figure (pure: no database).

    Parameters
    ----------
    cells
        The raw month cells.
    hierarchy
        The published areas.
    services
        Every service code that can appear (the catalogue and any code in the cells).
    months
        The contiguous months to publish (with their quarters and years).
    threshold
        The smallest count published (``MIN_PUBLISHED_COUNT``).

    Returns
    -------
    Snapshot
        The rows of ``published_cell``, and which cells were hidden.
    """
    period_list = all_periods(months)
    figures = roll_up(cells, hierarchy, months)
    counts = {key: fig.reports for key, fig in figures.items() if fig.reports}
    result = protect(counts, relations_for(hierarchy, services, period_list), threshold)
    # The open backlog: a table of its own (areas x services, now).
    backlog: dict[Key, int] = defaultdict(int)
    for (period, area, service), fig in figures.items():
        if periods.kind(period) == "year" and fig.open_count:
            backlog[(NOW, area, service)] += fig.open_count
    backlog_result = protect(
        backlog, relations_for(hierarchy, services, [NOW], with_time=False), threshold
    )
    # The union is computed once: it is looked up for every cell below.
    hidden_cells = result.hidden
    hidden_backlog = backlog_result.hidden
    rows: list[dict[str, Any]] = []
    published_cells: set[tuple[str, str, str]] = set()
    for period in period_list:
        for area, node in hierarchy.nodes.items():
            for service in [*services, ALL]:
                key = (period, area, service)
                fig = figures.get(key) or Figures()
                hidden = key in hidden_cells
                if not hidden and fig.reports == 0 and service != ALL and area != CITY:
                    continue  # zeros are implied by absence, except for totals
                row = _row(key, node, fig, hidden, threshold)
                rows.append(row)
                if not hidden and fig.reports >= threshold and periods.kind(period) == "month":
                    published_cells.add(key)
    for area, node in hierarchy.nodes.items():
        for service in [*services, ALL]:
            key = (NOW, area, service)
            value = backlog.get(key, 0)
            hidden = key in hidden_backlog
            if not hidden and value == 0 and service != ALL and area != CITY:
                continue
            rows.append(
                {
                    "period": NOW,
                    "area_code": area,
                    "service_code": service,
                    "area_level": node.level,
                    "reports": None if hidden else value,
                    "suppressed": hidden,
                    "fixed_pct": None,
                    "median_days": None,
                    "satisfaction": None,
                    "confirmed_pct": None,
                    "rate_per_1000": None,
                }
            )
    return Snapshot(
        rows=rows,
        hidden=result.hidden | backlog_result.hidden,
        primary=result.primary | backlog_result.primary,
        published_cells=published_cells,
    )


def _row(key: Key, node: AreaNode, fig: Figures, hidden: bool, k: int) -> dict[str, Any]:
    period, area, service = key
    rate = None
    if not hidden and node.population:
        rate = round(1000 * fig.reports / node.population, 2)
    return {
        "period": period,
        "area_code": area,
        "service_code": service,
        "area_level": node.level,
        "reports": None if hidden else fig.reports,
        "suppressed": hidden,
        # Ratios only over a published count, and each over a base of at least k answers.
        "fixed_pct": None if hidden else ratio_pct(fig.fixed, fig.reports, k),
        "median_days": None if hidden or fig.fixed < k else median_days(fig.fix_days),
        "satisfaction": None
        if hidden or fig.satisfaction_n < k
        else round(fig.satisfaction_sum / fig.satisfaction_n, 1),
        "confirmed_pct": None if hidden else ratio_pct(fig.feedback_fixed_yes, fig.feedback_n, k),
        "rate_per_1000": rate,
    }


def open_data_path(config: Mapping[str, Any]) -> Path:
    """Where the downloads live: ``LANTERNE_PUBLIC_DATA_PATH``, else ``instance/public_data``."""
    configured = config.get("PUBLIC_DATA_PATH")
    return Path(configured) if configured else Path(config["INSTANCE_PATH"]) / OPEN_DATA_DIR


@dataclass
class PublishSettings:
    """What a publication needs from the configuration."""

    threshold: int
    tz: str
    grid: float
    out_dir: Path
    # Base map tiles of the public maps (LANTERNE_PUBLIC_MAP_TILES, ..._ATTRIBUTION).
    map_tiles: str | None = None
    map_attribution: str = ""


def inputs_fingerprint(*, session: Session, settings: PublishSettings) -> str:
    """A hash of what a publication depends on besides the raw cells: areas and map settings.

    Areas (outlines, names, levels, parents, populations) shape the roll-up, the rates, the
    open data and the maps; a change to them (``lanterne areas import``, ``areas population``)
    calls for a publication even when no report changed.
    """
    from public_site.maps import MAP_FORMAT

    digest = hashlib.sha256()
    head = [MAP_FORMAT, settings.map_tiles or "", settings.map_attribution or ""]
    digest.update(json.dumps(head).encode())
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
    state = session.get(AggregateState, 1)
    assert state is not None
    state.published_version = raw_version
    state.published_at = utcnow()
    state.details = {
        "cells": len(snapshot.rows),
        "hidden": len(snapshot.hidden),
        "primary": len(snapshot.primary),
        "first_month": months[0],
        "last_month": months[-1],
        "finest_level": hierarchy.finest_level,
        "parent_level": hierarchy.parent_level,
        "inputs": inputs,
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


# --- maps -----------------------------------------------------------------------------------


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
    the tile settings, ``MAP_FORMAT``): a publication where none changed draws nothing and does
    not even import folium. A map that cannot be drawn is logged and left out (its page shows
    its table and a notice) rather than holding back the figures; the next forced publication
    (nightly) tries again.
    """
    from public_site.maps import map_specs

    table = PublishedMap.__table__  # type: ignore[attr-defined]
    stored = {key: fp for key, fp in session.execute(sa.select(table.c.key, table.c.fingerprint))}
    update = MapUpdate(rows=[], stale=[])
    wanted: set[str] = set()
    for spec in map_specs(hierarchy):
        wanted.add(spec.key)
        fingerprint = spec.fingerprint(
            tiles=settings.map_tiles, attribution=settings.map_attribution
        )
        if stored.get(spec.key) == fingerprint:
            continue
        # folium (~75 MB with pandas) is imported here, by the worker, and only to draw.
        from public_site.map_render import render_base_map

        try:
            base = render_base_map(
                spec, tiles=settings.map_tiles, attribution=settings.map_attribution
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


# --- open data ------------------------------------------------------------------------------

AGGREGATE_FIELDS = [
    "period",
    "area_code",
    "area_name",
    "area_level",
    "service_code",
    "reports",
    "suppressed",
    "fixed_pct",
    "median_days",
    "satisfaction",
    "confirmed_pct",
    "rate_per_1000",
]
REPORT_FIELDS = ["month", "service_code", "status", "days_to_fix", "lat", "lon", "description"]


# What makes a spreadsheet read a cell as a formula (OWASP, "CSV Injection"): such a cell of
# free text gets a leading single quote, which spreadsheets show as text and do not run.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(row: Mapping[str, Any]) -> dict[str, Any]:
    """A CSV row whose text cells cannot run as formulas (numbers are left as numbers)."""
    return {
        key: "'" + value if isinstance(value, str) and value.startswith(FORMULA_STARTS) else value
        for key, value in row.items()
    }


def write_open_data(
    *,
    session: Session,
    settings: PublishSettings,
    snapshot: Snapshot,
    hierarchy: Hierarchy,
    object_services: set[str],
) -> None:
    """Write the downloads (CSV, GeoJSON) into a fresh folder, then swap it in atomically."""
    settings.out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".public_data-", dir=settings.out_dir.parent))
    try:
        _write_aggregates(tmp, snapshot, hierarchy)
        _write_reports(tmp, session, settings, snapshot, object_services)
        old = settings.out_dir.with_name(settings.out_dir.name + ".old")
        if settings.out_dir.exists():
            if old.exists():
                shutil.rmtree(old)
            os.replace(settings.out_dir, old)
        os.replace(tmp, settings.out_dir)
        if old.exists():
            shutil.rmtree(old)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


def _write_aggregates(folder: Path, snapshot: Snapshot, hierarchy: Hierarchy) -> None:
    names = {code: node.name for code, node in hierarchy.nodes.items()}
    with (folder / "indicateurs.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=AGGREGATE_FIELDS)
        writer.writeheader()
        for row in snapshot.rows:
            if row["period"] == NOW:
                continue
            writer.writerow(
                spreadsheet_safe(
                    {**row, "area_name": names.get(row["area_code"], row["area_code"])}
                )
            )
    with (folder / "backlog.csv").open("w", newline="", encoding="utf-8") as handle:
        fields = [
            "area_code",
            "area_name",
            "area_level",
            "service_code",
            "open_reports",
            "suppressed",
        ]
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        for row in snapshot.rows:
            if row["period"] != NOW:
                continue
            writer.writerow(
                spreadsheet_safe(
                    {
                        "area_code": row["area_code"],
                        "area_name": names.get(row["area_code"], row["area_code"]),
                        "area_level": row["area_level"],
                        "service_code": row["service_code"],
                        "open_reports": row["reports"],
                        "suppressed": row["suppressed"],
                    }
                )
            )
    # GeoJSON: one feature per area and year, with the published counts by service.
    from public_site.maps import area_geometry

    by_area_year: dict[tuple[str, str], dict[str, Any]] = defaultdict(dict)
    for row in snapshot.rows:
        if row["period"] == NOW or periods.kind(row["period"]) != "year":
            continue
        if row["area_code"] == CITY:
            continue
        by_area_year[(row["area_code"], row["period"])][
            f"reports_{row['service_code']}".replace("*", "all")
        ] = row["reports"]
    features = []
    for (area, year), props in sorted(by_area_year.items()):
        node = hierarchy.nodes[area]
        geometry = area_geometry(node)
        features.append(
            {
                "type": "Feature",
                "geometry": geometry,
                "properties": {
                    "area_code": area,
                    "area_name": node.name,
                    "area_level": node.level,
                    "year": year,
                    **props,
                },
            }
        )
    (folder / "indicateurs.geojson").write_text(
        json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False),
        encoding="utf-8",
    )


def _write_reports(
    folder: Path,
    session: Session,
    settings: PublishSettings,
    snapshot: Snapshot,
    object_services: set[str],
) -> None:
    """Individual reports: object categories only, from published month cells only."""
    stmt = (
        sa.select(  # type: ignore[call-overload,misc]
            Report.created_at,
            Report.closed_at,
            Report.status,
            Report.area_code,
            Report.service_code,
            Report.service_hint,
            Report.lat,
            Report.lon,
            Report.description_public,
        )
        .where(col(Report.area_code).is_not(None))
        .where(col(Report.lat).is_not(None), col(Report.lon).is_not(None))
        .order_by(col(Report.created_at))
        .execution_options(yield_per=20_000)
    )
    grid = settings.grid
    with (
        (folder / "signalements.csv").open("w", newline="", encoding="utf-8") as csv_handle,
        (folder / "signalements.geojson").open("w", encoding="utf-8") as geo_handle,
    ):
        writer = csv.DictWriter(csv_handle, fieldnames=REPORT_FIELDS)
        writer.writeheader()
        geo_handle.write('{"type": "FeatureCollection", "features": [\n')
        first = True
        for created, closed, status, area, code, hint, lat, lon, text in session.execute(stmt):
            service = service_of(code, hint)
            if service not in object_services:
                continue  # categories about people: never report by report
            month = periods.month_of(created, settings.tz)
            if (month, area, service) not in snapshot.published_cells:
                continue  # a record from a hidden cell would let its count be recomputed
            record: dict[str, Any] = {
                "month": month,
                "service_code": service,
                "status": status,
                "days_to_fix": int((closed - created).total_seconds() // 86400)
                if closed is not None and status in ("fixed", "closed")
                else None,
                "lat": snap(lat, grid),
                "lon": snap(lon, grid),
            }
            if text:
                record["description"] = text
            # The GeoJSON keeps the text as it is: only spreadsheets run formulas.
            writer.writerow(spreadsheet_safe(record))
            props = {k: v for k, v in record.items() if k not in ("lat", "lon")}
            feature = {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [record["lon"], record["lat"]]},
                "properties": props,
            }
            geo_handle.write(("" if first else ",\n") + json.dumps(feature, ensure_ascii=False))
            first = False
        geo_handle.write("\n]}\n")
