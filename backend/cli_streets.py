"""``lanterne streets``: the city's street gazetteer (typed addresses, the public maps)."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask.cli import with_appcontext

from backend.extensions import db


@click.group("streets")
def streets_group() -> None:
    """The city's streets: names and positions."""


@streets_group.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@with_appcontext
def streets_import(file: Path) -> None:
    """Replace the city's streets by those of FILE (JSON list or GeoJSON Points/LineStrings)."""
    from backend.services.street_import import StreetImportError, import_streets, read_streets

    try:
        rows = read_streets(file)
    except StreetImportError as exc:
        raise click.ClickException(f"{exc}. Nothing was imported.") from exc
    with (
        db.new_session() as session,
        click.progressbar(length=len(rows), label="Streets", file=sys.stderr) as bar,
    ):
        summary = import_streets(session=session, rows=rows, progress=bar.update)
    click.echo(
        f"{summary.imported} streets imported ({summary.replaced} replaced); "
        f"{summary.located} fall in an imported area."
    )
    if summary.imported - summary.located and summary.located:
        click.echo(
            f"{summary.imported - summary.located} streets are outside every imported area.",
            err=True,
        )
    elif not summary.located:
        click.echo(
            "No areas are imported: streets have no area (lanterne areas import, then again).",
            err=True,
        )
