"""``lanterne signals scan`` run through click on SaTScan's NYC fever files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from workers.signals.scan_cli import scan

NYC = Path(__file__).resolve().parents[3] / ".." / "shared" / "reference" / "satscan_nycfever"
CAS, GEO = str(NYC / "NYCfever.cas"), str(NYC / "NYCfever.geo")


def test_prospective_scan_prints_satscan_cluster_as_json() -> None:
    result = CliRunner().invoke(
        scan,
        ["--cases", CAS, "--coords", GEO, "--prospective", "--start", "2001/11/1",
         "--end", "2001/11/24", "--replications", "199", "--seed", "7"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["analysis"] == "prospective"
    mlc = out["clusters"][0]
    assert mlc["locations"][:3] == ["11418", "11415", "11419"]
    assert (mlc["start"], mlc["end"]) == ("2001-11-22", "2001-11-24")
    assert mlc["llr"] == pytest.approx(3.845418, abs=1e-6)
    assert mlc["observed"] == 4
    assert 0 < mlc["p_value"] <= 1
    assert mlc["recurrence_interval_days"] == pytest.approx(1 / mlc["p_value"])
    assert set(mlc) >= {"radius_km", "expected"}


def test_study_period_defaults_to_the_case_dates() -> None:
    result = CliRunner().invoke(
        scan, ["--cases", CAS, "--coords", GEO, "--replications", "0", "--max-temporal-days", "1"]
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert (out["study_start"], out["study_end"]) == ("2001-11-01", "2001-11-24")
    assert out["max_temporal_days"] == 1
    assert out["clusters"][0]["p_value"] is None


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(scan, ["--cases", str(tmp_path / "none.cas"), "--coords", GEO])
    assert result.exit_code != 0
    assert "none.cas: file not found" in result.output


def test_bad_line_unknown_location_and_date_outside(tmp_path: Path) -> None:
    bad = tmp_path / "bad.cas"
    bad.write_text("10001 1 2001/11/1\n10001 1 2001/11/31\n")
    result = CliRunner().invoke(scan, ["--cases", str(bad), "--coords", GEO])
    assert result.exit_code != 0
    assert "bad.cas, line 2: unparseable date '2001/11/31'" in result.output

    bad.write_text("10001 1 2001/11/1\n99999 1 2001/11/2\n")
    result = CliRunner().invoke(scan, ["--cases", str(bad), "--coords", GEO])
    assert result.exit_code != 0
    assert "line 2: location '99999' is not in the coordinates file" in result.output

    result = CliRunner().invoke(
        scan, ["--cases", CAS, "--coords", GEO, "--start", "2001/11/5", "--end", "2001/11/24"]
    )
    assert result.exit_code != 0
    assert "is outside the study period 2001-11-05 to 2001-11-24" in result.output


def test_temporal_options_are_exclusive_and_dates_checked() -> None:
    runner = CliRunner()
    both = runner.invoke(
        scan, ["--cases", CAS, "--coords", GEO, "--max-temporal-pct", "50",
               "--max-temporal-days", "3"],
    )  # fmt: skip
    assert both.exit_code == 2
    assert "not both" in both.output
    baddate = runner.invoke(scan, ["--cases", CAS, "--coords", GEO, "--start", "yesterday"])
    assert baddate.exit_code == 2
    assert "unparseable date 'yesterday'" in baddate.output
