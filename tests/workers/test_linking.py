"""Linking reports with official incidents: rules, spatial matching, jobs, staff view, priority."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask
from sqlmodel import Session, col, select

from backend.db import utcnow
from backend.models import Incident, Report, ReportIncidentLink, ReportStatus
from workers import linking
from workers.linking import IncidentPoint, LinkingRulesError, ReportPoint, find_links, load_rules

# A crossing near the rue de Rome.
LAT, LON = 43.28898, 5.38196
T0 = datetime(2024, 3, 4, 17, 0, tzinfo=UTC)


def north(metres: float) -> float:
    """The latitude ``metres`` north of the crossing."""
    return LAT + metres / (6_371_008.8 * math.pi / 180)


def east(metres: float) -> float:
    """The longitude ``metres`` east of the crossing."""
    return LON + metres / (6_371_008.8 * math.pi / 180 * math.cos(math.radians(LAT)))


def accident(n: int, lat: float, lon: float, when: datetime, **attrs: object) -> IncidentPoint:
    """A road accident for the pure matcher."""
    return IncidentPoint(
        n,
        "road_accident",
        lat,
        lon,
        when,
        night=attrs.get("night"),  # type: ignore[arg-type]
        attributes=dict(attrs),
    )


def test_a_traffic_signal_report_links_the_accident_30m_away_next_day_only() -> None:
    report = ReportPoint(1, "traffic_signal", LAT, LON, T0)
    incidents = [
        accident(10, north(30), LON, T0 + timedelta(days=1)),  # linked
        accident(11, north(500), LON, T0 + timedelta(days=1)),  # too far
        accident(12, north(30), LON, T0 + timedelta(days=10)),  # too late
        accident(13, LAT, east(20), T0 - timedelta(hours=2)),  # before the report
    ]
    [link] = find_links([report], incidents, load_rules())
    assert (link.report_id, link.incident_id) == (1, 10)
    assert link.distance_m == pytest.approx(30, abs=0.2)
    assert link.lag_hours == 24.0 and link.rule == "traffic_signal-road_accident"


def test_streetlight_links_night_accidents_while_the_report_is_open() -> None:
    report = ReportPoint(2, "streetlight", LAT, LON, T0, open_until=T0 + timedelta(days=5))
    incidents = [
        accident(20, LAT, east(80), T0 + timedelta(days=2), night=True, lum=5),  # linked
        accident(21, LAT, east(80), T0 + timedelta(days=2, hours=-8), night=False, lum=1),
        accident(22, LAT, east(80), T0 + timedelta(days=6), night=True, lum=4),  # fixed by then
        accident(23, LAT, east(150), T0 + timedelta(days=1), night=True, lum=3),  # 150 m
    ]
    links = find_links([report], incidents, load_rules())
    assert [link.incident_id for link in links] == [20]


def test_night_from_the_sun_when_the_source_has_no_lighting_field() -> None:
    # 4 March in Marseille: dark at 21:00 local (20:00 UTC), light at 13:00 local.
    assert linking.incident_night({}, datetime(2024, 3, 4, 20, 0, tzinfo=UTC), LAT, LON)
    assert not linking.incident_night({}, datetime(2024, 3, 4, 12, 0, tzinfo=UTC), LAT, LON)
    assert linking.incident_night({"lum": 4}, datetime(2024, 3, 4, 12, 0, tzinfo=UTC), LAT, LON)


def test_kind_globs_and_windows_around_the_report() -> None:
    report = ReportPoint(3, "public_order", LAT, LON, T0)
    logbook = [
        IncidentPoint(30, "main_courante:rixe", north(150), LON, T0 - timedelta(hours=30)),
        IncidentPoint(31, "main_courante:tapage", north(150), LON, T0 + timedelta(hours=50)),
        IncidentPoint(32, "transport:agression", north(10), LON, T0),
    ]
    links = find_links([report], logbook, load_rules())
    assert [(link.incident_id, link.lag_hours) for link in links] == [(30, -30.0)]


def test_many_reports_and_incidents_match_like_a_brute_force_check() -> None:
    import numpy as np

    rng = np.random.default_rng(7)
    reports = [
        ReportPoint(i, "traffic_signal", north(y), east(x), T0 + timedelta(hours=float(h)))
        for i, (x, y, h) in enumerate(rng.uniform([0, 0, 0], [3000, 3000, 720], (400, 3)))
    ]
    incidents = [
        accident(1000 + i, north(y), east(x), T0 + timedelta(hours=float(h)))
        for i, (x, y, h) in enumerate(rng.uniform([0, 0, 0], [3000, 3000, 720], (600, 3)))
    ]
    got = {
        (link.report_id, link.incident_id) for link in find_links(reports, incidents, load_rules())
    }
    expected = set()
    for r in reports:
        for i in incidents:
            d = linking.haversine_m(r.lat, r.lon, i.lat, i.lon)
            lag = (i.occurred_at - r.created_at).total_seconds() / 3600
            if d <= 50 and 0 <= lag <= 72:
                expected.add((r.id, i.id))
    assert got == expected and len(expected) > 0


def test_rules_come_from_the_environment_and_bad_files_are_explained(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text(
        '[[rule]]\nname = "wide"\nservice = "traffic_signal"\nkind = "road_accident"\n'
        "max_distance_m = 1000\nmin_lag_hours = 0\nmax_lag_hours = 48\nweight = 2\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("LANTERNE_LINKING_RULES", str(rules))
    report = ReportPoint(1, "traffic_signal", LAT, LON, T0)
    far = accident(11, north(500), LON, T0 + timedelta(days=1))
    assert [link.rule for link in find_links([report], [far], load_rules())] == ["wide"]

    rules.write_text('[[rule]]\nname = "x"\nservice = "a"\nkind = "b"\nradius = 3\n')
    with pytest.raises(LinkingRulesError, match=r"rule 'x': unknown keys \['radius'\]"):
        load_rules()


# --- with the database --------------------------------------------------------------------


def _report(session: Session, code: str, created: datetime) -> Report:
    report = Report(
        tracking_id=f"t-{code}-{created.timestamp()}",
        description="Feu tricolore éteint au carrefour",
        lat=LAT,
        lon=LON,
        service_code=code,
        status=ReportStatus.OPEN,
        created_at=created,
        updated_at=created,
    )
    session.add(report)
    session.commit()
    return report


def _incident(session: Session, n: int, lat: float, when: datetime, **attrs: object) -> Incident:
    incident = Incident(
        source="baac",
        external_id=f"2024000{n}",
        kind="road_accident",
        occurred_at=when,
        lat=lat,
        lon=LON,
        attributes=dict(attrs),
    )
    session.add(incident)
    session.commit()
    return incident


def test_the_report_job_stores_links_once_and_staff_see_them_with_a_priority_boost(
    app: Flask, session: Session
) -> None:
    from workers.jobs import link_report

    report = _report(session, "traffic_signal", T0)
    near = _incident(
        session,
        1,
        north(30),
        T0 + timedelta(days=1),
        severity="hospitalised",
        lum=1,
        lum_label="plein jour",
    )
    _incident(session, 2, north(500), T0 + timedelta(days=1))
    _incident(session, 3, north(30), T0 + timedelta(days=10))
    assert report.id is not None

    assert link_report(report.id) == {"report_id": report.id, "links": 1}
    assert link_report(report.id)["links"] == 1  # recomputed, not duplicated
    [stored] = session.exec(select(ReportIncidentLink)).all()
    assert stored.incident_id == near.id and stored.distance_m == pytest.approx(30, abs=0.2)

    [shown] = linking.link_summary(session, report.id)
    assert shown["incident_id"] == near.id and shown["lag_hours"] == 24.0
    assert shown["rule_label"].startswith("Accident près d'un feu signalé en panne")
    assert shown["details"] == {"severity": "hospitalised", "lum_label": "plein jour"}
    assert linking.link_summary(session, report.id, lang="en")[0]["rule_label"].startswith(
        "Accident near a reported traffic-signal fault"
    )
    # weight 1 x hospitalised 2
    assert linking.priority_boost(session, report.id) == pytest.approx(2.0)
    other = _report(session, "graffiti", T0)
    assert other.id is not None and linking.priority_boost(session, other.id) == 0.0


def test_incidents_imported_after_the_report_are_linked_by_the_queued_job(
    app: Flask, session: Session, tmp_path: Path, run_jobs: Callable[[], int]
) -> None:
    from backend.cli import main

    report = _report(session, "streetlight", utcnow() - timedelta(days=20))
    data = tmp_path / "accidents.csv"
    night = (utcnow() - timedelta(days=3)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")
    data.write_text(
        f"id,quand,lat,lon,lum\nA1,{night},{north(60)},{LON},5\nA2,{night},{north(60)},{LON},1\n",
        encoding="utf-8",
    )
    mapping = tmp_path / "m.toml"
    mapping.write_text(
        '[occurred_at]\ndate = "quand"\nformats = ["iso"]\n[position]\nlat = "lat"\n'
        'lon = "lon"\n[kind]\nvalue = "road_accident"\n[external_id]\ncolumn = "id"\n',
        encoding="utf-8",
    )
    result = app.test_cli_runner().invoke(
        main, ["import", "incidents", str(data), "--source", "police", "--mapping", str(mapping)]
    )
    assert result.exit_code == 0, result.output
    assert run_jobs() >= 1
    links = session.exec(select(ReportIncidentLink)).all()
    a1 = session.exec(select(Incident).where(col(Incident.external_id) == "A1")).one()
    assert [(link.report_id, link.incident_id) for link in links] == [(report.id, a1.id)]
    assert links[0].rule == "streetlight-night_road_accident"
