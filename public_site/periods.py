"""Periods of the published figures: months ``2026-11``, quarters ``2026-Q4``, years ``2026``.

Months are calendar months in the city's local time (a report at 23:30 on 31 December in
Marseille belongs to December, not to January as in UTC).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from babel.dates import format_date

MONTH_RE = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
QUARTER_RE = re.compile(r"^(\d{4})-Q([1-4])$")
YEAR_RE = re.compile(r"^(\d{4})$")


class BadPeriodError(ValueError):
    """A period string that is not ``YYYY-MM``, ``YYYY-Qn`` or ``YYYY``."""


def kind(period: str) -> str:
    """``month``, ``quarter`` or ``year``; raises BadPeriodError otherwise."""
    if MONTH_RE.match(period):
        return "month"
    if QUARTER_RE.match(period):
        return "quarter"
    if YEAR_RE.match(period):
        return "year"
    raise BadPeriodError(
        f"'{period[:40]}' is not a period: use YYYY-MM (a month), YYYY-Qn (a quarter) or YYYY"
    )


def month_of(moment: datetime, tz: str) -> str:
    """The local calendar month of an aware timestamp, as ``YYYY-MM``."""
    local = moment.astimezone(ZoneInfo(tz))
    return f"{local.year:04d}-{local.month:02d}"


def quarter_of(month: str) -> str:
    """The quarter holding a month."""
    year, mon = month.split("-")
    return f"{year}-Q{(int(mon) - 1) // 3 + 1}"


def year_of(period: str) -> str:
    """The year of any period."""
    return period[:4]


def months_of(period: str) -> list[str]:
    """The months a period is made of."""
    k = kind(period)
    if k == "month":
        return [period]
    year = int(period[:4])
    if k == "quarter":
        q = int(period[-1])
        return [f"{year:04d}-{m:02d}" for m in range(3 * q - 2, 3 * q + 1)]
    return [f"{year:04d}-{m:02d}" for m in range(1, 13)]


def quarters_of(year: str) -> list[str]:
    """The four quarters of a year."""
    return [f"{year}-Q{q}" for q in range(1, 5)]


def previous(period: str) -> str:
    """The period just before (same kind)."""
    k = kind(period)
    year = int(period[:4])
    if k == "month":
        mon = int(period[5:])
        return f"{year - 1:04d}-12" if mon == 1 else f"{year:04d}-{mon - 1:02d}"
    if k == "quarter":
        q = int(period[-1])
        return f"{year - 1:04d}-Q4" if q == 1 else f"{year:04d}-Q{q - 1}"
    return f"{year - 1:04d}"


def month_range(first: str, last: str) -> list[str]:
    """Every month from ``first`` to ``last`` included."""
    months = []
    year, mon = int(first[:4]), int(first[5:])
    end = (int(last[:4]), int(last[5:]))
    while (year, mon) <= end:
        months.append(f"{year:04d}-{mon:02d}")
        year, mon = (year + 1, 1) if mon == 12 else (year, mon + 1)
    return months


def month_bounds(month: str, tz: str) -> tuple[datetime, datetime]:
    """The UTC start (included) and end (excluded) of a local month."""
    zone = ZoneInfo(tz)
    year, mon = int(month[:4]), int(month[5:])
    start = datetime(year, mon, 1, tzinfo=zone)
    end = (
        datetime(year + 1, 1, 1, tzinfo=zone)
        if mon == 12
        else datetime(year, mon + 1, 1, tzinfo=zone)
    )
    return start.astimezone(UTC), end.astimezone(UTC)


def label(period: str, lang: str) -> str:
    """A human label: ``novembre 2026``, ``T4 2026`` / ``November 2026``, ``Q4 2026``."""
    k = kind(period)
    if k == "month":
        # Month names from the CLDR through Babel (already there for Flask-Babel).
        first = date(int(period[:4]), int(period[5:]), 1)
        return format_date(first, "MMMM y", locale="en" if lang == "en" else "fr")
    if k == "quarter":
        prefix = "Q" if lang == "en" else "T"
        return f"{prefix}{period[-1]} {period[:4]}"
    return period
