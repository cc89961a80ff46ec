"""The period still under way, compared with the same days of the period before.

On 3 December, December's figures hold 3 days: set beside the whole of November they always
look like a fall. So each publication also counts, for the month, quarter and year under way,
the reports of the same length of time at the start of the previous period (1-3 November
before the same hour), per category and in all, city-wide and for every published area (its
quartiers and their parents): the pages compare with those.

They are published under the same rule as every figure (``suppression``): a count below the
threshold is hidden, and so is one whose complement (the rest of that previous period, the
published whole minus it) is below the threshold, or whose whole is hidden; then the
relations of the published tables (categories into "all categories", areas into their parent
and the city) are protected so that no hidden count can be worked out.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlmodel import Session, col

from backend.models import Report
from backend.services.catalogue import UNCLASSIFIED
from public_site import periods
from public_site.areas import CITY, Hierarchy
from public_site.indicators import ALL
from workers.publication.rollup import relations_for
from workers.publication.suppression import protect


def period_start(period: str, tz: str) -> datetime:
    """The UTC start of a month, quarter or year (local time)."""
    return periods.month_bounds(periods.months_of(period)[0], tz)[0]


def period_end(period: str, tz: str) -> datetime:
    """The UTC end (excluded) of a month, quarter or year (local time)."""
    return periods.month_bounds(periods.months_of(period)[-1], tz)[1]


def _counts(
    session: Session, start: datetime, end: datetime, hierarchy: Hierarchy
) -> dict[tuple[str, str], int]:
    """Reports by (area, category) between two instants, rolled up into parents and the city."""
    service = sa.func.coalesce(
        sa.func.nullif(col(Report.service_code), ""),
        sa.func.nullif(col(Report.service_hint), ""),
        UNCLASSIFIED,
    )
    stmt = (
        sa.select(col(Report.area_code), service, sa.func.count())
        .where(col(Report.area_code).is_not(None))
        .where(col(Report.created_at) >= start, col(Report.created_at) < end)
        .group_by(col(Report.area_code), service)
    )
    out: dict[tuple[str, str], int] = defaultdict(int)
    for area, code, n in session.execute(stmt):
        for key in hierarchy.chain(str(area)):
            out[(key, str(code))] += int(n)
    return dict(out)


def same_days(
    *,
    session: Session,
    now: datetime,
    tz: str,
    services: list[str],
    hierarchy: Hierarchy,
    hidden: set[Any],
    threshold: int,
) -> dict[str, dict[str, Any]]:
    """For each period under way at ``now``: its days so far and the previous period's counts
    over the same span, per category (None when hidden), JSON-ready: city-wide in ``counts``,
    per published area in ``areas`` (area -> category -> count; a missing one is a zero).

    ``hidden`` holds the published snapshot's hidden keys ``(period, area, service)``.
    """
    month = periods.month_of(now, tz)
    out: dict[str, dict[str, Any]] = {}
    for period in (month, periods.quarter_of(month), periods.year_of(month)):
        start = period_start(period, tz)
        elapsed = now - start
        prev = periods.previous(period)
        prev_start, prev_end = period_start(prev, tz), period_end(prev, tz)
        cut = min(prev_start + elapsed, prev_end)
        sofar = _counts(session, prev_start, cut, hierarchy)
        whole = _counts(session, prev_start, prev_end, hierarchy)
        codes = sorted(set(services) | {c for _a, c in sofar} | {c for _a, c in whole})
        areas = list(hierarchy.nodes) if CITY in hierarchy.nodes else [*hierarchy.nodes, CITY]
        values: dict[tuple[str, str, str], int] = {}
        for area in areas:
            for code in codes:
                values[(prev, area, code)] = sofar.get((area, code), 0)
            values[(prev, area, ALL)] = sum(sofar.get((area, c), 0) for c in codes)
            whole[(area, ALL)] = sum(whole.get((area, c), 0) for c in codes)
        # A count is hidden when it, or the rest of the previous period beside it, is small,
        # or when the whole it is part of is hidden: marked as a small count for ``protect``.
        marked = dict(values)
        for key, n in values.items():
            _p, area, code = key
            rest = whole.get((area, code), 0) - n
            # (A zero tells nothing about the rest: the whole is published, or hidden, as is.)
            if n > 0 and (0 < rest < threshold or key in hidden):
                marked[key] = min(n, threshold - 1)
        # The same relations as the published cells': categories into "all", areas into
        # their parent and the city.
        relations = relations_for(hierarchy, codes, [prev], with_time=False)
        result = protect(marked, relations, threshold)
        # (Keys (previous period, area, category) -> the count, or None when hidden.)
        published = {k: (None if k in result.hidden else n) for k, n in values.items()}

        local_now = now.astimezone(ZoneInfo(tz))
        days = (local_now.date() - start.astimezone(ZoneInfo(tz)).date()).days + 1
        out[period] = {
            "days": days,
            "previous": prev,
            "previous_until": cut.isoformat(),
            "as_of": now.isoformat(),
            "counts": {code: published[(prev, CITY, code)] for code in [*codes, ALL]},
            # Zeros left out: a quartier's page reads one area, the JSON stays small.
            "areas": {
                area: {
                    code: published[(prev, area, code)]
                    for code in [*codes, ALL]
                    if values[(prev, area, code)] != 0
                }
                for area in areas
                if area != CITY and values[(prev, area, ALL)] != 0
            },
        }
    return out
