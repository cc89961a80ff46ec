"""The ``nlp`` command group (mounted by the backend as ``lanterne nlp ...``).

``classify`` prints one JSON object per input line; ``evaluate`` scores a labelled TSV.
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterator
from typing import IO, Any

import click

from nlp.classifier import Classifier, ClassifierLoadError, Prediction, default_model
from nlp.taxonomy import SERVICE_CODES, is_service_code

nlp_cli = click.Group("nlp", help="Text classification of reports (spaCy).")

MODEL_OPTION_HELP = (
    "Model package name or directory (default: $LANTERNE_MODEL, else the installed "
    "fr_lanterne_textcat package, else nlp/build/model)."
)
# Progress is shown on stderr only for runs long enough to be worth watching.
PROGRESS_MIN_ROWS = 2000
CHUNK = 512


def _load(model: str | None) -> Classifier:
    try:
        return Classifier.load(model or default_model())
    except ClassifierLoadError as exc:
        raise click.ClickException(str(exc)) from exc


def _prediction_json(text: str, pred: Prediction) -> str:
    return json.dumps(
        {
            "text": text,
            "service_code": pred.service_code,
            "confidence": pred.confidence,
            "top": [[code, conf] for code, conf in pred.top],
        },
        ensure_ascii=False,
    )


def _chunks(lines: IO[str]) -> Iterator[list[str]]:
    chunk: list[str] = []
    for line in lines:
        chunk.append(line.rstrip("\r\n"))
        if len(chunk) >= CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


@nlp_cli.command("classify")
@click.argument("file", type=click.File("r", encoding="utf-8"), default="-")
@click.option("--model", "model", default=None, help=MODEL_OPTION_HELP)
def classify_command(file: IO[str], model: str | None) -> None:
    """Classify one text per line of FILE (stdin by default) into JSON lines."""
    clf = _load(model)
    for chunk in _chunks(file):
        for text, pred in zip(chunk, clf.classify_many(chunk), strict=True):
            click.echo(_prediction_json(text, pred))


def _read_tsv(file: IO[str]) -> tuple[list[str], list[str]]:
    reader = csv.DictReader(file, delimiter="\t", quoting=csv.QUOTE_NONE)
    header = reader.fieldnames or []
    missing = [c for c in ("label", "text") if c not in header]
    if missing:
        found = ", ".join(header) if header else "nothing"
        raise click.ClickException(
            f"missing column(s) {', '.join(missing)} in the TSV header (found: {found}); "
            "the first line must name the columns, e.g. 'label<TAB>text'"
        )
    labels: list[str] = []
    texts: list[str] = []
    for lineno, row in enumerate(reader, start=2):
        label = (row.get("label") or "").strip()
        if not is_service_code(label):
            raise click.ClickException(
                f"line {lineno}: unknown label {label!r}; expected one of "
                + ", ".join(SERVICE_CODES)
            )
        labels.append(label)
        texts.append(row.get("text") or "")
    if not labels:
        raise click.ClickException("the TSV has no data rows")
    return labels, texts


def _print_report(metrics: dict[str, Any]) -> None:
    labels: list[str] = metrics["labels"]
    width = max(len(label) for label in labels + ["macro-F1"])
    click.echo(f"{'category':<{width}}  precision  recall     f1  support")
    for label in labels:
        m = metrics["per_category"][label]
        click.echo(
            f"{label:<{width}}  {m['precision']:9.3f}  {m['recall']:6.3f}  {m['f1']:5.3f}"
            f"  {m['support']:7d}"
        )
    click.echo(f"{'macro-F1':<{width}}  {metrics['macro_f1']:.4f}")
    click.echo(f"{'accuracy':<{width}}  {metrics['accuracy']:.4f}  (n = {metrics['n']})")
    click.echo("")
    click.echo("confusion matrix (rows: gold, columns: predicted)")
    short = [label[:6] for label in labels]
    click.echo(" " * width + "  " + " ".join(f"{s:>6}" for s in short))
    for label, row in zip(labels, metrics["confusion"], strict=True):
        click.echo(f"{label:<{width}}  " + " ".join(f"{v:6d}" for v in row))


@nlp_cli.command("evaluate")
@click.argument("file", type=click.File("r", encoding="utf-8"))
@click.option("--model", "model", default=None, help=MODEL_OPTION_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
def evaluate_command(file: IO[str], model: str | None, as_json: bool) -> None:
    """Score the model on FILE.tsv (header with 'label' and 'text' columns)."""
    from nlp.training import classification_metrics

    labels, texts = _read_tsv(file)
    clf = _load(model)
    predicted: list[str] = []
    chunks = [texts[i : i + CHUNK] for i in range(0, len(texts), CHUNK)]
    if len(texts) >= PROGRESS_MIN_ROWS:
        with click.progressbar(chunks, label="classifying", file=sys.stderr) as bar:
            for chunk in bar:
                predicted.extend(p.service_code for p in clf.classify_many(chunk))
    else:
        for chunk in chunks:
            predicted.extend(p.service_code for p in clf.classify_many(chunk))
    metrics = classification_metrics(labels, predicted)
    metrics["model_version"] = clf.model_version
    if as_json:
        click.echo(json.dumps(metrics, indent=2))
    else:
        _print_report(metrics)
