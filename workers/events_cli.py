"""``lanterne events import|list|show``: a city's events calendar from the terminal.

The group joins ``lanterne`` through the ``flask.commands`` entry point ``events``; the
analysis commands (profiles, staffing) may join it with ``events_cli.add_command``.
"""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from backend.services.events import EVENT_KINDS, EventFilters, get_event, list_events, place_label
from workers.importers.cli import PATH, _progress_bar
from workers.importers.engine import DEFAULT_BATCH_SIZE, ImportOptions, run_import
from workers.importers.positions import CitySettings, Locator
from workers.importers.rows import ImportFileError, RowSource


@click.group("events")
def events_cli() -> None:
    """Events: import a calendar, list and show events."""


def _tz() -> str:
    return str(current_app.config["PUBLIC_TIMEZONE"])


def _local(value: datetime) -> str:
    from workers.importers.events import to_naive_local

    return to_naive_local(value, _tz())


@events_cli.command("import")
@click.argument("file", type=PATH)
@click.option(
    "--resources",
    type=PATH,
    help="CSV of what was deployed: event_id (external id), hour, agents, barriers",
)
@click.option(
    "--source", default="calendar", show_default=True, help="the calendar's name (keys events)"
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["auto", "csv", "geojson"]),
    default="auto",
    show_default=True,
    help="auto: from the file name (.geojson/.json, else CSV)",
)
@click.option("--encoding", help="the CSV's encoding (detected otherwise)")
@click.option("--delimiter", help="the CSV delimiter (detected otherwise)")
@click.option("--skip-bad", is_flag=True, help="import the good rows, skip bad ones")
@click.option("--dry-run", is_flag=True, help="check everything, write nothing")
@click.option("--rejects", type=PATH, help="write every rejected row (line, reason) to this CSV")
@with_appcontext
def import_command(
    file: Path,
    resources: Path | None,
    source: str,
    fmt: str,
    encoding: str | None,
    delimiter: str | None,
    skip_bad: bool,
    dry_run: bool,
    rejects: Path | None,
) -> None:
    """Import events from a calendar FILE (.csv or .geojson), upserted on source + id."""
    from backend.extensions import db
    from workers.importers.events import EventCsv, EventGeoJson, EventWriter, read_resources

    if fmt == "auto":
        fmt = "geojson" if file.suffix.lower() in (".geojson", ".json") else "csv"
    options = ImportOptions(
        skip_bad=skip_bad, dry_run=dry_run, batch_size=DEFAULT_BATCH_SIZE, rejects_path=rejects
    )
    try:
        # The resources file is read first: a malformed one stops everything before a write.
        resource_rows = read_resources(resources, tz=_tz(), encoding=encoding) if resources else []
        with db.new_session() as session:
            locator = Locator(session=session, city=CitySettings.from_config(current_app.config))
            rows: RowSource
            if fmt == "geojson":
                rows = EventGeoJson(file, locator, tz=_tz())
            else:
                rows = EventCsv(file, locator, tz=_tz(), encoding=encoding, delimiter=delimiter)
            writer = EventWriter(session, source)
            summary = run_import(
                source=rows, writer=writer, options=options, progress=_progress_bar
            )
            summary.notes.extend(getattr(rows, "notes", []))
            if summary.committed or (not summary.rejected and not dry_run):
                summary.notes.append(f"{writer.unchanged} events unchanged.")
            for line in summary.lines():
                click.echo(line)
            events_ok = not summary.rejected or skip_bad
            if resource_rows and events_ok and not dry_run:
                _import_resources(session, source, resource_rows, skip_bad)
            elif resource_rows and not dry_run:
                click.echo("Resources not imported: fix the calendar's rows first.")
    except ImportFileError as exc:
        raise click.ClickException(f"{exc}. Nothing was imported.") from exc
    if summary.rejected and not skip_bad:
        sys.exit(1)
    if summary.rejected and summary.rejected == summary.rows:
        click.echo("No valid row in the file.", err=True)
        sys.exit(1)


