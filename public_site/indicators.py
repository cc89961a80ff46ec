"""Reading the published snapshot: the only data source of the pages and of the indicators API."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from backend.models import AggregateState, Area, PublishedCell, Service
from backend.services.catalogue import UnknownServiceError
from public_site import periods
from public_site.areas import CITY, AreaNode, Hierarchy, build_hierarchy

# The keys of published cells besides periods, areas and services (``published_cell``).
ALL = "*"  # every service
NOW = "now"  # the open backlog's period


class UnknownAreaError(LookupError):
    """An area code that is not published."""


class UnknownPeriodError(LookupError):
    """A period outside the published range (or malformed)."""


@dataclass(frozen=True)
class Catalogue:
    """The published areas and services, cached per snapshot version."""

    version: int
    serial: int
    hierarchy: Hierarchy
    services: list[Service]
    first_month: str
    last_month: str
    # False until the first publication: there are no figures, and no period, to show yet.
    published: bool = True
    # The periods under way at the publication: days so far, and the previous period's
    # counts over the same days (``workers.publication.partial``), by period.
    same_days: dict[str, Any] = field(default_factory=dict)

    def service(self, code: str) -> Service:
        """A service of the catalogue, or UnknownServiceError."""
        for service in self.services:
            if service.code == code:
                return service
        raise UnknownServiceError(code)

    def area(self, code: str) -> AreaNode:
        """A published area, or UnknownAreaError."""
        node = self.hierarchy.nodes.get(code)
        if node is None:
            raise UnknownAreaError(code)
        return node

    def partial(self, period: str) -> dict[str, Any] | None:
        """The period's days so far and the same days before, when it was under way."""
        info = self.same_days.get(period)
        return dict(info) if isinstance(info, dict) else None

    def same_days_count(self, period: str, area: str, service: str) -> int | None:
        """The previous period's count over the same days as ``period`` so far, for one area
        and category (None when hidden); 0 when ``period`` is not under way or has no reports.
        """
        info = self.partial(period)
        if info is None:
            return 0
        if area == CITY:
            return info["counts"].get(service, 0)  # type: ignore[no-any-return]
        if "areas" not in info:  # published before the areas' counts were: not known
            return None
        return info["areas"].get(area, {}).get(service, 0)  # type: ignore[no-any-return]

    def check_period(self, period: str) -> str:
        """The period if it is well formed and published, else UnknownPeriodError."""
        try:
            periods.kind(period)
        except periods.BadPeriodError as exc:
            raise UnknownPeriodError(str(exc)) from exc
        months = periods.months_of(period)
        if months[-1] < self.first_month or months[0] > self.last_month:
            raise UnknownPeriodError(
                f"no figures for {period}: published from {self.first_month} to {self.last_month}"
            )
        return period


_CACHE: dict[str, tuple[float, Catalogue]] = {}
_LOCK = threading.Lock()
CHECK_SECONDS = 5.0


def catalogue(session: Session) -> Catalogue:
    """The published catalogue (areas, services, range), rebuilt when a publication happens."""
    key = str(session.get_bind().engine.url)
    now = time.monotonic()
    cached = _CACHE.get(key)
    if cached is not None and now - cached[0] < CHECK_SECONDS:
        return cached[1]
    state = session.get(AggregateState, 1)
    version = state.published_version if state and state.published_at else -1
    stamp = state.published_at.timestamp() if state and state.published_at else 0.0
    if cached is not None and cached[1].version == version and _STAMPS.get(key) == stamp:
        with _LOCK:
            _CACHE[key] = (now, cached[1])
        return cached[1]
    details = (state.details if state else {}) or {}
    areas = list(session.exec(select(Area)))
    codes = set(
        session.exec(select(PublishedCell.area_code).where(PublishedCell.period == NOW).distinct())
    )
    hierarchy = build_hierarchy(areas, codes)
    services = list(session.exec(select(Service).order_by(col(Service.sort_order))))
    this_month = details.get("last_month") or "1970-01"
    global _SERIAL
    _SERIAL += 1
    result = Catalogue(
        version=version,
        serial=_SERIAL,
        hierarchy=hierarchy,
        services=services,
        first_month=details.get("first_month") or this_month,
        last_month=this_month,
        published=version != -1 and bool(details.get("last_month")),
        same_days=dict(details.get("same_days") or {}),
    )
    with _LOCK:
        _CACHE[key] = (now, result)
        _STAMPS[key] = stamp
    return result


_STAMPS: dict[str, float] = {}
_SERIAL = 0


def invalidate() -> None:
    """Forget the cached catalogue (tests, after a publication in this process)."""
    with _LOCK:
        _CACHE.clear()
        _STAMPS.clear()


def cells(
    session: Session,
    *,
    period_list: list[str],
    areas: list[str] | None = None,
    services: list[str] | None = None,
    level: str | None = None,
) -> dict[tuple[str, str, str], Any]:
    """Published cells by (period, area, service); a missing key is a published zero."""
    table = PublishedCell.__table__  # type: ignore[attr-defined]
    stmt = sa.select(table).where(table.c.period.in_(period_list))
    if areas is not None:
        stmt = stmt.where(table.c.area_code.in_(areas))
    if services is not None:
        stmt = stmt.where(table.c.service_code.in_(services))
    if level is not None:
        stmt = stmt.where(table.c.area_level == level)
    # Plain rows, not ORM objects: a page reads hundreds of cells and must answer in ms.
    return {(r.period, r.area_code, r.service_code): r for r in session.execute(stmt)}


def value(table: dict[tuple[str, str, str], Any], key: tuple[str, str, str]) -> int | None:
    """The published count of a cell (None when hidden, 0 when absent)."""
    cell = table.get(key)
    if cell is None:
        return 0
    return cell.reports


def as_dict(
    cell: Any, key: tuple[str, str, str], *, population: int | None = None
) -> dict[str, Any]:
    """A published cell as JSON-ready data (zeros filled in).

    An absent cell is a published zero: its rate per 1,000 residents is 0.0 where the area's
    population is loaded, and None (not known, not zero) where it is not.
    """
    period, area, service = key
    if cell is None:
        return {
            "period": period,
            "area": area,
            "service_code": service,
            "reports": 0,
            "suppressed": False,
            "fixed_pct": None,
            "median_days": None,
            "satisfaction": None,
            "confirmed_pct": None,
            "rate_per_1000": 0.0 if population else None,
        }
    return {
        "period": period,
        "area": area,
        "service_code": service,
        "reports": cell.reports,
        "suppressed": cell.suppressed,
        "fixed_pct": cell.fixed_pct,
        "median_days": cell.median_days,
        "satisfaction": cell.satisfaction,
        "confirmed_pct": cell.confirmed_pct,
        "rate_per_1000": cell.rate_per_1000,
    }


__all__ = ["ALL", "CITY", "NOW", "Catalogue", "as_dict", "catalogue", "cells", "value"]
