"""A synthetic city's reports, written straight to the database."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta

import numpy as np
from sqlmodel import Session, select

from backend.models import Area, Report

AS_OF = date(2025, 3, 12)


def add_reports(
    session: Session,
    rows: Iterable[tuple[str, str, datetime]],
    *,
    prefix: str,
    status: str = "open",
) -> int:
    """Insert reports (service, area, created_at) with positions at their area's centroid."""
    centroids = {a.code: (a.centroid_lat, a.centroid_lon) for a in session.exec(select(Area))}
    n = 0
    for service, area, created in rows:
        lat, lon = centroids.get(area, (None, None))
        session.add(
            Report(
                tracking_id=f"{prefix}-{n}",
                description="synthetic",
                lat=lat,
                lon=lon,
                area_code=area,
                service_code=service,
                status=status,
                created_at=created,
                updated_at=created,
            )
        )
        n += 1
    session.commit()
    return n


def background(
    session: Session,
    *,
    services: tuple[str, ...],
    per_year: int,
    days: int,
    as_of: date,
    seed: int,
) -> list[tuple[str, str, datetime]]:
    """A quiet city: reports spread over the quartiers (uneven adoption) and the days
    (weekly rhythm), independently, so there is no space-time interaction to find."""
    rng = np.random.default_rng(seed)
    codes = sorted(a.code for a in session.exec(select(Area)))
    adoption = rng.gamma(2.0, 0.5, size=len(codes))
    weekly = np.array([1.2, 1.1, 1.0, 1.0, 1.1, 0.7, 0.6])
    first = as_of - timedelta(days=days - 1)
    day_w = weekly[[(first + timedelta(days=d)).weekday() for d in range(days)]]
    rows: list[tuple[str, str, datetime]] = []
    for service in services:
        n = rng.poisson(per_year * days / 365)
        areas = rng.choice(len(codes), size=n, p=adoption / adoption.sum())
        day_idx = rng.choice(days, size=n, p=day_w / day_w.sum())
        hours = rng.integers(7, 20, size=n)  # daytime, so the local day is the UTC day too
        for a, d, h in zip(areas, day_idx, hours, strict=True):
            day = first + timedelta(days=int(d))
            rows.append(
                (service, codes[a], datetime(day.year, day.month, day.day, int(h), tzinfo=UTC))
            )
    return rows
