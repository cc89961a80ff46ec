"""Reading SaTScan files: the real NYC fever files, and every kind of bad line."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from workers.signals.satscan_io import (
    SatscanFileError,
    check_cases,
    parse_date,
    read_cases,
    read_coordinates,
)

NYC = Path(__file__).resolve().parents[3] / ".." / "shared" / "reference" / "satscan_nycfever"


def test_reads_the_real_nyc_fever_files() -> None:
    cases = read_cases(NYC / "NYCfever.cas")
    coords = read_coordinates(NYC / "NYCfever.geo")
    assert len(coords) == 192
    assert sum(c.count for c in cases) == 194
    assert min(c.day for c in cases) == date(2001, 11, 1)
    assert max(c.day for c in cases) == date(2001, 11, 24)
    assert coords["10001"] == pytest.approx((40.75037, -73.99674))
    check_cases(cases, coords, path="NYCfever.cas")


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        ("A 1 2001/11/1\nB 1 2001/13/40\n", 2, "unparseable date '2001/13/40'"),
        ("A 1 2001/11/1\n\nB x 2001/11/2\n", 3, "is not a whole number"),
        ("A 1\n", 1, "expected 'location count date'"),
        ("A -2 2001/11/1\n", 1, "negative"),
        ("A 1 01-11-2001\n", 1, "unparseable date"),
    ],
)
def test_bad_case_lines_name_the_line_and_the_reason(
    tmp_path: Path, text: str, line: int, reason: str
) -> None:
    path = _write(tmp_path, "bad.cas", text)
    with pytest.raises(SatscanFileError, match=reason) as info:
        read_cases(path)
    assert info.value.line == line
    assert f"bad.cas, line {line}" in str(info.value)


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        ("A 43.3 5.4\nB 43.3\n", 2, "expected 'location latitude longitude'"),
        ("A 43.3 east\n", 1, "are not numbers"),
        ("A 95 5.4\n", 1, "latitude 95.0 is outside"),
        ("A 43.3 5.4\nA 43.4 5.5\n", 2, "already given on line 1"),
    ],
)
def test_bad_coordinate_lines_name_the_line_and_the_reason(
    tmp_path: Path, text: str, line: int, reason: str
) -> None:
    path = _write(tmp_path, "bad.geo", text)
    with pytest.raises(SatscanFileError, match=reason) as info:
        read_coordinates(path)
    assert info.value.line == line


def test_missing_and_empty_files(tmp_path: Path) -> None:
    with pytest.raises(SatscanFileError, match="file not found"):
        read_cases(tmp_path / "nope.cas")
    with pytest.raises(SatscanFileError, match="empty"):
        read_coordinates(_write(tmp_path, "empty.geo", "\n \n"))


def test_unknown_location_and_date_outside_the_study(tmp_path: Path) -> None:
    path = _write(tmp_path, "x.cas", "A 1 2001/11/1\nZ 1 2001/11/2\nA 1 2001/12/5\n")
    cases = read_cases(path)
    coords = {"A": (40.0, -74.0)}
    with pytest.raises(SatscanFileError, match="line 2: location 'Z' is not in"):
        check_cases(cases, coords, path=path)
    with pytest.raises(SatscanFileError, match="line 3: date 2001-12-05 is outside"):
        check_cases(
            cases[::2], coords, path=path,
            study_start=date(2001, 11, 1), study_end=date(2001, 11, 30),
        )  # fmt: skip


def test_parse_date_accepts_satscan_and_iso_forms() -> None:
    assert parse_date("2001/11/8") == date(2001, 11, 8)
    assert parse_date("2001-11-08") == date(2001, 11, 8)
    with pytest.raises(ValueError, match="unparseable"):
        parse_date("2001/02/30")
