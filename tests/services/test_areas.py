"""Areas from GeoJSON, and the CLI that imports them."""

from __future__ import annotations

import json
from pathlib import Path

from flask import Flask
from sqlmodel import Session, select

from backend.cli import main
from backend.models import Area
from backend.services.areas import AREA_INDEX
from tests.conftest import reference_path

ARGS = ["--level", "quartier", "--code-field", "code_qua", "--name-field", "nom"]


def test_cli_imports_marseille_quartiers_and_is_idempotent(app: Flask, session: Session) -> None:
    runner = app.test_cli_runner()
    path = str(reference_path("marseille", "quartiers.geojson"))
    first = runner.invoke(main, ["areas", "import", path, *ARGS, "--parent-field", "DEPCO"])
    assert first.exit_code == 0, first.output
    assert "111 created, 0 updated" in first.output
    again = runner.invoke(main, ["areas", "import", path, *ARGS, "--parent-field", "DEPCO"])
    assert "0 created, 111 updated" in again.output
    areas = session.exec(select(Area)).all()
    assert len(areas) == 111
    assert {a.parent_code for a in areas} == {str(13200 + i) for i in range(1, 17)}
    # Every representative point lies in its own area.
    for area in areas:
        assert AREA_INDEX.locate(session, area.centroid_lat, area.centroid_lon) == area.code


def test_cli_refuses_a_bad_file_and_imports_nothing(
    app: Flask, session: Session, tmp_path: Path
) -> None:
    runner = app.test_cli_runner()
    missing = runner.invoke(main, ["areas", "import", str(tmp_path / "nope.geojson"), *ARGS])
    assert missing.exit_code != 0 and "no such file" in missing.output
    broken = tmp_path / "broken.geojson"
    broken.write_text("{not json")
    result = runner.invoke(main, ["areas", "import", str(broken), *ARGS])
    assert result.exit_code != 0 and "not a JSON file" in result.output
    data = json.loads(reference_path("marseille", "quartiers.geojson").read_text())
    del data["features"][5]["properties"]["nom"]
    partial = tmp_path / "partial.geojson"
    partial.write_text(json.dumps(data))
    result = runner.invoke(main, ["areas", "import", str(partial), *ARGS])
    assert result.exit_code != 0
    assert "feature 6" in result.output and "'nom'" in result.output
    assert session.exec(select(Area)).all() == []
