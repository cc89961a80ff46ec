"""The raw cells rolled up into every published cell, protected, and formatted (pure: no database).

Every figure the public can see comes from the rows built here (``published_cell``): the
month cells summed into quarters, years, parent areas, the city and "all services", small
counts hidden with their complements (``suppression``), ratios only over large enough bases.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from backend.models import AggregateCell
from public_site import periods
from public_site.areas import CITY, AreaNode, Hierarchy
from public_site.indicators import ALL, NOW
from workers.publication.cells import Figures
from workers.publication.suppression import Relation, protect


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
        fig = Figures.from_cell(cell)
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
