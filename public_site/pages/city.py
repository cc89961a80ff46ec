"""The city page (``/``): the map, the table behind it, headline figures, what changed."""

from __future__ import annotations

from typing import Any

from flask import current_app, render_template, request

from backend.extensions import db
from public_site import indicators as ind
from public_site import maps, periods
from public_site.areas import CITY
from public_site.indicators import ALL, NOW
from public_site.maps import MapArea, class_ranges, classes, fill_for, render_map
from public_site.site import (
    _,
    area_name,
    area_url_maker,
    bp,
    cached_page,
    choose_period,
    choose_service,
    fmt,
    lang,
    not_found,
    not_yet_published,
    period_options,
    service_names,
    stored_map,
)


@bp.route("/")
@cached_page
def index() -> str:
    """The city at a glance: the map, the table behind it, headline figures, what changed."""
    session = db.session
    cat = ind.catalogue(session)
    if not cat.published:
        return not_yet_published()
    period = choose_period(cat, request.args.get("periode"))
    service = choose_service(cat, request.args.get("categorie"))
    hierarchy = cat.hierarchy
    level = request.args.get("niveau") or hierarchy.finest_level
    if level not in {hierarchy.finest_level, hierarchy.parent_level}:
        not_found(_("There is no level of areas called “%(level)s”.", level=level[:40]))
    prev = periods.previous(period)
    table = ind.cells(session, period_list=[period, prev], services=[service])
    fine_codes = hierarchy.level_codes(hierarchy.finest_level)
    coarse_codes = hierarchy.level_codes(hierarchy.parent_level) if hierarchy.parent_level else []
    shown = fine_codes if level == hierarchy.finest_level else coarse_codes
    values = [ind.value(table, (period, c, service)) for c in fine_codes]
    bounds = classes([v for v in values if v])
    coarse_values = [ind.value(table, (period, c, service)) for c in coarse_codes]
    coarse_bounds = classes([v for v in coarse_values if v])
    names = service_names(cat)

    def areas_for(codes: list[str], layer_bounds: list[int]) -> list[MapArea]:
        out = []
        for code in codes:
            node = hierarchy.nodes[code]
            v = ind.value(table, (period, code, service))
            shown_value = fmt(v) if v is not None else _("not published")
            text = f"{area_name(node)} : {shown_value}"
            out.append(MapArea(node=node, value=v, text=text, bounds=layer_bounds))
        return out

    label = _(
        "Map of %(what)s by area, %(period)s. The same figures are in the table below.",
        what=names[service].lower(),
        period=periods.label(period, lang()),
    )
    spec = maps.city_map_spec(hierarchy, fine_first=level == hierarchy.finest_level)
    base = stored_map(cat, spec)
    # Each level gets its own classes (quartiers and arrondissements differ tenfold).
    rendered = (
        render_map(
            base,
            areas=areas_for(fine_codes, bounds) + areas_for(coarse_codes, coarse_bounds),
            bounds=bounds,
            label=label,
        )
        if base is not None
        else None
    )
    legend_bounds = bounds if level == hierarchy.finest_level else coarse_bounds
    legend_values = values if level == hierarchy.finest_level else coarse_values
    rows = []
    make_url = area_url_maker(period)
    # A period under way: each area beside the same days of the previous period.
    under_way = cat.partial(period) is not None
    for code in shown:
        node = hierarchy.nodes[code]
        v = ind.value(table, (period, code, service))
        p = (
            cat.same_days_count(period, code, service)
            if under_way
            else ind.value(table, (prev, code, service))
        )
        cell = table.get((period, code, service))
        rows.append(
            {
                "code": code,
                "name": area_name(node),
                "value": v,
                "previous": p,
                "rate": cell.rate_per_1000 if cell else (0.0 if node.population else None),
                "fill": fill_for(v, legend_bounds),
                "url": make_url(code),
            }
        )
    rows.sort(key=lambda r: r["name"])
    headline = _headline(session, cat, period)
    changes = _changes(session, cat, period)
    legend = _legend(legend_bounds, [v for v in legend_values if v])
    return render_template(
        "public/index.html",
        period=period,
        previous=prev,
        service=service,
        services=cat.services,
        service_names=names,
        level=level,
        levels=[lvl for lvl in (hierarchy.finest_level, hierarchy.parent_level) if lvl],
        rows=rows,
        map=rendered,
        map_label=label,
        headline=headline,
        changes=changes,
        legend=legend,
        partial=cat.partial(period),
        period_options=period_options(cat),
        # The column only where populations are loaded (``lanterne areas population``).
        show_rate=any(hierarchy.nodes[c].population for c in shown),
        threshold=current_app.config["MIN_PUBLISHED_COUNT"],
    )


def _legend(bounds: list[int], values: list[int]) -> list[dict[str, str]]:
    items = []
    for low, high in class_ranges(bounds, values):
        text = fmt(high) if low == high else f"{fmt(low)} – {fmt(high)}"
        items.append({"fill": fill_for(high, bounds), "label": text})
    items.append({"fill": fill_for(0, bounds), "label": _("none")})
    items.append({"fill": fill_for(None, bounds), "label": _("not published (small count)")})
    return items


def _headline(session: Any, cat: ind.Catalogue, period: str) -> dict[str, Any]:
    prev = periods.previous(period)
    table = ind.cells(session, period_list=[period, prev, NOW], areas=[CITY], services=[ALL])
    now = table.get((period, CITY, ALL))
    before = table.get((prev, CITY, ALL))
    backlog = table.get((NOW, CITY, ALL))
    partial = cat.partial(period)
    if partial is not None:
        # The period under way: compared with the same days of the previous one.
        same = partial["counts"].get(ALL, 0)
        return {
            "reports": now.reports if now else 0,
            "previous": same,
            "days": partial["days"],
            "fixed_pct": now.fixed_pct if now else None,
            "median_days": now.median_days if now else None,
            "satisfaction": now.satisfaction if now else None,
            "backlog": backlog.reports if backlog else 0,
            "rate": now.rate_per_1000 if now else None,
            "change": _change(now.reports if now else 0, same),
        }
    return {
        "reports": now.reports if now else 0,
        "previous": before.reports if before else 0,
        "days": None,
        "fixed_pct": now.fixed_pct if now else None,
        "median_days": now.median_days if now else None,
        "satisfaction": now.satisfaction if now else None,
        "backlog": backlog.reports if backlog else 0,
        "rate": now.rate_per_1000 if now else None,
        "change": _change(now.reports if now else 0, before.reports if before else 0),
    }


def _change(now: int | None, before: int | None) -> float | None:
    if now is None or before is None or before == 0:
        return None
    return round(100 * (now - before) / before)


def _changes(session: Any, cat: ind.Catalogue, period: str) -> list[dict[str, Any]]:
    """Categories that changed most at city level since the previous period (for a period
    under way, since the same days of the previous one)."""
    prev = periods.previous(period)
    table = ind.cells(session, period_list=[period, prev], areas=[CITY])
    names = service_names(cat)
    partial = cat.partial(period)
    out: list[dict[str, Any]] = []
    for service in cat.services:
        now = ind.value(table, (period, CITY, service.code))
        if partial is not None:
            before = partial["counts"].get(service.code, 0)
        else:
            before = ind.value(table, (prev, CITY, service.code))
        if now is None or before is None or now == before:
            continue
        out.append(
            {
                "name": names[service.code],
                "code": service.code,
                "now": now,
                "before": before,
                "diff": now - before,
                "pct": _change(now, before),
            }
        )
    out.sort(key=lambda r: -abs(r["diff"]))
    return out[:5]
