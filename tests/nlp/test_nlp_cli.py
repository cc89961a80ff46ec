"""`lanterne nlp classify` and `lanterne nlp evaluate`, driven through click's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from nlp.cli import nlp_cli
from nlp.training import load_split


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def _lines(output: str) -> list[dict]:
    return [json.loads(line) for line in output.splitlines() if line.strip()]


def test_classify_reads_stdin(runner: CliRunner, model_path: Path) -> None:
    stdin = "Le lampadaire est éteint depuis lundi\nGros nid de poule rue de Rome\n\n"
    result = runner.invoke(nlp_cli, ["classify", "--model", str(model_path)], input=stdin)
    assert result.exit_code == 0, result.output
    rows = _lines(result.output)
    assert [r["text"] for r in rows] == [
        "Le lampadaire est éteint depuis lundi",
        "Gros nid de poule rue de Rome",
        "",
    ]
    assert [r["service_code"] for r in rows] == ["streetlight", "road_damage", "other"]
    assert set(rows[0]) == {"text", "service_code", "confidence", "top"}
    assert rows[0]["top"][0] == [rows[0]["service_code"], rows[0]["confidence"]]
    assert len(rows[0]["top"]) == 3


def test_classify_reads_a_file_and_dash(
    runner: CliRunner, model_path: Path, tmp_path: Path
) -> None:
    path = tmp_path / "reports.txt"
    path.write_text("Les poubelles débordent\nThe traffic lights are stuck on red\n")
    from_file = runner.invoke(nlp_cli, ["classify", str(path), "--model", str(model_path)])
    from_dash = runner.invoke(
        nlp_cli, ["classify", "-", "--model", str(model_path)], input=path.read_text()
    )
    assert from_file.exit_code == 0, from_file.output
    assert from_file.output == from_dash.output
    assert [r["service_code"] for r in _lines(from_file.output)] == [
        "waste_bins",
        "traffic_signal",
    ]


def test_classify_uses_the_env_model(
    runner: CliRunner, model_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LANTERNE_MODEL", str(model_path))
    result = runner.invoke(nlp_cli, ["classify"], input="tags sur la façade\n")
    assert result.exit_code == 0, result.output
    assert _lines(result.output)[0]["service_code"] == "graffiti"


def test_classify_with_a_missing_model(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(
        nlp_cli, ["classify", "--model", str(tmp_path / "nope")], input="texte\n"
    )
    assert result.exit_code != 0
    assert "spacy project run all" in result.output


def _write_tsv(path: Path, rows: list[tuple[str, str]], header: str = "label\ttext") -> Path:
    path.write_text(header + "\n" + "".join(f"{lab}\t{txt}\n" for lab, txt in rows))
    return path


def test_evaluate_prints_a_report(runner: CliRunner, model_path: Path, tmp_path: Path) -> None:
    rows = [(r["label"], r["text"]) for r in load_split("test")[:120]]
    tsv = _write_tsv(tmp_path / "eval.tsv", rows)
    result = runner.invoke(nlp_cli, ["evaluate", str(tsv), "--model", str(model_path)])
    assert result.exit_code == 0, result.output
    assert "macro-F1" in result.output
    assert "confusion matrix" in result.output
    assert "precision" in result.output


def test_evaluate_json(runner: CliRunner, model_path: Path, tmp_path: Path) -> None:
    rows = [(r["label"], r["text"]) for r in load_split("test")]
    # Columns in another order, plus an extra column: found by name.
    tsv = tmp_path / "eval.tsv"
    tsv.write_text(
        "id\ttext\tlabel\n" + "".join(f"{i}\t{t}\t{lab}\n" for i, (lab, t) in enumerate(rows))
    )
    result = runner.invoke(nlp_cli, ["evaluate", str(tsv), "--json", "--model", str(model_path)])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert 0.0 <= data["macro_f1"] <= 1.0
    assert data["n"] == len(rows)
    assert sum(map(sum, data["confusion"])) == len(rows)
    assert set(data["per_category"]) <= set(data["labels"])


def test_evaluate_shows_progress_on_long_runs(
    runner: CliRunner, model_path: Path, tmp_path: Path
) -> None:
    rows = [(r["label"], r["text"]) for r in load_split("train")[:2500]]
    tsv = _write_tsv(tmp_path / "eval.tsv", rows)
    result = runner.invoke(nlp_cli, ["evaluate", str(tsv), "--json", "--model", str(model_path)])
    assert result.exit_code == 0, result.output
    assert "classifying" in result.stderr
    assert json.loads(result.stdout)["n"] == 2500


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("category\ttext\nnoise\tmusique\n", "missing column(s) label"),
        ("label\tdescription\nnoise\tmusique\n", "missing column(s) text"),
        ("label\ttext\npothole\tun trou\n", "unknown label 'pothole'"),
        ("label\ttext\n", "no data rows"),
        ("", "missing column(s) label, text"),
    ],
)
def test_evaluate_rejects_bad_files(
    runner: CliRunner, model_path: Path, tmp_path: Path, content: str, message: str
) -> None:
    tsv = tmp_path / "bad.tsv"
    tsv.write_text(content)
    result = runner.invoke(nlp_cli, ["evaluate", str(tsv), "--model", str(model_path)])
    assert result.exit_code != 0
    assert message in result.output
