"""The period still under way, compared with the same days of the period before.

On 3 December, December's figures hold 3 days: set beside the whole of November they always
look like a fall. So each publication also counts, for the month, quarter and year under way,
the reports of the same length of time at the start of the previous period (1-3 November
before the same hour), city-wide per category and in all: the pages compare with those.

They are published under the same rule as every figure (``suppression``): a count below the
threshold is hidden, and so is one whose complement (the rest of that previous period, the
published whole minus it) is below the threshold, or whose whole is hidden; then the
categories' relation to "all categories" is protected so that no hidden one can be worked out.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlmodel import Session, col

from backend.models import Report
from backend.services.catalogue import UNCLASSIFIED
from public_site import periods
from public_site.areas import CITY
from public_site.indicators import ALL
from workers.publication.suppression import Relation, protect


def period_start(period: str, tz: str) -> datetime:
    """The UTC start of a month, quarter or year (local time)."""
    return periods.month_bounds(periods.months_of(period)[0], tz)[0]


def period_end(period: str, tz: str) -> datetime:
    """The UTC end (excluded) of a month, quarter or year (local time)."""
    return periods.month_bounds(periods.months_of(period)[-1], tz)[1]


def _counts(session: Session, start: datetime, end: datetime) -> dict[str, int]:
    service = sa.func.coalesce(
        sa.func.nullif(col(Report.service_code), ""),
        sa.func.nullif(col(Report.service_hint), ""),
        UNCLASSIFIED,
    )
    stmt = (
        sa.select(service, sa.func.count())
        .where(col(Report.area_code).is_not(None))
        .where(col(Report.created_at) >= start, col(Report.created_at) < end)
        .group_by(service)
    )
    return {str(code): int(n) for code, n in session.execute(stmt)}


def same_days(
    *,
    session: Session,
    now: datetime,
    tz: str,
    services: list[str],
    hidden: set[Any],
    threshold: int,
) -> dict[str, dict[str, Any]]:
    """For each period under way at ``now``: its days so far and the previous period's counts
    over the same span, per category (None when hidden), JSON-ready.

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
        sofar = _counts(session, prev_start, cut)
        whole = _counts(session, prev_start, prev_end)
        codes = sorted(set(services) | set(sofar) | set(whole))
        values: dict[str, int] = {code: sofar.get(code, 0) for code in codes}
        values[ALL] = sum(values.values())
        whole[ALL] = sum(whole.get(code, 0) for code in codes)
        # A count is hidden when it, or the rest of the previous period beside it, is small,
        # or when the whole it is part of is hidden: marked as a small count for ``protect``.
        marked = dict(values)
        for code, n in values.items():
            rest = whole.get(code, 0) - n
            # (A zero tells nothing about the rest: the whole is published, or hidden, as is.)
            if n > 0 and (0 < rest < threshold or (prev, CITY, code) in hidden):
                marked[code] = min(n, threshold - 1)
        result = protect(marked, [Relation(ALL, tuple(codes))], threshold)
        shown = result.primary | result.complementary
        local_now = now.astimezone(ZoneInfo(tz))
        days = (local_now.date() - start.astimezone(ZoneInfo(tz)).date()).days + 1
        out[period] = {
            "days": days,
            "previous": prev,
            "previous_until": cut.isoformat(),
            "as_of": now.isoformat(),
            "counts": {code: (None if code in shown else n) for code, n in values.items()},
        }
    return out
