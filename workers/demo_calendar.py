"""The demo's calendar: the project's own events file, moved to the demo's year, imported.

``backend/demo_data/events.csv`` and ``events_resources.csv`` hold fixed dates (December 2025
to December 2026); a demo run in another year moves them by whole weeks, so that weekdays
(matches on weekends, the Saturday market) stay right, and imports them with the calendar
importer as source "demo".
"""

from __future__ import annotations

import csv
import tempfile
from datetime import datetime, timedelta
from pathlib import Path

from sqlmodel import Session

import backend
from workers.importers.engine import ImportOptions, run_import
from workers.importers.events import (
    EventCsv,
    EventWriter,
    read_resources,
    resolve_resources,
    write_resources,
)
from workers.importers.positions import Locator

DEMO_DATA = Path(backend.__file__).resolve().parent / "demo_data"
CALENDAR = DEMO_DATA / "events.csv"
RESOURCES = DEMO_DATA / "events_resources.csv"
SOURCE = "demo"


def _shifted_calendar(folder: Path, first_day: datetime) -> tuple[Path, Path, int]:
    """Copies of the calendar and its resources moved by whole weeks to start near
    ``first_day`` (the demo's first day); the number of weeks moved."""
    with CALENDAR.open(encoding="utf-8", newline="") as fh:
        events = list(csv.DictReader(fh))
    starts = [datetime.fromisoformat(e["start"]) for e in events]
    weeks = round((first_day.replace(tzinfo=None) - min(starts)).days / 7)
    if weeks == 0:
        return CALENDAR, RESOURCES, 0
    shift = timedelta(weeks=weeks)

    def move(text: str) -> str:
        return (datetime.fromisoformat(text) + shift).strftime("%Y-%m-%d %H:%M")

    calendar, resources = folder / "events.csv", folder / "events_resources.csv"
    with calendar.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, list(events[0]))
        writer.writeheader()
        for event in events:
            writer.writerow({**event, "start": move(event["start"]), "end": move(event["end"])})
    with RESOURCES.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    with resources.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, list(rows[0]))
        writer.writeheader()
        for row in rows:
            writer.writerow({**row, "hour": move(row["hour"])})
    return calendar, resources, weeks


def import_calendar(
    *, session: Session, locator: Locator, tz: str, first_day: datetime
) -> tuple[int, int]:
    """Import the demo calendar and its resources (source "demo"); (events, resource rows)."""
    with tempfile.TemporaryDirectory() as tmp:
        calendar, resources, _weeks = _shifted_calendar(Path(tmp), first_day)
        summary = run_import(
            source=EventCsv(calendar, locator, tz=tz),
            writer=EventWriter(session, SOURCE),
            options=ImportOptions(),
        )
        if summary.rejected:
            raise ValueError("the demo calendar has bad rows:\n" + "\n".join(summary.lines()))
        rows = resolve_resources(
            session=session, source=SOURCE, rows=read_resources(resources, tz=tz)
        )
        bad = [r for r in rows if r.values is None]
        if bad:
            raise ValueError(f"the demo resources have bad rows: {bad[0].where}: {bad[0].reason}")
        write_resources(session=session, rows=rows)
    return summary.rows, len(rows)
