"""GeoJSON points, read as a stream (FeatureCollection or one Feature a line)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from sqlmodel import Session, col, select

from backend.models import Incident
from workers.importers import geojson

Lanterne = Callable[..., Result]

MAPPING = """\
[occurred_at]
date = "date"
formats = ["iso"]

[kind]
column = "type"
prefix = "voirie:"
"""


def _feature(n: int, lon: float, lat: float, kind: str = "Point", **props: Any) -> dict[str, Any]:
    coords: Any = [lon, lat] if kind == "Point" else [[lon, lat], [lon + 0.001, lat]]
    return {
        "type": "Feature",
        "id": f"F{n}",
        "geometry": {"type": kind, "coordinates": coords},
        "properties": {"date": f"2024-04-0{n}T08:30:00+02:00", "type": "nid_de_poule", **props},
    }


FEATURES = [
    _feature(1, 5.38196, 43.28898, gravite=2, note="devant le 12"),
    _feature(2, 5.38337, 43.29352, gravite=1),
    _feature(3, 5.37782, 43.29029, gravite=3),
    _feature(4, 5.37782, 43.29029, kind="LineString"),
]


def _files(tmp_path: Path) -> tuple[Path, Path]:
    mapping = tmp_path / "voirie.toml"
    mapping.write_text(MAPPING, encoding="utf-8")
    data = tmp_path / "voirie.geojson"
    collection = {
        "type": "FeatureCollection",
        "name": "voirie",
        "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:OGC:1.3:CRS84"}},
        "features": FEATURES,
    }
    data.write_text(json.dumps(collection, indent=1, ensure_ascii=False), encoding="utf-8")
    return data, mapping


def _incidents(session: Session) -> list[Incident]:
    return list(session.exec(select(Incident).order_by(col(Incident.external_id))))


@pytest.mark.parametrize("chunk", [1 << 20, 37])
def test_points_are_imported_and_other_geometries_rejected_with_their_line(
    lanterne: Lanterne,
    session: Session,
    marseille_areas: int,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    chunk: int,
) -> None:
    # A tiny read chunk makes every feature straddle buffer boundaries, as in a 1 GB file.
    monkeypatch.setattr(geojson, "CHUNK", chunk)
    data, mapping = _files(tmp_path)
    args = ["import", "incidents", data, "--source", "voirie", "--format", "geojson"]
    args += ["--mapping", mapping]
    refused = lanterne(*args)
    assert refused.exit_code == 1
    line = [line for n, line, _ in geojson.iter_features(data) if n == 4][0]
    assert f"voirie.geojson line {line}: feature 4: a LineString geometry, not a point" in (
        refused.output
    )
    assert _incidents(session) == []

    result = lanterne(*args, "--skip-bad")
    assert result.exit_code == 0, result.output
    assert "3 inserted, 0 updated, 1 rejected" in result.output
    first, second, third = _incidents(session)
    assert first.external_id == "F1" and first.kind == "voirie:nid_de_poule"
    assert first.occurred_at == datetime(2024, 4, 1, 6, 30, tzinfo=UTC)
    assert (first.lat, first.lon) == pytest.approx((43.28898, 5.38196))
    assert first.attributes == {"gravite": 2, "note": "devant le 12"}
    assert first.area_code and third.area_code


def test_newline_delimited_features_and_reimport(
    lanterne: Lanterne, session: Session, tmp_path: Path
) -> None:
    _, mapping = _files(tmp_path)
    data = tmp_path / "voirie.geojsonl"
    data.write_text("\n".join(json.dumps(f) for f in FEATURES[:3]) + "\n", encoding="utf-8")
    args = ["import", "incidents", data, "--source", "voirie", "--format", "geojson"]
    args += ["--mapping", mapping]
    assert "3 inserted" in lanterne(*args).output
    assert "0 inserted, 3 updated" in lanterne(*args).output
    assert len(_incidents(session)) == 3


def test_features_are_located_by_line(tmp_path: Path) -> None:
    data, _ = _files(tmp_path)
    lines = data.read_text(encoding="utf-8").splitlines()
    found = list(geojson.iter_features(data))
    assert [n for n, _, _ in found] == [1, 2, 3, 4]
    for _n, line, feature in found:
        assert lines[line - 1].strip() == "{"
        assert lines[line].strip() == '"type": "Feature",'
        assert feature["type"] == "Feature"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '{"type": "FeatureCollection", "crs": {"type": "name", "properties": '
            '{"name": "urn:ogc:def:crs:EPSG::2154"}}, "features": []}',
            "convert the file to WGS84",
        ),
        ('{"type": "FeatureCollection", "features": [{"type": "Feature",', "ends too early"),
        ("[1, 2]", "not GeoJSON"),
        ('{"type": "Topology"}', "not GeoJSON"),
    ],
)
def test_files_that_are_not_usable_geojson(
    lanterne: Lanterne, session: Session, tmp_path: Path, text: str, message: str
) -> None:
    _, mapping = _files(tmp_path)
    data = tmp_path / "bad.geojson"
    data.write_text(text, encoding="utf-8")
    result = lanterne(
        "import", "incidents", data, "--source", "v", "--format", "geojson", "--mapping", mapping
    )
    assert result.exit_code == 1
    assert message in result.output and "Nothing was imported" in result.output
