"""The demo's events, incidents and clusters: the events, signals and linked-incident pages are
not empty out of the box."""

from __future__ import annotations

import tomllib
from collections import Counter
from datetime import timedelta
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func
from sqlmodel import Session, col, select

import backend.demo
from backend.cli import main
from backend.db import utcnow
from backend.jobs import DETECT_SIGNALS
from backend.models import (
    Event,
    EventResource,
    Incident,
    OutboxMessage,
    Report,
    ReportIncidentLink,
    Signal,
)

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def declared_steps(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The demo's steps as pyproject.toml declares them (the installed metadata may predate
    this checkout): the same entry points, loaded the same way."""
    table = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["entry-points"]
    declared = table["lanterne.demo"]
    points = [EntryPoint(name, value, "lanterne.demo") for name, value in sorted(declared.items())]
    monkeypatch.setattr(backend.demo, "demo_steps", lambda: [p.load() for p in points])
    return list(declared.values())


def test_the_demo_has_a_year_of_events_incidents_signals_and_links(
    app: Flask, session: Session, marseille_areas: int, declared_steps: list[str]
) -> None:
    assert declared_steps == ["workers.demo_events:load_demo_events"]
    result = app.test_cli_runner().invoke(main, ["demo", "--reports", "2000", "--seed", "3"])
    assert result.exit_code == 0, result.output
    assert "demo events" in result.output
    events = session.exec(select(Event).where(Event.source == "demo")).all()
    kinds = Counter(e.kind for e in events)
    assert set(kinds) == {
        "match",
        "concert",
        "market",
        "demonstration",
        "festival",
        "neighbourhood_meeting",
        "other",
    }
    assert kinds["match"] >= 20 and kinds["market"] >= 50
    # The calendar covers the demo's year (moved by whole weeks: weekdays kept).
    reports = session.exec(select(Report.created_at).order_by(col(Report.created_at))).all()
    first, last = reports[0], reports[-1]
    in_period = [e for e in events if first <= e.starts_at <= last]
    assert len(in_period) > 0.85 * len([e for e in events if e.starts_at <= last])
    matches = [e for e in events if e.kind == "match"]
    assert all(e.starts_at.weekday() in (1, 2, 5, 6) for e in matches), "weekdays kept"
    assert session.exec(select(func.count()).select_from(EventResource)).one() > 200

    incidents = session.exec(select(Incident).where(Incident.source == "demo")).all()
    per_kind = Counter(i.kind.split(":")[0] for i in incidents)
    assert {"main_courante", "transport", "hospital", "road_accident", "lighting_outage"} <= set(
        per_kind
    )
    # In the demo's year (an incident linked to the first reports may come days before them).
    assert all(first - timedelta(days=5) <= i.occurred_at <= utcnow() for i in incidents)
    links = session.exec(select(func.count()).select_from(ReportIncidentLink)).one()
    assert links > 50

    # More police-logbook entries near the stadium on match nights than on other nights.
    def near_stadium(i: Incident) -> bool:
        return abs((i.lat or 0) - 43.2699) < 0.01 and abs((i.lon or 0) - 5.3959) < 0.013

    match_hours = {
        (e.starts_at.date(), h)
        for e in matches
        for h in range(e.starts_at.hour - 1, e.starts_at.hour + 5)
    }
    fights = [i for i in incidents if i.kind == "main_courante:rixe" and near_stadium(i)]
    on_match = sum((i.occurred_at.date(), i.occurred_at.hour) in match_hours for i in fights)
    assert on_match > 3 * (len(fights) - on_match) / 50  # vs ~50x as many other hours

    # The first detection waits in the outbox for the worker (the signals page is not empty
    # on the demo's first start); it is run here as the worker would.
    queued = session.exec(select(OutboxMessage.job_path)).all()
    assert DETECT_SIGNALS.path in queued
    from workers.signals.detect import detect_signals
    from workers.signals.settings import DetectionSettings

    summary = detect_signals(session=session, settings=DetectionSettings())
    assert summary.created > 0, summary
    # The three clusters put in the last days are the scan's signals, and nothing else; the
    # co-occurrence detector may add its own (police-logbook entries crowd around the events'
    # places, where public-order reports are too).
    signals = list(session.exec(select(Signal)))
    scans = sorted(s.service_code or "" for s in signals if s.kind == "scan")
    assert scans == ["graffiti", "illegal_dumping", "streetlight"], scans
    assert all(s.kind in ("scan", "cooccurrence") for s in signals)
    assert session.exec(select(func.count()).select_from(Signal)).one() > 0
