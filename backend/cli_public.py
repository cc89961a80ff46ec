"""``lanterne areas population``: load residents per area from a CSV (for rates per 1,000)."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import click
from flask.cli import with_appcontext
from sqlmodel import Session, select

from backend.cli import areas_group
from backend.extensions import db
from backend.models import Area


class PopulationError(ValueError):
    """A population file that cannot be loaded; the message says where and why."""


@dataclass
class PopulationSummary:
    """What a population load did."""

    updated: int = 0
    unknown: list[str] = field(default_factory=list)


def load_population(
    *, session: Session, path: Path, code_field: str, population_field: str
) -> PopulationSummary:
    """Set ``Area.population`` from a CSV; all rows are checked before anything is saved."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            sample = handle.read(4096)
            handle.seek(0)
            dialect = csv.Sniffer().sniff(sample, delimiters=",;\t")
            reader = csv.DictReader(handle, dialect=dialect)
            fields = reader.fieldnames or []
            for name in (code_field, population_field):
                if name not in fields:
                    raise PopulationError(f"{path}: no column '{name}' (has: {', '.join(fields)})")
            values: dict[str, int] = {}
            for line, row in enumerate(reader, start=2):
                code = (row[code_field] or "").strip()
                raw = (row[population_field] or "").strip().replace(" ", "").replace("\u202f", "")
                if not code:
                    raise PopulationError(f"{path}, line {line}: empty code")
                try:
                    population = int(float(raw))
                except ValueError as exc:
                    raise PopulationError(
                        f"{path}, line {line}: population '{raw}' is not a number"
                    ) from exc
                if population < 0:
                    raise PopulationError(f"{path}, line {line}: negative population")
                values[code] = population
    except FileNotFoundError as exc:
        raise PopulationError(f"{path}: no such file") from exc
    except (UnicodeDecodeError, csv.Error) as exc:
        raise PopulationError(f"{path}: not a readable CSV file ({exc})") from exc
    areas = {a.code: a for a in session.exec(select(Area))}
    summary = PopulationSummary()
    for code, population in values.items():
        area = areas.get(code)
        if area is None:
            summary.unknown.append(code)
            continue
        area.population = population
        session.add(area)
        summary.updated += 1
    session.commit()
    return summary


@areas_group.command("population")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--code-field", required=True, help="column holding the area code")
@click.option("--population-field", required=True, help="column holding the population")
@with_appcontext
def areas_population(file: Path, code_field: str, population_field: str) -> None:
    """Load the population of each area from a CSV (comma, semicolon or tab separated)."""
    try:
        with db.new_session() as session:
            summary = load_population(
                session=session,
                path=file,
                code_field=code_field,
                population_field=population_field,
            )
    except PopulationError as exc:
        raise click.ClickException(f"{exc}. Nothing was loaded.") from exc
    click.echo(f"Population loaded for {summary.updated} areas.")
    if summary.unknown:
        shown = ", ".join(summary.unknown[:10]) + ("..." if len(summary.unknown) > 10 else "")
        click.echo(f"{len(summary.unknown)} codes match no imported area: {shown}", err=True)
