"""``lanterne events import``: a city's calendar (CSV, GeoJSON), resources, bad rows, re-runs."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import Result
from flask import Flask
from sqlmodel import Session, select

from backend.models import Event, EventResource
from workers.events_cli import events_cli

Events = Callable[..., Result]

HEADER = "external_id;name;kind;start;end;lat;lon;radius_m;area_codes;expected_attendance\n"
CALENDAR = HEADER + (
    "OM-PSG;OM - PSG;match;2026-03-01T21:00:00+01:00;2026-03-01T23:00:00+01:00;"
    "43.2698;5.3959;800;;65000\n"
    "MARCHE-1;Marché du Prado;market;2026-03-04 07:00;2026-03-04 13:30;"
    "43.2780;5.3890;300;;4000\n"
    ";Réunion de quartier Belsunce;neighbourhood_meeting;2026-03-05 18:30;2026-03-05 20:30;"
    ";;;13201105;60\n"
)
RESOURCES = (
    "event_id,hour,agents,barriers\n"
    "OM-PSG,2026-03-01T19:00:00+01:00,40,120\n"
    "OM-PSG,2026-03-01 20:00,80,120\n"
    "OM-PSG,2026-03-01 23:00,60,\n"
)


@pytest.fixture
def events(app: Flask) -> Events:
    """Run ``lanterne events ARGS...`` in-process."""

    def _invoke(*args: str | Path) -> Result:
        return app.test_cli_runner().invoke(events_cli, [str(a) for a in args])

    return _invoke


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_csv_calendar_is_imported_with_local_times_and_places(
    events: Events, session: Session, tmp_path: Path
) -> None:
    result = events("import", _write(tmp_path, "agenda.csv", CALENDAR))
    assert result.exit_code == 0, result.output
    assert "3 rows read, 3 inserted, 0 updated, 0 rejected" in result.output
    stored = {e.name: e for e in session.exec(select(Event))}
    match = stored["OM - PSG"]
    assert match.kind == "match" and match.source == "calendar" and match.external_id == "OM-PSG"
    assert match.starts_at == datetime(2026, 3, 1, 20, 0, tzinfo=UTC)
    assert (match.lat, match.lon, match.radius_m) == (43.2698, 5.3959, 800.0)
    assert match.expected_attendance == 65000
    # A local time (no offset) is read in Paris time: 07:00 in March is 06:00 UTC.
    assert stored["Marché du Prado"].starts_at == datetime(2026, 3, 4, 6, 0, tzinfo=UTC)
    meeting = stored["Réunion de quartier Belsunce"]
    assert meeting.area_codes == ["13201105"] and meeting.lat is None
    assert meeting.external_id and meeting.external_id.startswith("h")  # a stable hash


def test_importing_the_same_file_twice_changes_nothing(
    events: Events, session: Session, tmp_path: Path
) -> None:
    path = _write(tmp_path, "agenda.csv", CALENDAR)
    assert events("import", path).exit_code == 0
    before = {e.external_id: (e.id, e.updated_at) for e in session.exec(select(Event))}
    again = events("import", path)
    assert again.exit_code == 0, again.output
    assert "0 inserted, 0 updated, 0 rejected" in again.output
    assert "3 events unchanged" in again.output
    session.expire_all()
    after = {e.external_id: (e.id, e.updated_at) for e in session.exec(select(Event))}
    assert after == before
    # A corrected attendance updates that event only.
    changed = _write(tmp_path, "agenda2.csv", CALENDAR.replace(";4000\n", ";5000\n"))
    third = events("import", changed)
    assert "0 inserted, 1 updated" in third.output, third.output


def test_bad_rows_are_listed_with_line_field_and_fix_and_nothing_is_written(
    events: Events, session: Session, tmp_path: Path
) -> None:
    bad = HEADER + (
        "A;Concert;concert;2026-03-01 21:00;2026-03-01 20:00;43.3;5.38;200;;1000\n"
        "B;Fête;fete;2026-03-01 21:00;2026-03-01 23:00;43.3;5.38;200;;1000\n"
        "C;Manif;demonstration;hier soir;2026-03-01 23:00;43.3;5.38;200;;1000\n"
        "D;Loin;concert;2026-03-01 21:00;2026-03-01 23:00;48.85;2.35;200;;1000\n"
        "E;Deux lieux;festival;2026-03-01 21:00;2026-03-01 23:00;43.3;5.38;200;13201105;10\n"
        "F;Rayon;festival;2026-03-01 21:00;2026-03-01 23:00;43.3;5.38;90000;;10\n"
        "G;Bon;market;2026-03-02 08:00;2026-03-02 12:00;43.3;5.38;200;;500\n"
    )
    rejects = tmp_path / "rejects.csv"
    result = events("import", _write(tmp_path, "bad.csv", bad), "--rejects", rejects)
    assert result.exit_code == 1
    out = result.output
    assert "bad.csv line 2: end: the end must come after the start" in out
    assert "bad.csv line 3: kind: kind 'fete' is not one of concert, match" in out
    assert "bad.csv line 4: start: start 'hier soir' is not an ISO 8601 time" in out
    assert "bad.csv line 5:" in out and "outside" in out.split("bad.csv line 5:")[1].split("\n")[0]
    assert "bad.csv line 6: place: give one kind of place" in out
    assert "bad.csv line 7: radius_m: radius_m 90000 is out of bounds" in out
    assert "nothing was written" in out
    assert session.exec(select(Event)).all() == []
    assert len(rejects.read_text().splitlines()) == 1 + 6
    # --skip-bad keeps the good row.
    kept = events("import", tmp_path / "bad.csv", "--skip-bad")
    assert kept.exit_code == 0, kept.output
    assert [e.name for e in session.exec(select(Event))] == ["Bon"]


def test_a_file_with_no_valid_row_exits_non_zero_even_with_skip_bad(
    events: Events, session: Session, tmp_path: Path
) -> None:
    bad = HEADER + "A;;concert;2026-03-01 21:00;2026-03-01 23:00;43.3;5.38;200;;1\n"
    result = events("import", _write(tmp_path, "bad.csv", bad), "--skip-bad")
    assert result.exit_code == 1
    assert "name: the name is empty" in result.output
    missing = events("import", _write(tmp_path, "cols.csv", "name;kind;start\nx;y;z\n"))
    assert missing.exit_code == 1
    assert "lacks the columns end" in missing.output and "Nothing was imported" in missing.output


def test_a_geojson_calendar_takes_points_polygons_and_areas(
    events: Events, session: Session, tmp_path: Path
) -> None:
    vieux_port = [
        [5.368, 43.294],
        [5.376, 43.294],
        [5.376, 43.297],
        [5.368, 43.297],
        [5.368, 43.294],
    ]
    features = [
        {
            "type": "Feature",
            "id": "DOME-1",
            "geometry": {"type": "Point", "coordinates": [5.3978, 43.3083]},
            "properties": {
                "name": "Concert au Dôme",
                "kind": "concert",
                "start": "2026-04-10T20:30:00+02:00",
                "end": "2026-04-10T23:30:00+02:00",
                "radius_m": 400,
                "expected_attendance": 8000,
            },
        },
        {
            "type": "Feature",
            "geometry": {"type": "Polygon", "coordinates": [vieux_port]},
            "properties": {
                "external_id": "MANIF-1",
                "name": "Manifestation Vieux-Port",
                "kind": "demonstration",
                "start": "2026-04-11 14:00",
                "end": "2026-04-11 18:00",
                "expected_attendance": 12000,
            },
        },
        {
            "type": "Feature",
            "geometry": None,
            "properties": {
                "name": "Réunion",
                "kind": "neighbourhood_meeting",
                "start": "2026-04-12 18:00",
                "end": "2026-04-12 20:00",
                "area_codes": ["13201105", "13201106"],
            },
        },
        {
            "type": "Feature",
            "geometry": {
                "type": "Polygon",
                "coordinates": [[[5.36, 43.29], [5.37, 43.30], [5.37, 43.29], [5.36, 43.30]]],
            },
            "properties": {
                "name": "Noeud papillon",
                "kind": "festival",
                "start": "2026-04-12 18:00",
                "end": "2026-04-12 20:00",
            },
        },
    ]
    path = _write(
        tmp_path,
        "agenda.geojson",
        json.dumps({"type": "FeatureCollection", "features": features}, indent=1),
    )
    result = events("import", path)
    assert result.exit_code == 1
    assert "feature 4: geometry: the polygon is not valid: Self-intersection" in result.output
    result = events("import", path, "--skip-bad")
    assert result.exit_code == 0, result.output
    assert "4 rows read, 3 inserted" in result.output
    stored = {e.name: e for e in session.exec(select(Event))}
    assert stored["Concert au Dôme"].external_id == "DOME-1"
    assert (stored["Concert au Dôme"].lat, stored["Concert au Dôme"].radius_m) == (43.3083, 400)
    assert stored["Manifestation Vieux-Port"].geometry == features[1]["geometry"]
    assert stored["Manifestation Vieux-Port"].starts_at == datetime(2026, 4, 11, 12, tzinfo=UTC)
    assert stored["Réunion"].area_codes == ["13201105", "13201106"]


def test_resources_are_imported_by_event_id_and_hour_and_idempotent(
    events: Events, session: Session, tmp_path: Path
) -> None:
    calendar = _write(tmp_path, "agenda.csv", CALENDAR)
    resources = _write(tmp_path, "moyens.csv", RESOURCES)
    result = events("import", calendar, "--resources", resources)
    assert result.exit_code == 0, result.output
    assert "Resources: 3 rows read, 3 inserted, 0 updated, 0 unchanged, 0 rejected" in result.output
    rows = session.exec(select(EventResource).order_by(EventResource.hour)).all()
    assert [(r.hour.hour, r.agents, r.barriers) for r in rows] == [
        (18, 40, 120),
        (19, 80, 120),
        (22, 60, None),
    ]
    again = events("import", calendar, "--resources", resources)
    assert "Resources: 3 rows read, 0 inserted, 0 updated, 3 unchanged" in again.output
    wrong = _write(
        tmp_path,
        "wrong.csv",
        "event_id,hour,agents,barriers\nNOPE,2026-03-01 20:00,4,\nOM-PSG,2026-03-09 20:00,4,\n"
        "OM-PSG,2026-03-01 20:30,4,\n",
    )
    bad = events("import", calendar, "--resources", wrong)
    assert bad.exit_code == 1
    # The malformed hour is refused before anything is read from the calendar.
    assert "wrong.csv line 4: hour '2026-03-01 20:30' is not on the hour" in bad.output
    assert "wrong.csv line 2: event_id 'NOPE': no event of source 'calendar'" in bad.output
    assert "wrong.csv line 3: hour 2026-03-09T19:00:00+00:00 is more than 12 hours away" in (
        bad.output
    )
    assert "none written" in bad.output
    assert len(session.exec(select(EventResource)).all()) == 3


def test_list_and_show_print_readable_tables(
    events: Events, session: Session, tmp_path: Path
) -> None:
    events(
        "import",
        _write(tmp_path, "agenda.csv", CALENDAR),
        "--resources",
        _write(tmp_path, "moyens.csv", RESOURCES),
    )
    listing = events("list")
    assert listing.exit_code == 0, listing.output
    lines = listing.output.splitlines()
    assert lines[0].split() == ["id", "start", "end", "kind", "attendance", "name"]
    assert "2026-03-01 21:00" in lines[2] and "match" in lines[2] and "65,000" in lines[2]
    assert "3 events (times in Europe/Paris)." in lines[-1]
    markets = events("list", "--kind", "market")
    assert "Marché du Prado" in markets.output and "OM - PSG" not in markets.output
    window = events("list", "--from", "2026-03-04", "--to", "2026-03-05")
    assert "Marché du Prado" in window.output and "Belsunce" not in window.output
    assert "OM - PSG" not in window.output
    assert "No event matches." in events("list", "--kind", "concert").output
    match = session.exec(select(Event).where(Event.external_id == "OM-PSG")).one()
    shown = events("show", str(match.id))
    assert shown.exit_code == 0, shown.output
    assert "Start                2026-03-01 21:00 (Europe/Paris)" in shown.output
    assert "43.2698, 5.3959 (r 800 m)" in shown.output
    assert "2026-03-01 20:00      80       120" in shown.output
    missing = events("show", "999999")
    assert missing.exit_code == 1 and "no event has the id 999999" in missing.output
