"""Reports, incidents and staff tokens for the triage tests (real rows, real linking)."""

from __future__ import annotations

import math
import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session

from backend.db import utcnow
from backend.models import Incident, Report, ReportStatus, ReportUpdate, StaffUser
from backend.services.staff import create_staff, issue_token
from workers import linking

# A crossing near the rue de Rome (as in tests/workers/test_linking.py).
LAT, LON = 43.28898, 5.38196
TOP = [
    {"service_code": "traffic_signal", "confidence": 0.4},
    {"service_code": "streetlight", "confidence": 0.3},
    {"service_code": "road_sign", "confidence": 0.2},
    {"service_code": "other", "confidence": 0.1},
]


def north(metres: float) -> float:
    """The latitude ``metres`` north of the crossing."""
    return LAT + metres / (6_371_008.8 * math.pi / 180)


def make_report(
    session: Session,
    *,
    code: str = "traffic_signal",
    created: datetime | None = None,
    confidence: float | None = 0.4,
    needs_triage: bool = True,
    status: str = ReportStatus.OPEN,
    description: str = "Le feu du carrefour clignote orange depuis ce matin",
    area_code: str | None = "1320601",
    lat: float = LAT,
    hint: str | None = None,
) -> Report:
    """A classified report with its history (received, then the worker's open)."""
    created = created or utcnow() - timedelta(days=2)
    report = Report(
        tracking_id=f"t-{uuid.uuid4().hex}",
        description=description,
        description_public=description,
        lat=lat,
        lon=LON,
        address="Rue de Rome",
        area_code=area_code,
        service_code=code,
        service_hint=hint,
        status=status,
        predicted_code=code,
        confidence=confidence,
        top_predictions=TOP,
        model_version="fr_lanterne_textcat-0.1.0",
        language="fr",
        needs_triage=needs_triage,
        created_at=created,
        updated_at=created,
    )
    session.add(report)
    session.commit()
    assert report.id is not None
    session.add(ReportUpdate(report_id=report.id, status="received", created_at=created))
    if status != ReportStatus.RECEIVED:
        session.add(ReportUpdate(report_id=report.id, status=status, created_at=created))
    session.commit()
    return report


def make_accident(
    session: Session, n: int, *, when: datetime, lat: float | None = None, **attrs: Any
) -> Incident:
    """A road accident (BAAC) at the crossing, 30 m north unless told."""
    incident = Incident(
        source="baac",
        external_id=f"2024{n:06d}",
        kind="road_accident",
        occurred_at=when,
        lat=north(30) if lat is None else lat,
        lon=LON,
        attributes=dict(attrs),
    )
    session.add(incident)
    session.commit()
    return incident


def link(session: Session, *reports: Report) -> None:
    """Run the real linking of the workers for these reports."""
    for report in reports:
        assert report.id is not None
        linking.link_report(session, report.id)
    session.commit()


def token_for(session: Session, email: str, role: str, **scope: Any) -> dict[str, str]:
    """The Authorization header of a new account's token."""
    staff: StaffUser = create_staff(session=session, email=email, role=role, password=None, **scope)
    return {"Authorization": f"Bearer {issue_token(session=session, staff=staff)}"}
