"""Reading SaTScan's case (``.cas``) and coordinates (``.geo``) files, with clear errors.

Case file lines are ``location count date`` (extra columns, such as SaTScan covariates, are
ignored); coordinates file lines are ``location latitude longitude`` in decimal degrees.
Fields are separated by spaces or tabs; blank lines are skipped. Every error names the file,
the line number and the reason, and nothing is returned from a file with a bad line.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

_DATE = re.compile(r"^(\d{4})[/-](\d{1,2})[/-](\d{1,2})$")


class SatscanFileError(ValueError):
    """A SaTScan input file that cannot be used; the message names file, line and reason."""

    def __init__(self, path: Path | str, line: int | None, reason: str) -> None:
        self.path = Path(path)
        self.line = line
        self.reason = reason
        where = f"{self.path.name}" + (f", line {line}" if line is not None else "")
        super().__init__(f"{where}: {reason}")


@dataclass(frozen=True)
class CaseRecord:
    """One line of a case file."""

    location: str
    count: int
    day: date
    line: int


def parse_date(text: str) -> date:
    """Parse ``yyyy/m/d`` or ``yyyy-mm-dd`` (SaTScan's day precision); raise ValueError."""
    match = _DATE.match(text.strip())
    if not match:
        raise ValueError(f"unparseable date {text!r} (expected yyyy/mm/dd)")
    year, month, day = (int(g) for g in match.groups())
    try:
        return date(year, month, day)
    except ValueError as exc:
        raise ValueError(f"unparseable date {text!r} ({exc})") from None


def _lines(path: Path | str) -> list[tuple[int, list[str]]]:
    p = Path(path)
    if not p.is_file():
        raise SatscanFileError(p, None, "file not found")
    try:
        text = p.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        text = p.read_text(encoding="latin-1")
    out = [(i, raw.split()) for i, raw in enumerate(text.splitlines(), start=1) if raw.strip()]
    if not out:
        raise SatscanFileError(p, None, "the file is empty")
    return out


def read_cases(path: Path | str) -> list[CaseRecord]:
    """Read a SaTScan case file (``location count date`` per line).

    Parameters
    ----------
    path : path-like
        The ``.cas`` file.

    Returns
    -------
    list of CaseRecord
        One record per line, with its line number.
    """
    records: list[CaseRecord] = []
    for number, fields in _lines(path):
        if len(fields) < 3:
            raise SatscanFileError(
                path, number, f"expected 'location count date', got {len(fields)} field(s)"
            )
        location, count_text, date_text = fields[0], fields[1], fields[2]
        try:
            count = int(count_text)
        except ValueError:
            raise SatscanFileError(
                path, number, f"case count {count_text!r} is not a whole number"
            ) from None
        if count < 0:
            raise SatscanFileError(path, number, f"case count {count} is negative")
        try:
            day = parse_date(date_text)
        except ValueError as exc:
            raise SatscanFileError(path, number, str(exc)) from None
        records.append(CaseRecord(location=location, count=count, day=day, line=number))
    return records


def read_coordinates(path: Path | str) -> dict[str, tuple[float, float]]:
    """Read a SaTScan coordinates file (``location latitude longitude`` per line).

    Parameters
    ----------
    path : path-like
        The ``.geo`` file.

    Returns
    -------
    dict of str to (float, float)
        Location to (latitude, longitude), in file order.
    """
    coords: dict[str, tuple[float, float]] = {}
    first_line: dict[str, int] = {}
    for number, fields in _lines(path):
        if len(fields) != 3:
            raise SatscanFileError(
                path, number, f"expected 'location latitude longitude', got {len(fields)} fields"
            )
        location = fields[0]
        try:
            lat, lon = float(fields[1]), float(fields[2])
        except ValueError:
            raise SatscanFileError(
                path, number, f"latitude/longitude {fields[1]!r} {fields[2]!r} are not numbers"
            ) from None
        if not (math.isfinite(lat) and -90 <= lat <= 90):
            raise SatscanFileError(path, number, f"latitude {lat} is outside [-90, 90]")
        if not (math.isfinite(lon) and -180 <= lon <= 180):
            raise SatscanFileError(path, number, f"longitude {lon} is outside [-180, 180]")
        if location in coords:
            raise SatscanFileError(
                path, number, f"location {location!r} already given on line {first_line[location]}"
            )
        coords[location] = (lat, lon)
        first_line[location] = number
    return coords


def check_cases(
    records: Sequence[CaseRecord],
    coords: Mapping[str, object],
    *,
    path: Path | str,
    study_start: date | None = None,
    study_end: date | None = None,
) -> None:
    """Raise SatscanFileError for the first case naming an unknown location or outside the study.

    Parameters
    ----------
    records : sequence of CaseRecord
        As read by :func:`read_cases`.
    coords : mapping
        Known locations.
    path : path-like
        The case file, for the message.
    study_start, study_end : date or None
        Study period; a case outside it is an error.
    """
    for rec in records:
        if rec.location not in coords:
            raise SatscanFileError(
                path, rec.line, f"location {rec.location!r} is not in the coordinates file"
            )
        if (study_start is not None and rec.day < study_start) or (
            study_end is not None and rec.day > study_end
        ):
            raise SatscanFileError(
                path,
                rec.line,
                f"date {rec.day.isoformat()} is outside the study period "
                f"{study_start.isoformat() if study_start else '...'} to "
                f"{study_end.isoformat() if study_end else '...'}",
            )


def as_case_tuples(records: Iterable[CaseRecord]) -> list[tuple[str, date, int]]:
    """The (location, day, count) tuples :func:`space_time_permutation_scan` takes."""
    return [(r.location, r.day, r.count) for r in records]
