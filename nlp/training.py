"""Training helpers: corpus conversion, calibration, evaluation, retraining and promotion.

The spaCy project (``nlp/project.yml``) calls the command-line entry points at the bottom of
this module (``python -m nlp.training convert|calibrate|report``); the feedback loop calls
:func:`retrain` and :func:`should_promote`. Training itself is spaCy's own
(:func:`spacy.cli.train.train`) with the committed config, so the build and a retrain
produce the same kind of model.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import shutil
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from nlp.classifier import META_KEY, Classifier, clean_text, model_text
from nlp.language import detect_language
from nlp.taxonomy import OTHER, SERVICE_CODES, is_service_code

NLP_DIR = Path(__file__).resolve().parent
CORPUS_DIR = NLP_DIR / "corpus"
DEFAULT_CONFIG = NLP_DIR / "configs" / "textcat_bow.cfg"
MODEL_NAME = "lanterne_textcat"
DEFAULT_VERSION = "0.1.0"
# Precision wanted on reports routed without a human (chosen on dev, see docs/nlp.md).
TARGET_AUTO_PRECISION = 0.98
ECE_BINS = 10


@dataclass(frozen=True)
class TrainResult:
    """The outcome of a (re)training: where the model is and how it scores on test."""

    model_dir: Path
    macro_f1: float
    per_category: dict[str, dict[str, float]]
    metrics: dict[str, Any] = field(repr=False)
    train_seconds: float


# --- data ---------------------------------------------------------------------------------
def load_split(name: str, corpus_dir: Path = CORPUS_DIR) -> list[dict[str, str]]:
    """Load a frozen corpus split ("train", "dev" or "test") as a list of row dicts."""
    path = corpus_dir / f"{name}.jsonl"
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def to_docbin(rows: Iterable[Mapping[str, str]], output: Path) -> int:
    """Write rows ({"text", "label"}) as a spaCy DocBin of model-ready docs; return count."""
    import spacy
    from spacy.tokens import DocBin

    nlp = spacy.blank("fr")
    db = DocBin(store_user_data=False)
    n = 0
    for row in rows:
        label = row["label"]
        if not is_service_code(label):
            raise ValueError(f"unknown label {label!r}")
        doc = nlp.make_doc(model_text(clean_text(row["text"])))
        doc.cats = {code: float(code == label) for code in SERVICE_CODES}
        db.add(doc)
        n += 1
    output.parent.mkdir(parents=True, exist_ok=True)
    db.to_disk(output)
    return n


# --- metrics ------------------------------------------------------------------------------
def classification_metrics(
    gold: Sequence[str], pred: Sequence[str], labels: Sequence[str] | None = None
) -> dict[str, Any]:
    """Per-category precision/recall/F1, macro-F1, accuracy and the confusion matrix.

    Parameters
    ----------
    gold, pred : sequence of str
        Gold and predicted service codes, aligned.
    labels : sequence of str, optional
        Label order; default: catalogue codes present in gold or pred. Macro-F1 averages
        over these labels.

    Returns
    -------
    dict
        ``per_category`` {label: {precision, recall, f1, support}}, ``macro_f1``,
        ``accuracy``, ``n``, ``labels`` and ``confusion`` (rows gold, columns predicted).
    """
    if len(gold) != len(pred):
        raise ValueError("gold and pred differ in length")
    if labels is None:
        present = set(gold) | set(pred)
        labels = [c for c in SERVICE_CODES if c in present]
    index = {label: i for i, label in enumerate(labels)}
    confusion = np.zeros((len(labels), len(labels)), dtype=int)
    for g, p in zip(gold, pred, strict=True):
        confusion[index[g], index[p]] += 1
    per_category: dict[str, dict[str, float]] = {}
    for label, i in index.items():
        tp = int(confusion[i, i])
        predicted = int(confusion[:, i].sum())
        support = int(confusion[i, :].sum())
        precision = tp / predicted if predicted else 0.0
        recall = tp / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_category[label] = {
            "precision": precision,
            "recall": recall,
            "f1": f1,
            "support": support,
        }
    n = len(gold)
    return {
        "n": n,
        "labels": list(labels),
        "per_category": per_category,
        "macro_f1": float(np.mean([m["f1"] for m in per_category.values()])) if labels else 0.0,
        "accuracy": float(np.trace(confusion) / n) if n else 0.0,
        "confusion": confusion.tolist(),
    }


def expected_calibration_error(
    confidences: Sequence[float], correct: Sequence[bool], bins: int = ECE_BINS
) -> float:
    """Expected calibration error with equal-width confidence bins.

    Parameters
    ----------
    confidences : sequence of float
        Confidence of the top prediction, in [0, 1].
    correct : sequence of bool
        Whether the top prediction was right.
    bins : int
        Number of equal-width bins over [0, 1].

    Returns
    -------
    float
        sum over bins of (bin size / n) * |accuracy(bin) - mean confidence(bin)|.
    """
    conf = np.asarray(confidences, dtype=float)
    ok = np.asarray(correct, dtype=float)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(conf, edges[1:-1], right=True), 0, bins - 1)
    ece = 0.0
    for b in range(bins):
        mask = which == b
        if mask.any():
            ece += mask.mean() * abs(ok[mask].mean() - conf[mask].mean())
    return float(ece)


# --- calibration --------------------------------------------------------------------------
def raw_probabilities(nlp: Any, texts: Sequence[str]) -> tuple[list[str], np.ndarray]:
    """Return the textcat labels and the uncalibrated probability matrix for texts."""
    labels = list(nlp.get_pipe("textcat").labels)
    docs = nlp.pipe([model_text(clean_text(t)) for t in texts], batch_size=256)
    matrix = np.array([[doc.cats[label] for label in labels] for doc in docs], dtype=float)
    return labels, matrix


def _scaled(probs: np.ndarray, temperature: float) -> np.ndarray:
    logits = np.log(np.clip(probs, 1e-12, 1.0)) / temperature
    logits -= logits.max(axis=1, keepdims=True)
    exps = np.exp(logits)
    return exps / exps.sum(axis=1, keepdims=True)


def fit_temperature(probs: np.ndarray, gold_idx: np.ndarray) -> float:
    """Fit the temperature minimising the negative log-likelihood on held-out data.

    Parameters
    ----------
    probs : ndarray, shape (n, k)
        Softmax outputs of the model.
    gold_idx : ndarray, shape (n,)
        Index of the gold label of each row.

    Returns
    -------
    float
        The temperature T of softmax(log(p) / T), searched on a log grid over [0.05, 20]
        (a grid keeps the fit deterministic and needs no optimiser).
    """
    grid = np.exp(np.linspace(np.log(0.05), np.log(20.0), 1201))
    rows = np.arange(len(gold_idx))
    best_t, best_nll = 1.0, float("inf")
    for t in grid:
        nll = -np.log(np.clip(_scaled(probs, float(t))[rows, gold_idx], 1e-12, 1.0)).mean()
        if nll < best_nll:
            best_t, best_nll = float(t), float(nll)
    return best_t


def choose_threshold(
    confidences: np.ndarray, predicted: Sequence[str], gold: Sequence[str]
) -> tuple[float, dict[str, float]]:
    """Smallest confidence threshold whose auto-routed reports reach the target precision.

    A report is auto-routed when its confidence reaches the threshold and its category is
    not ``other`` (which always goes to triage). Returns the threshold and, at that
    threshold, the precision of auto-routed reports and the share sent to triage.
    """
    pred = np.asarray(predicted)
    right = pred == np.asarray(gold)
    routable = pred != OTHER
    for t in np.round(np.arange(0.0, 1.0, 0.01), 2):
        auto = routable & (confidences >= t)
        precision = float(right[auto].mean()) if auto.any() else 1.0
        if precision >= TARGET_AUTO_PRECISION:
            return float(t), {
                "auto_precision": precision,
                "triage_rate": float(1 - auto.mean()),
            }
    return 0.99, {"auto_precision": 1.0, "triage_rate": 1.0}


def calibrate(
    model_dir: Path,
    output_dir: Path,
    dev_rows: Sequence[Mapping[str, str]],
    *,
    version: str = DEFAULT_VERSION,
    name: str = MODEL_NAME,
) -> dict[str, Any]:
    """Fit temperature and triage threshold on dev; save the model with them in its meta.

    The calibration goes into ``meta.json`` (section ``lanterne``, which ``spacy package``
    keeps) and into a readable ``calibration.json`` sidecar in ``output_dir``.
    """
    import spacy

    nlp = spacy.load(model_dir)
    texts = [r["text"] for r in dev_rows]
    gold = [r["label"] for r in dev_rows]
    labels, probs = raw_probabilities(nlp, texts)
    gold_idx = np.array([labels.index(g) for g in gold])
    temperature = fit_temperature(probs, gold_idx)
    scaled = _scaled(probs, temperature)
    predicted = [labels[i] for i in scaled.argmax(axis=1)]
    confidences = scaled.max(axis=1)
    threshold, at_threshold = choose_threshold(confidences, predicted, gold)
    correct = [p == g for p, g in zip(predicted, gold, strict=True)]
    calibration = {
        "temperature": temperature,
        "threshold": threshold,
        "target_auto_precision": TARGET_AUTO_PRECISION,
        "dev": {
            "n": len(gold),
            "ece_before": expected_calibration_error(probs.max(axis=1), correct),
            "ece_after": expected_calibration_error(confidences, correct),
            **at_threshold,
        },
    }
    nlp.meta["name"] = name
    nlp.meta["version"] = version
    nlp.meta["description"] = (
        "Lanterne: citizen report text -> service category (textcat, calibrated)."
    )
    nlp.meta["license"] = "AGPL-3.0-or-later"
    nlp.meta[META_KEY] = calibration
    if output_dir.exists():
        shutil.rmtree(output_dir)
    nlp.to_disk(output_dir)
    (output_dir / "calibration.json").write_text(json.dumps(calibration, indent=2) + "\n")
    return calibration


# --- evaluation ---------------------------------------------------------------------------
def evaluate_model(model: str | Path, rows: Sequence[Mapping[str, str]]) -> dict[str, Any]:
    """Evaluate a calibrated model through the Classifier (language gate included).

    Returns :func:`classification_metrics` plus ``ece_before``/``ece_after`` (uncalibrated
    and calibrated top confidence), ``triage_rate`` and ``auto_precision``.
    """
    clf = Classifier.load(model)
    texts = [r["text"] for r in rows]
    gold = [r["label"] for r in rows]
    preds = clf.classify_many(texts)
    metrics = classification_metrics(gold, [p.service_code for p in preds], SERVICE_CODES)
    labels, probs = raw_probabilities(clf.nlp, texts)
    raw_pred = [labels[i] for i in probs.argmax(axis=1)]
    scaled = _scaled(probs, clf.temperature)
    raw_ok = [p == g for p, g in zip(raw_pred, gold, strict=True)]
    auto = [p for p in preds if not p.needs_triage]
    auto_ok = [p.service_code == g for p, g in zip(preds, gold, strict=True) if not p.needs_triage]
    metrics.update(
        {
            "ece_before": expected_calibration_error(probs.max(axis=1), raw_ok),
            "ece_after": expected_calibration_error(scaled.max(axis=1), raw_ok),
            "threshold": clf.threshold,
            "triage_rate": 1 - len(auto) / len(preds) if preds else 0.0,
            "auto_precision": sum(auto_ok) / len(auto_ok) if auto_ok else 1.0,
            "model_version": clf.model_version,
        }
    )
    return metrics


def record_metrics(model_dir: Path, metrics: Mapping[str, Any]) -> None:
    """Store test metrics beside the model (metrics.json) and a summary in its meta."""
    (model_dir / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    meta_path = model_dir / "meta.json"
    meta = json.loads(meta_path.read_text())
    meta.setdefault(META_KEY, {})["test"] = {
        "macro_f1": metrics["macro_f1"],
        "accuracy": metrics["accuracy"],
        "ece_after": metrics["ece_after"],
        "f1": {k: v["f1"] for k, v in metrics["per_category"].items()},
    }
    meta_path.write_text(json.dumps(meta, indent=2) + "\n")


# --- training and the feedback loop -------------------------------------------------------
def train_pipeline(
    config: Path,
    output: Path,
    train_path: Path,
    dev_path: Path,
    *,
    seed: int = 0,
    overrides: Mapping[str, Any] | None = None,
    quiet: bool = True,
) -> Path:
    """Run spaCy's own training with ``config``; return the best model's directory."""
    from spacy.cli.train import train

    all_overrides = {
        "paths.train": str(train_path),
        "paths.dev": str(dev_path),
        "system.seed": seed,
        **(overrides or {}),
    }
    sink = io.StringIO()
    with contextlib.redirect_stdout(sink) if quiet else contextlib.nullcontext():
        train(config, output, use_gpu=-1, overrides=all_overrides)
    return output / "model-best"


def retrain(
    extra_examples: list[tuple[str, str]],
    output_dir: Path,
    *,
    seed: int = 0,
    config: Path = DEFAULT_CONFIG,
    version: str = DEFAULT_VERSION,
    overrides: Mapping[str, Any] | None = None,
) -> TrainResult:
    """Train on the corpus train split plus gold corrections; evaluate on the frozen test.

    Parameters
    ----------
    extra_examples : list of (text, service_code)
        Gold labels from triage corrections. Unknown codes raise ValueError; texts
        without letters are skipped (they carry nothing to learn).
    output_dir : Path
        Where the calibrated model directory is written (replaced if it exists).
    seed : int
        Training seed (spaCy's ``system.seed``): same inputs, same model.
    config : Path
        The spaCy training config (the build's by default).
    version : str
        Version written to the model's meta (the caller records model versions).
    overrides : mapping, optional
        Extra config overrides (e.g. ``{"training.max_steps": 100}`` in tests).

    Returns
    -------
    TrainResult
        Model directory, test macro-F1, per-category metrics, all metrics, training time.
    """
    for _text, label in extra_examples:
        if not is_service_code(label):
            raise ValueError(f"unknown service code {label!r} in extra examples")
    extra_rows = [
        {"text": t, "label": label, "lang": detect_language(t)}
        for t, label in extra_examples
        if any(c.isalpha() for c in t)
    ]
    train_rows = load_split("train") + extra_rows
    dev_rows = load_split("dev")
    output_dir = Path(output_dir)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="lanterne-retrain-") as tmp:
        work = Path(tmp)
        to_docbin(train_rows, work / "train.spacy")
        to_docbin(dev_rows, work / "dev.spacy")
        best = train_pipeline(
            config,
            work / "training",
            work / "train.spacy",
            work / "dev.spacy",
            seed=seed,
            overrides=overrides,
        )
        calibrate(best, output_dir, dev_rows, version=version)
    seconds = time.perf_counter() - start
    metrics = evaluate_model(output_dir, load_split("test"))
    metrics["train_seconds"] = seconds
    metrics["extra_examples"] = len(extra_rows)
    record_metrics(output_dir, metrics)
    return TrainResult(
        model_dir=output_dir,
        macro_f1=metrics["macro_f1"],
        per_category=metrics["per_category"],
        metrics=metrics,
        train_seconds=seconds,
    )


def should_promote(
    new_metrics: Mapping[str, Any] | TrainResult,
    current_metrics: Mapping[str, Any] | TrainResult | None,
) -> bool:
    """Promote only if test macro-F1 does not drop (anything beats no current model)."""
    if current_metrics is None:
        return True

    def macro(m: Mapping[str, Any] | TrainResult) -> float:
        return float(m.macro_f1 if isinstance(m, TrainResult) else m["macro_f1"])

    # Rounded so float noise in an identical retrain never blocks a promotion.
    return round(macro(new_metrics), 6) >= round(macro(current_metrics), 6)


# --- entry points for nlp/project.yml -----------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    """Command-line steps of the spaCy project: convert, calibrate, report."""
    parser = argparse.ArgumentParser(prog="python -m nlp.training")
    sub = parser.add_subparsers(dest="cmd", required=True)
    conv = sub.add_parser("convert", help="JSONL splits -> .spacy DocBins")
    conv.add_argument("corpus_dir", type=Path)
    conv.add_argument("output_dir", type=Path)
    cal = sub.add_parser("calibrate", help="fit temperature and threshold on dev")
    cal.add_argument("model_dir", type=Path)
    cal.add_argument("output_dir", type=Path)
    cal.add_argument("--dev", type=Path, required=True)
    cal.add_argument("--version", default=DEFAULT_VERSION)
    cal.add_argument("--name", default=MODEL_NAME)
    rep = sub.add_parser("report", help="evaluate a calibrated model on a JSONL split")
    rep.add_argument("model_dir", type=Path)
    rep.add_argument("split", type=Path)
    rep.add_argument("--output", type=Path, required=True)
    rep.add_argument("--record", action="store_true", help="also store metrics in the model")
    args = parser.parse_args(argv)

    if args.cmd == "convert":
        for split in ("train", "dev", "test"):
            rows = load_split(split, args.corpus_dir)
            n = to_docbin(rows, args.output_dir / f"{split}.spacy")
            print(f"{split}: {n} docs -> {args.output_dir / f'{split}.spacy'}")
    elif args.cmd == "calibrate":
        with args.dev.open(encoding="utf-8") as fh:
            dev_rows = [json.loads(line) for line in fh if line.strip()]
        calibration = calibrate(
            args.model_dir, args.output_dir, dev_rows, version=args.version, name=args.name
        )
        print(json.dumps(calibration, indent=2))
    else:
        with args.split.open(encoding="utf-8") as fh:
            rows = [json.loads(line) for line in fh if line.strip()]
        metrics = evaluate_model(args.model_dir, rows)
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(metrics, indent=2) + "\n")
        if args.record:
            record_metrics(args.model_dir, metrics)
        width = max(len(c) for c in metrics["labels"])
        for label, m in metrics["per_category"].items():
            print(
                f"{label:<{width}}  P {m['precision']:.3f}  R {m['recall']:.3f}  F1 {m['f1']:.3f}"
            )
        print(
            f"macro-F1 {metrics['macro_f1']:.4f}  accuracy {metrics['accuracy']:.4f}  "
            f"ECE {metrics['ece_before']:.4f} -> {metrics['ece_after']:.4f}  "
            f"triage {metrics['triage_rate']:.1%} at threshold {metrics['threshold']:.2f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
