"""A neighbourhood's page (``/quartiers/<code>``): categories against the city, trend, map."""

from __future__ import annotations

from typing import Any

from flask import current_app, render_template, request

from backend.extensions import db
from public_site import indicators as ind
from public_site import maps, periods
from public_site.areas import CITY
from public_site.indicators import ALL, NOW
from public_site.maps import MapArea, render_map
from public_site.site import (
    _,
    area_name,
    bp,
    cached_page,
    choose_period,
    level_name,
    not_found,
    not_yet_published,
    period_options,
    service_names,
    stored_map,
)


@bp.route("/quartiers/<path:code>")
@cached_page
def area(code: str) -> str:
    """A neighbourhood: categories against the city and the previous period, trend, map."""
    session = db.session
    cat = ind.catalogue(session)
    if not cat.published:
        return not_yet_published()
    try:
        node = cat.area(code)
    except ind.UnknownAreaError:
        node = None
    if node is None or code == CITY:
        not_found(
            _(
                "There is no neighbourhood with the code “%(code)s”. Pick one on the city page.",
                code=code[:40],
            )
        )
    assert node is not None
    period = choose_period(cat, request.args.get("periode"))
    month = period if periods.kind(period) == "month" else periods.months_of(period)[-1]
    month = min(month, cat.last_month)
    quarter, year = periods.quarter_of(month), periods.year_of(month)
    column_periods = [
        month,
        periods.previous(month),
        quarter,
        periods.previous(quarter),
        year,
        periods.previous(year),
    ]
    trend_months = periods.month_range(max(cat.first_month, _months_back(month, 11)), month)
    table = ind.cells(
        session,
        period_list=[*column_periods, NOW, *trend_months],
        areas=[code, CITY],
    )
    names = service_names(cat)
    # A period under way (the month, its quarter, its year) is compared with the same days of
    # the period before it, as on the city page: that column holds the same-days count.
    under_way = {p: cat.partial(p) for p in (month, quarter, year)}

    def compared(index: int, service: str) -> int | None:
        p = column_periods[index]
        if index % 2 == 1 and under_way[column_periods[index - 1]] is not None:
            return cat.same_days_count(column_periods[index - 1], code, service)
        return ind.value(table, (p, code, service))

    rows = []
    for service in [*[s.code for s in cat.services], ALL]:
        year_cell = table.get((year, code, service))
        row: dict[str, Any] = {
            "code": service,
            "name": names[service],
            "values": [compared(i, service) for i in range(len(column_periods))],
            "city": [ind.value(table, (p, CITY, service)) for p in (month, quarter, year)],
            "fixed_pct": year_cell.fixed_pct if year_cell is not None else None,
            "median_days": year_cell.median_days if year_cell is not None else None,
            "backlog": ind.value(table, (NOW, code, service)),
            "about_people": service != ALL and cat.service(service).about_people,
        }
        if service == ALL or any(v != 0 for v in row["values"]) or row["backlog"] != 0:
            rows.append(row)
    total = table.get((year, code, ALL))
    trend = [(m, ind.value(table, (m, code, ALL))) for m in trend_months]
    peak = max([v for _m, v in trend if v] or [1])
    map_area = MapArea(node=node, value=ind.value(table, (month, code, ALL)), text=area_name(node))
    base = stored_map(cat, maps.area_map_spec(node, cat.hierarchy))
    rendered = (
        render_map(
            base,
            areas=[map_area],
            bounds=[max(1, map_area.value or 1)],
            label=_("Map of %(name)s", name=area_name(node)),
        )
        if base is not None
        else None
    )
    parent = cat.hierarchy.nodes.get(node.parent) if node.parent else None
    return render_template(
        "public/area.html",
        node=node,
        # The periods under way (days so far), each compared with the same days before.
        partial=under_way[month],
        under_way=[under_way[month], under_way[quarter], under_way[year]],
        name=area_name(node),
        parent=parent,
        parent_name=area_name(parent) if parent else None,
        period=month,
        columns=column_periods,
        rows=rows,
        total=total,
        trend=trend,
        peak=peak,
        map=rendered,
        period_options=[o for o in period_options(cat) if periods.kind(o[0]) == "month"],
        level_name=level_name(node.level),
        threshold=current_app.config["MIN_PUBLISHED_COUNT"],
    )


def _months_back(month: str, n: int) -> str:
    for _i in range(n):
        month = periods.previous(month)
    return month
