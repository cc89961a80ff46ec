"""Staffing from a stored profile through the city's ratios (pure arithmetic, no database)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from backend.models import Event, EventProfile
from backend.services.event_staffing import (
    DEFAULT_RULES_PATH,
    StaffingRulesError,
    load_rules,
    suggest,
)

START = datetime(2026, 5, 2, 19, tzinfo=UTC)  # 21:00 in Marseille


def _profile(excess_at_exit: float) -> tuple[Event, EventProfile]:
    hours = [datetime(2026, 5, 2, h, tzinfo=UTC).isoformat() for h in range(16, 24)]
    n = len(hours)
    expected = [0.5] * n
    expected[5] = 0.5 + excess_at_exit  # 21:00 UTC, the first hour after a 2-hour match
    series = {
        "source": "incidents",
        "family": "public_order",
        "zone": "inside",
        "expected": expected,
        "low": [0.0] * n,
        "high": [e * 2 + 1 for e in expected],
        "baseline": [0.5] * n,
    }
    event = Event(
        id=1,
        name="OM – Lyon",
        kind="match",
        starts_at=START,
        ends_at=datetime(2026, 5, 2, 21, tzinfo=UTC),
        lat=43.2698,
        lon=5.3959,
        radius_m=300,
        expected_attendance=45_000,
    )
    row = EventProfile(
        event_id=1,
        status="ok",
        model_version="test",
        fitted_at=START,
        event_updated_at=START,
        training_event_ids=[],
        profile={
            "hours": hours,
            "offsets": list(range(-3, 5)),
            "phases": ["before"] * 3 + ["start", "end", "after1", "after", "after"],
            "perimeter_m": 1885.0,
            "series": [series],
        },
    )
    return event, row


def _suggest(excess: float, rules_path: Path | None = None) -> dict[str, Any]:
    event, row = _profile(excess)
    return suggest(session=None, event=event, row=row, rules=load_rules(rules_path))  # type: ignore[arg-type]


def test_agents_follow_the_excess_and_the_minimum_with_reasons() -> None:
    plan = _suggest(excess=42.0)
    exit_hour = plan["hours"][5]
    assert exit_hour["agents"] == 28  # ceil(42 / 1.5) above the 25 of 40,000 people
    assert exit_hour["reasons_fr"][0] == (
        "heure 23 : +42,0 incidents (ordre public) attendus au-dessus de la normale, "
        "intervalle à 90 % 0–86"
    )
    assert exit_hour["reasons_en"][0].startswith("hour 23: +42.0 expected public order")
    # Before the start, neither excess nor minimum: no agent suggested.
    assert plan["hours"][0]["agents"] == 0 and plan["hours"][0]["reasons_fr"] == []
    # During the match, the attendance's minimum decides, and says so.
    assert plan["hours"][3]["agents"] == 25
    assert any("minimum" in r for r in plan["hours"][3]["reasons_fr"])
    # Barriers: half of a 1,885 m perimeter at 2.5 m each, from 2 h before to the end.
    assert [h["barriers"] for h in plan["hours"]] == [0, 377, 377, 377, 377, 0, 0, 0]


def test_a_city_edits_its_ratios(tmp_path: Path) -> None:
    text = DEFAULT_RULES_PATH.read_text(encoding="utf-8")
    edited = tmp_path / "staffing.toml"
    edited.write_text(
        text.replace("incidents_per_agent_hour = 1.5", "incidents_per_agent_hour = 3.0"),
        encoding="utf-8",
    )
    assert _suggest(excess=42.0, rules_path=edited)["hours"][5]["agents"] == 25  # 14 < 25
    assert _suggest(excess=90.0, rules_path=edited)["hours"][5]["agents"] == 30


def test_a_wrong_ratios_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(StaffingRulesError, match="no such staffing rules file"):
        load_rules(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text(
        DEFAULT_RULES_PATH.read_text(encoding="utf-8").replace(
            'plan_for = "expected"', 'plan_for = "maybe"'
        ),
        encoding="utf-8",
    )
    with pytest.raises(StaffingRulesError, match="plan_for"):
        load_rules(bad)
