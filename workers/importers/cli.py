"""``lanterne import incidents`` and ``lanterne import reports``."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from workers.importers.engine import DEFAULT_BATCH_SIZE, ImportOptions, ImportSummary, run_import
from workers.importers.positions import CitySettings, Gazetteer, Locator
from workers.importers.rows import ImportFileError, RowSource
from workers.importers.writers import IncidentWriter, Writer

PATH = click.Path(path_type=Path, dir_okay=True)


@contextmanager
def _progress_bar(label: str, length: int) -> Iterator[Callable[[int], None]]:
    with click.progressbar(
        length=max(length, 1), label=f"{label:<10}", file=sys.stderr, show_pos=False
    ) as bar:
        yield bar.update


def _common_options(func: Callable[..., None]) -> Callable[..., None]:
    for option in reversed(
        [
            click.option("--streets", type=PATH, help="street gazetteer (streets.json format)"),
            click.option("--encoding", help="the file's encoding (detected otherwise)"),
            click.option("--delimiter", help="the CSV delimiter (detected otherwise)"),
            click.option("--skip-bad", is_flag=True, help="import the good rows, skip bad ones"),
            click.option("--dry-run", is_flag=True, help="check everything, write nothing"),
            click.option(
                "--rejects", type=PATH, help="write every rejected row (line, reason) to this CSV"
            ),
            click.option(
                "--batch-size",
                type=click.IntRange(1, 100_000),
                default=DEFAULT_BATCH_SIZE,
                show_default=True,
                help="rows per transaction",
            ),
        ]
    ):
        func = option(func)
    return func


def _finish(summary: ImportSummary) -> None:
    """Print the summary; exit 1 when the file had bad rows and --skip-bad was not given."""
    for line in summary.lines():
        click.echo(line)
    if summary.rejected and not summary.skip_bad:
        sys.exit(1)


def _run(
    source_factory: Callable[[Locator], RowSource],
    writer_factory: Callable[..., Writer],
    streets: Path | None,
    options: ImportOptions,
) -> ImportSummary:
    from backend.extensions import db

    with db.new_session() as session:
        gazetteer = Gazetteer.load(streets) if streets else None
        locator = Locator(
            session=session, city=CitySettings.from_config(current_app.config), gazetteer=gazetteer
        )
        source = source_factory(locator)
        summary = run_import(
            source=source,
            writer=writer_factory(session),
            options=options,
            progress=_progress_bar,
        )
        summary.notes.extend(getattr(source, "notes", []))
        return summary


@click.command("incidents")
@click.argument("file", type=PATH)
@click.option("--source", required=True, help="the source's name, e.g. baac, police_municipale")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "baac", "geojson"]),
    default="csv",
    show_default=True,
)
@click.option("--mapping", type=PATH, help="column mapping, TOML or JSON (csv and geojson)")
@click.option(
    "--communes",
    default="13201-13216",
    show_default=True,
    help="BAAC: the INSEE codes of the city's communes",
)
@_common_options
@with_appcontext
def incidents_command(
    file: Path,
    source: str,
    fmt: str,
    mapping: Path | None,
    communes: str,
    streets: Path | None,
    encoding: str | None,
    delimiter: str | None,
    skip_bad: bool,
    dry_run: bool,
    rejects: Path | None,
    batch_size: int,
) -> None:
    """Import official incidents from FILE (upserted on source and external id)."""
    from workers.importers.baac import open_baac
    from workers.importers.baac_labels import parse_commune_range
    from workers.importers.csv_mapping import MappedCsv, load_incident_mapping
    from workers.importers.geojson import GeoJsonPoints

    options = ImportOptions(
        skip_bad=skip_bad, dry_run=dry_run, batch_size=batch_size, rejects_path=rejects
    )
    try:
        if fmt == "baac":
            codes = parse_commune_range(communes)

            def factory(locator: Locator) -> RowSource:
                return open_baac(file, locator, communes=codes, encoding=encoding)

        else:
            if mapping is None:
                raise ImportFileError(
                    f"--format {fmt} needs --mapping FILE (see docs/data-formats.md)"
                )
            incident_mapping = load_incident_mapping(mapping)

            def factory(locator: Locator) -> RowSource:
                if fmt == "geojson":
                    return GeoJsonPoints(file, incident_mapping, locator)
                return MappedCsv(
                    file, incident_mapping, locator, encoding=encoding, delimiter=delimiter
                )

        summary = _run(factory, lambda s: IncidentWriter(s, source), streets, options)
    except ImportFileError as exc:
        raise click.ClickException(f"{exc}. Nothing was imported.") from exc
    _finish(summary)


@click.command("reports")
@click.argument("file", type=PATH)
@click.option("--mapping", type=PATH, help="column mapping, TOML or JSON")
@click.option("--source", default="import", show_default=True, help="the reports' source name")
@_common_options
@with_appcontext
def reports_command(
    file: Path,
    mapping: Path | None,
    source: str,
    streets: Path | None,
    encoding: str | None,
    delimiter: str | None,
    skip_bad: bool,
    dry_run: bool,
    rejects: Path | None,
    batch_size: int,
) -> None:
    """Import a city's historical reports from FILE (upserted on source and external id)."""
    from workers.importers.reports import (
        ReportCsv,
        ReportWriter,
        catalogue_codes,
        load_report_mapping,
    )

    options = ImportOptions(
        skip_bad=skip_bad, dry_run=dry_run, batch_size=batch_size, rejects_path=rejects
    )
    try:
        report_mapping = load_report_mapping(mapping) if mapping else None

        def factory(locator: Locator) -> RowSource:
            return ReportCsv(
                file,
                report_mapping,
                locator,
                services=catalogue_codes(locator.session),
                encoding=encoding,
                delimiter=delimiter,
            )

        summary = _run(factory, lambda s: ReportWriter(s, source), streets, options)
    except ImportFileError as exc:
        raise click.ClickException(f"{exc}. Nothing was imported.") from exc
    _finish(summary)
