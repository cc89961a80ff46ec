"""Fixtures of the public site's tests: reports made in place, and a publication on demand."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlmodel import Session

from backend.db import utcnow
from backend.models import Report, ReportUpdate
from backend.services.reports import new_tracking_id


@pytest.fixture
def publish(app: Flask, tmp_path: Path) -> Callable[[], dict[str, Any]]:
    """Rebuild the aggregates from the reports and publish them, as the nightly job does."""
    app.config["PUBLIC_DATA_PATH"] = str(tmp_path / "public_data")

    def _publish() -> dict[str, Any]:
        from public_site import indicators
        from public_site.site import clear_page_cache
        from workers.jobs import rebuild_aggregates

        result = rebuild_aggregates()
        indicators.invalidate()
        clear_page_cache()
        return result

    return _publish


def month_start(months_ago: int) -> datetime:
    """The first day (noon UTC) of a month counted back from the current one."""
    now = utcnow()
    year, month = now.year, now.month - months_ago
    while month <= 0:
        year, month = year - 1, month + 12
    return datetime(year, month, 1, 12, tzinfo=now.tzinfo)


def add_report(
    session: Session,
    *,
    area: str,
    service: str,
    created: datetime,
    status: str = "open",
    days_to_fix: float | None = None,
    lat: float = 43.3,
    lon: float = 5.38,
    description: str = "Lampadaire éteint",
    description_public: str | None = None,
    address: str | None = None,
    history: bool = True,
) -> Report:
    """Store a report as the pipeline would have left it (classified, located, scrubbed).

    Without ``history`` nothing is flushed (fast, for large data sets; no status history).
    """
    closed = created + timedelta(days=days_to_fix) if days_to_fix is not None else None
    report = Report(
        tracking_id=new_tracking_id(),
        description=description,
        description_public=description_public,
        lat=lat,
        lon=lon,
        address=address,
        area_code=area,
        service_code=service,
        status=status,
        created_at=created,
        updated_at=closed or created,
        closed_at=closed,
    )
    session.add(report)
    if not history:
        return report
    session.flush()
    assert report.id is not None
    session.add(ReportUpdate(report_id=report.id, status="received", created_at=created))
    if status != "received":
        session.add(ReportUpdate(report_id=report.id, status=status, created_at=closed or created))
    return report


def json_of(response: Any) -> dict[str, Any]:
    """A test response's JSON object (typed)."""
    data = response.get_json()
    assert isinstance(data, dict), data
    return data


@pytest.fixture
def artifacts() -> Path:
    """``test-artifacts/`` at the project's root (gitignored), for screenshots."""
    path = Path(__file__).resolve().parents[2] / "test-artifacts" / "public_site"
    path.mkdir(parents=True, exist_ok=True)
    return path
