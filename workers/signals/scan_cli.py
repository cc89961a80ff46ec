"""``lanterne signals scan``: SaTScan's space-time permutation scan on SaTScan's own files.

The lead mounts :data:`scan` under the ``signals`` group; it needs no app context.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import click

from workers.signals.satscan_io import (
    SatscanFileError,
    as_case_tuples,
    check_cases,
    parse_date,
    read_cases,
    read_coordinates,
)
from workers.signals.scan import space_time_permutation_scan


def _date_option(_ctx: click.Context, param: click.Parameter, value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return parse_date(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param=param) from None


@click.command("scan")
@click.option(
    "--cases",
    "cases_path",
    required=True,
    type=click.Path(path_type=Path),
    help="SaTScan case file: location count yyyy/mm/dd.",
)
@click.option(
    "--coords",
    "coords_path",
    required=True,
    type=click.Path(path_type=Path),
    help="SaTScan coordinates file: location latitude longitude.",
)
@click.option(
    "--prospective",
    is_flag=True,
    help="Surveillance on the last day: only clusters still alive at the end.",
)
@click.option("--start", callback=_date_option, help="Study start (default: first case date).")
@click.option("--end", callback=_date_option, help="Study end (default: last case date).")
@click.option(
    "--max-spatial-pct",
    type=click.FloatRange(0, 100, min_open=True),
    default=50.0,
    show_default=True,
    help="Largest circle, as a % of all cases.",
)
@click.option(
    "--max-radius-km",
    type=click.FloatRange(min=0),
    default=None,
    help="Largest circle radius in km.",
)
@click.option(
    "--max-temporal-pct",
    type=click.FloatRange(0, 100, min_open=True),
    default=None,
    help="Longest window as a % of the study period [default: 50].",
)
@click.option(
    "--max-temporal-days",
    type=click.IntRange(min=1),
    default=None,
    help="Longest window in days (instead of --max-temporal-pct).",
)
@click.option(
    "--min-cases",
    type=click.IntRange(min=1),
    default=2,
    show_default=True,
    help="Fewest cases in a cluster.",
)
@click.option(
    "--replications",
    type=click.IntRange(min=0),
    default=999,
    show_default=True,
    help="Monte Carlo replications.",
)
@click.option("--seed", type=int, default=12345, show_default=True, help="Random seed.")
@click.option(
    "--early-stop",
    type=click.IntRange(min=1),
    default=None,
    help="Stop the replications once this many reach the top cluster's statistic.",
)
def scan(
    cases_path: Path,
    coords_path: Path,
    prospective: bool,
    start: date | None,
    end: date | None,
    max_spatial_pct: float,
    max_radius_km: float | None,
    max_temporal_pct: float | None,
    max_temporal_days: int | None,
    min_cases: int,
    replications: int,
    seed: int,
    early_stop: int | None,
) -> None:
    """Space-time permutation scan of SaTScan files; prints the clusters as JSON."""
    if max_temporal_pct is not None and max_temporal_days is not None:
        raise click.UsageError("give --max-temporal-pct or --max-temporal-days, not both")
    try:
        coords = read_coordinates(coords_path)
        records = read_cases(cases_path)
        study_start = start or min(r.day for r in records)
        study_end = end or max(r.day for r in records)
        if study_end < study_start:
            raise click.UsageError(f"--end {study_end} is before --start {study_start}")
        check_cases(records, coords, path=cases_path, study_start=study_start, study_end=study_end)
    except SatscanFileError as exc:
        raise click.ClickException(str(exc)) from None
    result = space_time_permutation_scan(
        as_case_tuples(records),
        coords,
        study_start=study_start,
        study_end=study_end,
        prospective=prospective,
        max_spatial_pct=max_spatial_pct,
        max_radius_km=max_radius_km,
        max_temporal_pct=max_temporal_pct,
        max_temporal_days=max_temporal_days,
        min_cases=min_cases,
        replications=replications,
        seed=seed,
        early_stop=early_stop,
    )
    click.echo(json.dumps(result.to_dict(), indent=2))
