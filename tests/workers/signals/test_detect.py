"""The daily detection on a synthetic Marseille written to the database (scan and temporal
detectors), and the co-occurrence detector through the database: street lights out and night
accidents."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
from sqlmodel import Session, delete, select

from backend.models import Area, Incident, Report, Signal
from tests.workers.signals.synthetic import AS_OF, add_reports
from workers.signals.detect import detect_signals
from workers.signals.settings import DetectionSettings

FAST = DetectionSettings(cooccurrence=False)
ONLY_PAIRS = DetectionSettings(farrington=False, recurrence_threshold_days=10**9)


def _inject_cluster(session: Session, *, n: int, days: int, quartiers: list[str]) -> None:
    rows = []
    for i in range(n):
        day = AS_OF - timedelta(days=i % days)
        created = datetime(day.year, day.month, day.day, 21, 30, tzinfo=UTC) - timedelta(hours=2)
        rows.append(("streetlight", quartiers[i % len(quartiers)], created))
    add_reports(session, rows, prefix="cluster")


def _third_arrondissement(session: Session) -> list[str]:
    areas = session.exec(select(Area).where(Area.parent_code == "13203").order_by(Area.code))
    return [a.code for a in areas][:3]


def test_a_quiet_city_raises_no_signal_and_duplicates_make_no_cluster(
    session: Session, quiet_city: int
) -> None:
    summary = detect_signals(session=session, as_of=AS_OF, settings=FAST)
    assert summary.services_scanned == 2
    assert session.exec(select(Signal)).all() == []
    # 12 more street-light reports in 3 days and 3 quartiers, but all duplicates or rejected
    quartiers = _third_arrondissement(session)
    rows = []
    for i in range(12):
        day = AS_OF - timedelta(days=i % 3)
        created = datetime(day.year, day.month, day.day, 10, tzinfo=UTC)
        rows.append(("streetlight", quartiers[i % 3], created))
    add_reports(session, rows[:6], prefix="dup", status="duplicate")
    add_reports(session, rows[6:], prefix="rej", status="rejected")
    detect_signals(session=session, as_of=AS_OF, settings=FAST)
    assert session.exec(select(Signal)).all() == []


def test_an_injected_cluster_and_a_spike_are_found_explained_and_kept_on_rerun(
    session: Session, quiet_city: int
) -> None:
    quartiers = _third_arrondissement(session)
    _inject_cluster(session, n=12, days=3, quartiers=quartiers)
    # and, in graffiti, 9 reports in one quartier on the last day
    day = AS_OF
    spike = [
        ("graffiti", quartiers[0], datetime(day.year, day.month, day.day, 9 + i % 8, tzinfo=UTC))
        for i in range(9)
    ]
    add_reports(session, spike, prefix="spike")
    first = detect_signals(session=session, as_of=AS_OF, settings=FAST)
    assert first.created >= 2

    scans = session.exec(
        select(Signal).where(Signal.kind == "scan", Signal.service_code == "streetlight")
    ).all()
    assert len(scans) >= 1
    top = max(scans, key=lambda s: s.statistic)
    assert set(quartiers) <= set(top.area_codes)
    assert top.end == AS_OF and (AS_OF - top.start).days <= 7
    assert top.observed >= 12 and top.observed > 5 * top.expected
    assert top.recurrence_interval_days is not None and top.recurrence_interval_days >= 365
    assert top.status == "new" and top.as_of == AS_OF
    assert "signalements d'éclairage public en panne" in top.explanation_fr
    assert "3e" in top.explanation_fr and "\u202f; un tel regroupement" in top.explanation_fr
    assert "street-light outage reports" in top.explanation_en
    assert "3rd" in top.explanation_en

    temporal = session.exec(select(Signal).where(Signal.kind == "temporal")).all()
    assert [(s.service_code, s.area_codes) for s in temporal] == [("graffiti", [quartiers[0]])]
    t = temporal[0]
    assert t.start == t.end == AS_OF and t.observed >= 9 and "ears_c1" in t.method
    assert t.recurrence_interval_days is not None and t.recurrence_interval_days >= 365
    assert "le 12 mars 2025" in t.explanation_fr and "on 12 March 2025" in t.explanation_en
    assert "dans l'un des 111 quartiers" in t.explanation_fr
    # nothing else: no street-light spike, no graffiti signal elsewhere
    others = session.exec(select(Signal)).all()
    assert all(set(s.area_codes) & set(quartiers) for s in others)

    # an analyst confirms the cluster; the same day is detected again
    top.status = "confirmed"
    session.add(top)
    session.commit()
    again = detect_signals(session=session, as_of=AS_OF, settings=FAST)
    assert again.created == 0 and again.updated == first.created and again.removed == 0
    after = session.exec(select(Signal)).all()
    assert len(after) == first.created
    assert {s.id: s.status for s in after}[top.id] == "confirmed"


def test_a_cluster_that_goes_on_is_linked_and_keeps_the_analysts_verdict(
    session: Session, quiet_city: int
) -> None:
    quartiers = _third_arrondissement(session)
    _inject_cluster(session, n=15, days=3, quartiers=quartiers)  # the 3 days up to AS_OF
    yesterday = AS_OF - timedelta(days=1)
    detect_signals(session=session, as_of=yesterday, settings=FAST)
    streetlight = select(Signal).where(Signal.kind == "scan", Signal.service_code == "streetlight")
    first = max(session.exec(streetlight).all(), key=lambda s: s.statistic)
    assert first.as_of == yesterday and set(first.area_codes) & set(quartiers)
    first.status = "dismissed"  # an analyst looked: road works, nothing to do
    session.add(first)
    session.commit()

    detect_signals(session=session, as_of=AS_OF, settings=FAST)
    today = [s for s in session.exec(streetlight).all() if s.as_of == AS_OF]
    goes_on = max(today, key=lambda s: s.statistic)
    assert goes_on.details["continues"] == first.id
    assert goes_on.status == "dismissed"  # not back as "new" every day
    assert f"Suite du signal n° {first.id}" in goes_on.explanation_fr
    assert f"Continues signal #{first.id}" in goes_on.explanation_en
    # A new cluster elsewhere, unrelated to the dismissed one, starts as "new".
    assert all(s.status == "new" for s in today if "continues" not in s.details)


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
