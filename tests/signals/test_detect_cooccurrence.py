"""The co-occurrence detector through the database: street lights out and night accidents."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
from sqlmodel import Session, delete, select

from backend.models import Area, Incident, Report, Signal
from tests.signals.synthetic import AS_OF
from workers.signals.detect import DetectionSettings, detect_signals

ONLY_PAIRS = DetectionSettings(farrington=False, recurrence_threshold_days=10**9)


def _sites(session: Session, rng: np.random.Generator) -> list[tuple[float, float, datetime]]:
    """30 street-light reports at places across the city, each open 10 days."""
    areas = list(session.exec(select(Area).order_by(Area.code)))
    sites = []
    for i in range(30):
        area = areas[int(rng.integers(len(areas)))]
        opened = datetime(2025, 1, 1, 20, tzinfo=UTC) + timedelta(days=int(rng.integers(0, 60)))
        lat = area.centroid_lat + float(rng.normal(0, 0.001))
        lon = area.centroid_lon + float(rng.normal(0, 0.001))
        session.add(
            Report(
                tracking_id=f"light-{i}",
                description="lampadaire éteint",
                lat=lat,
                lon=lon,
                area_code=area.code,
                service_code="streetlight",
                status="fixed",
                created_at=opened,
                updated_at=opened,
                closed_at=opened + timedelta(days=10),
            )
        )
        sites.append((lat, lon, opened))
    session.commit()
    return sites


def _accidents(
    session: Session, sites: list[tuple[float, float, datetime]], *, while_open: bool
) -> None:
    for i, (lat, lon, opened) in enumerate(sites[:12]):
        # 22:00 UTC in winter: night in Marseille; 2-5 days after the report, or 40 days after
        when = opened + timedelta(days=2 + i % 4 if while_open else 40 + i % 4, hours=2)
        session.add(
            Incident(
                source="baac",
                external_id=f"acc-{i}",
                kind="accident",
                occurred_at=when,
                lat=lat + 0.0001,
                lon=lon,
                area_code=None,
                attributes={"lum": "4"},
            )
        )
    session.commit()


def test_night_accidents_near_open_reports_make_a_signal_and_elsewhen_do_not(
    session: Session, marseille_areas: int
) -> None:
    rng = np.random.default_rng(5)
    sites = _sites(session, rng)
    as_of = AS_OF
    _accidents(session, sites, while_open=True)
    summary = detect_signals(session=session, as_of=as_of, settings=ONLY_PAIRS)
    assert summary.pairs_tested == 1  # only the street-light pair has both sides
    found = session.exec(select(Signal).where(Signal.kind == "cooccurrence")).all()
    assert len(found) == 1
    s = found[0]
    assert s.service_code == "streetlight" and s.observed == 12
    assert 1 <= len(s.area_codes) <= 12  # the quartiers of the lights that were out
    assert s.statistic > 10 and s.p_value is not None and s.p_value < 1e-6
    assert s.details["pair"] == "streetlight_night_accidents"
    assert "accidents de la route de nuit à moins de 50" in s.explanation_fr
    assert "road accidents at night within 50 m" in s.explanation_en

    # the same places, but weeks after the lights were fixed: nothing to say
    session.exec(delete(Incident))  # type: ignore[call-overload]
    session.commit()
    _accidents(session, sites, while_open=False)
    again = detect_signals(session=session, as_of=as_of, settings=ONLY_PAIRS)
    assert again.removed == 1
    assert session.exec(select(Signal)).all() == []