def _import_resources(session: object, source: str, rows: list, skip_bad: bool) -> None:
    from workers.importers.events import resolve_resources, write_resources

    resolved = resolve_resources(session=session, source=source, rows=rows)  # type: ignore[arg-type]
    bad = [r for r in resolved if r.values is None]
    for row in bad[:20]:
        click.echo(f"  {row.where}: {row.reason}")
    if bad and not skip_bad:
        click.echo(
            f"Resources: {len(bad)} of {len(rows)} rows rejected: none written. "
            "Fix them, or give --skip-bad."
        )
        sys.exit(1)
    inserted, updated, unchanged = write_resources(session=session, rows=resolved)  # type: ignore[arg-type]
    click.echo(
        f"Resources: {len(rows)} rows read, {inserted} inserted, {updated} updated, "
        f"{unchanged} unchanged, {len(bad)} rejected."
    )


@events_cli.command("list")
@click.option("--kind", type=click.Choice(EVENT_KINDS))
@click.option("--from", "start", type=click.DateTime(), help="events ending on or after")
@click.option("--to", "end", type=click.DateTime(), help="events starting before")
@click.option("--area", help="events whose areas include this code")
@click.option("--limit", default=200, show_default=True, type=click.IntRange(1, 10_000))
@with_appcontext
def list_command(
    kind: str | None, start: datetime | None, end: datetime | None, area: str | None, limit: int
) -> None:
    """List events by start time (local times), with filters."""
    from backend.extensions import db
    from backend.services.events import local_to_utc

    filters = EventFilters(
        kind=kind,
        start=local_to_utc(start, _tz()) if start else None,
        end=local_to_utc(end, _tz()) if end else None,
        area_code=area,
    )
    with db.new_session() as session:
        events, total = list_events(session=session, filters=filters, page_size=limit)
    if not events:
        click.echo("No event matches.")
        return
    header = f"{'id':>5}  {'start':<16}  {'end':<16}  {'kind':<21}  {'attendance':>10}  name"
    click.echo(header)
    click.echo("-" * len(header))
    for event in events:
        attendance = f"{event.expected_attendance:,}" if event.expected_attendance else "-"
        click.echo(
            f"{event.id:>5}  {_local(event.starts_at):<16}  {_local(event.ends_at):<16}  "
            f"{event.kind:<21}  {attendance:>10}  {event.name}"
        )
    shown = f"{len(events)} of {total}" if total > len(events) else f"{total}"
    click.echo(f"{shown} events (times in {_tz()}).")


@events_cli.command("show")
@click.argument("event_id", type=int)
@with_appcontext
def show_command(event_id: int) -> None:
    """Show one event: its place, times, attendance and the resources deployed."""
    from backend.extensions import db
    from backend.services.events import resources_of

    with db.new_session() as session:
        event = get_event(session=session, event_id=event_id)
        if event is None:
            raise click.ClickException(f"no event has the id {event_id} (see lanterne events list)")
        resources = resources_of(session=session, event_id=event_id)
    attendance = f"{event.expected_attendance:,}" if event.expected_attendance else "unknown"
    rows = [
        ("Name", event.name),
        ("Kind", event.kind),
        ("Start", f"{_local(event.starts_at)} ({_tz()})"),
        ("End", f"{_local(event.ends_at)} ({_tz()})"),
        ("Place", place_label(event)),
        ("Expected attendance", attendance),
        ("Source", f"{event.source}" + (f" / {event.external_id}" if event.external_id else "")),
    ]
    if event.notes:
        rows.append(("Notes", event.notes))
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        click.echo(f"{label:<{width}}  {value}")
    if not resources:
        click.echo("Resources deployed: none recorded.")
        return
    click.echo("Resources deployed:")
    click.echo(f"  {'hour':<16}  {'agents':>6}  {'barriers':>8}")
    for res in resources:
        agents = "-" if res.agents is None else str(res.agents)
        barriers = "-" if res.barriers is None else str(res.barriers)
        click.echo(f"  {_local(res.hour):<16}  {agents:>6}  {barriers:>8}")
