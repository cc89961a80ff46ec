"""The street gazetteer: ``lanterne streets import`` of Marseille's list and of GeoJSON."""

from __future__ import annotations

import json
from pathlib import Path

from flask import Flask
from sqlmodel import Session, select

from backend.cli import main
from backend.models import Street
from backend.services.streets import fold
from tests.conftest import reference_path


def test_fold_drops_accents_case_and_punctuation() -> None:
    assert fold("Rue de l'Évêché") == "rue de l eveche"
    assert fold("  Boulevard   Baille ") == "boulevard baille"
    assert fold("Place Valère-Bernard (13006)") == "place valere bernard 13006"


def test_cli_imports_marseille_streets_into_their_quartiers_and_is_idempotent(
    app: Flask, session: Session, marseille_areas: int
) -> None:
    runner = app.test_cli_runner()
    path = str(reference_path("marseille", "streets.json"))
    expected = len(json.loads(Path(path).read_text()))
    first = runner.invoke(main, ["streets", "import", path])
    assert first.exit_code == 0, first.output
    assert f"{expected} streets imported (0 replaced)" in first.output
    again = runner.invoke(main, ["streets", "import", path])
    assert again.exit_code == 0, again.output
    assert f"{expected} streets imported ({expected} replaced)" in again.output
    streets = session.exec(select(Street)).all()
    assert len(streets) == expected
    cours = [s for s in streets if s.name == "Cours Julien"]
    assert len(cours) == 1
    # Notre-Dame-du-Mont, in the 6th arrondissement: the point is placed in its quartier.
    assert cours[0].district == "NOTRE-DAME-DU-MONT"
    assert cours[0].area_code is not None and cours[0].area_code.startswith("13206")
    assert cours[0].folded == "cours julien"
    located = [s for s in streets if s.area_code]
    assert len(located) > 0.95 * expected


def test_geojson_points_and_linestrings_are_read(
    app: Flask, session: Session, tmp_path: Path
) -> None:
    data = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"name": "Rue Sainte"},
                "geometry": {"type": "Point", "coordinates": [5.3705, 43.2920]},
            },
            {
                "type": "Feature",
                "properties": {"name": "La Canebière", "quartier": "BELSUNCE"},
                "geometry": {
                    "type": "LineString",
                    "coordinates": [[5.3740, 43.2970], [5.3780, 43.2980], [5.3820, 43.2990]],
                },
            },
        ],
    }
    path = tmp_path / "streets.geojson"
    path.write_text(json.dumps(data))
    result = app.test_cli_runner().invoke(main, ["streets", "import", str(path)])
    assert result.exit_code == 0, result.output
    assert "2 streets imported" in result.output
    rows = {s.name: s for s in session.exec(select(Street))}
    assert rows["Rue Sainte"].lat == 43.292 and rows["Rue Sainte"].lon == 5.3705
    # The middle of the line, on the street.
    assert rows["La Canebière"].lon == 5.378 and rows["La Canebière"].lat == 43.298
    assert rows["La Canebière"].district == "BELSUNCE"
    assert rows["La Canebière"].folded == "la canebiere"


def test_a_bad_file_is_refused_and_keeps_the_streets_already_imported(
    app: Flask, session: Session, tmp_path: Path
) -> None:
    runner = app.test_cli_runner()
    good = tmp_path / "good.json"
    good.write_text(json.dumps([{"name": "Rue Paradis", "centroid": [5.378, 43.288]}]))
    assert runner.invoke(main, ["streets", "import", str(good)]).exit_code == 0

    missing = runner.invoke(main, ["streets", "import", str(tmp_path / "nope.json")])
    assert missing.exit_code != 0 and "no such file" in missing.output
    broken = tmp_path / "broken.json"
    broken.write_text("[{")
    result = runner.invoke(main, ["streets", "import", str(broken)])
    assert result.exit_code != 0 and "not a JSON file" in result.output
    cases = {
        "item 2: no name": [{"name": "A", "centroid": [5.3, 43.2]}, {"centroid": [5.3, 43.2]}],
        "item 1 (B): no centroid": [{"name": "B"}],
        "is not a longitude, latitude": [{"name": "C", "centroid": [543.2, 5.3]}],
        "must be [longitude, latitude]": [{"name": "D", "centroid": "5.3,43.2"}],
        "expected a list of streets": {"streets": []},
        "no streets in the file": [],
        "feature 1: a Polygon geometry": {
            "type": "FeatureCollection",
            "features": [
                {
                    "type": "Feature",
                    "properties": {"name": "E"},
                    "geometry": {"type": "Polygon", "coordinates": [[[5, 43], [5, 44], [6, 43]]]},
                }
            ],
        },
    }
    for message, content in cases.items():
        bad = tmp_path / "bad.json"
        bad.write_text(json.dumps(content))
        result = runner.invoke(main, ["streets", "import", str(bad)])
        assert result.exit_code != 0, message
        assert message in result.output and "Nothing was imported" in result.output, result.output
    assert [s.name for s in session.exec(select(Street))] == ["Rue Paradis"]
