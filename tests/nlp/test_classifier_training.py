"""Training helpers: metrics, calibration maths, promotion rule, a short retrain."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nlp.classifier import Classifier, calibrated
from nlp.training import (
    TrainResult,
    classification_metrics,
    expected_calibration_error,
    fit_temperature,
    retrain,
    should_promote,
)


def test_classification_metrics_by_hand() -> None:
    gold = ["noise", "noise", "graffiti", "graffiti", "other"]
    pred = ["noise", "graffiti", "graffiti", "graffiti", "noise"]
    m = classification_metrics(gold, pred)
    assert m["labels"] == ["graffiti", "noise", "other"]
    assert m["per_category"]["graffiti"] == pytest.approx(
        {"precision": 2 / 3, "recall": 1.0, "f1": 0.8, "support": 2}
    )
    assert m["per_category"]["noise"]["f1"] == pytest.approx(0.5)
    assert m["per_category"]["other"]["f1"] == 0.0
    assert m["macro_f1"] == pytest.approx((0.8 + 0.5 + 0.0) / 3)
    assert m["accuracy"] == pytest.approx(3 / 5)
    assert m["confusion"] == [[2, 0, 0], [1, 1, 0], [0, 1, 0]]


def test_expected_calibration_error() -> None:
    assert expected_calibration_error([1.0, 1.0], [True, True]) == pytest.approx(0.0)
    # Two bins: 0.95 said, always right (0.05 off); 0.55 said, half right (0.05 off).
    ece = expected_calibration_error([0.95, 0.95, 0.55, 0.55], [True, True, True, False])
    assert ece == pytest.approx(0.05)


def test_fit_temperature_recovers_overconfidence() -> None:
    rng = np.random.default_rng(0)
    n, k = 4000, 4
    logits = rng.normal(size=(n, k)) * 2.0
    true_probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    gold = np.array([rng.choice(k, p=p) for p in true_probs])
    # An overconfident model: the true logits sharpened by a factor 3.
    sharp = np.exp(3 * logits) / np.exp(3 * logits).sum(axis=1, keepdims=True)
    assert fit_temperature(sharp, gold) == pytest.approx(3.0, rel=0.1)


def test_calibrated_is_a_distribution_and_keeps_the_ranking() -> None:
    probs = [0.7, 0.2, 0.1]
    for t in (0.5, 1.0, 2.0):
        out = calibrated(probs, t)
        assert sum(out) == pytest.approx(1.0)
        assert out == sorted(out, reverse=True)
    assert calibrated(probs, 1.0) == pytest.approx(probs)
    assert calibrated(probs, 0.5)[0] > 0.7 > calibrated(probs, 2.0)[0]


@pytest.mark.parametrize(
    ("new", "current", "expected"),
    [(0.91, 0.90, True), (0.90, 0.90, True), (0.899, 0.90, False), (0.5, None, True)],
)
def test_should_promote(new: float, current: float | None, expected: bool) -> None:
    current_metrics = None if current is None else {"macro_f1": current}
    assert should_promote({"macro_f1": new}, current_metrics) is expected


@pytest.mark.slow
def test_retrain_with_corrections(tmp_path: Path) -> None:
    extra = [
        ("Le kiosque à journaux a la vitre brisée", "street_furniture"),
        ("😀", "other"),  # no letters: skipped, nothing to learn
    ]
    result = retrain(extra, tmp_path / "model", seed=1, overrides={"training.max_steps": 200})
    assert isinstance(result, TrainResult)
    assert result.metrics["extra_examples"] == 1
    assert 0.0 < result.macro_f1 <= 1.0
    assert set(result.per_category) >= {"streetlight", "other"}
    clf = Classifier.load(result.model_dir)
    assert clf.classify("Le lampadaire est éteint depuis une semaine").service_code
    assert should_promote(result, result)


def test_retrain_rejects_unknown_labels(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown service code"):
        retrain([("texte", "potholes")], tmp_path / "model")
