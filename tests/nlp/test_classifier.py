"""The built classifier: quality on the frozen test split, traps, bad input, load errors."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pytest

from nlp.classifier import (
    MAX_CHARS,
    Classifier,
    ClassifierLoadError,
    Prediction,
    clean_text,
    model_text,
)
from nlp.taxonomy import SERVICE_CODES
from nlp.training import classification_metrics, load_split

MIN_MACRO_F1 = 0.90


@pytest.fixture(scope="module")
def test_metrics(classifier: Classifier) -> dict:
    rows = load_split("test")
    preds = classifier.classify_many([r["text"] for r in rows])
    return classification_metrics(
        [r["label"] for r in rows], [p.service_code for p in preds], SERVICE_CODES
    )


def test_macro_f1_on_frozen_test_split(test_metrics: dict) -> None:
    per_category = {k: round(v["f1"], 3) for k, v in test_metrics["per_category"].items()}
    assert test_metrics["macro_f1"] >= MIN_MACRO_F1, (
        f"macro-F1 {test_metrics['macro_f1']:.3f} < {MIN_MACRO_F1}; per category: {per_category}"
    )


def test_every_category_is_learned(test_metrics: dict) -> None:
    weak = {k: round(v["f1"], 3) for k, v in test_metrics["per_category"].items() if v["f1"] < 0.7}
    assert not weak, f"categories with test F1 < 0.7: {weak}"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Rue de la Lumière, un gros nid de poule au milieu de la chaussée", "road_damage"),
        ("Boulevard des Poubelles : le lampadaire est éteint depuis lundi", "streetlight"),
        ("Impasse du Feu, une voiture épave sans plaques depuis des mois", "abandoned_vehicle"),
        ("Place des Tags, le banc a été arraché et jeté par terre", "street_furniture"),
        ("rue du Silence : musique à fond tous les soirs jusqu'à 3h", "noise"),
        ("Traverse de la Fontaine, les poubelles débordent depuis une semaine", "waste_bins"),
        ("Rue des Égouts, des tags plein la façade de l'école", "graffiti"),
        ("Avenue de la Décharge : le feu tricolore est bloqué au rouge", "traffic_signal"),
    ],
)
def test_street_names_that_look_like_categories(
    classifier: Classifier, text: str, expected: str
) -> None:
    pred = classifier.classify(text)
    assert pred.service_code == expected, f"{text!r} -> {pred.top}"


@pytest.mark.parametrize(
    "text",
    [
        "La farola de mi calle no funciona desde hace una semana, está todo oscuro.",
        "Il lampione davanti a casa mia non funziona da una settimana.",
        "مصباح الشارع أمام منزلي لا يعمل منذ أسبوع",
        "Die Straßenlaterne vor meinem Haus ist seit einer Woche kaputt.",
    ],
)
def test_other_language_is_other_and_triaged(classifier: Classifier, text: str) -> None:
    pred = classifier.classify(text)
    assert (pred.language, pred.service_code, pred.needs_triage) == ("other", "other", True)


@pytest.mark.parametrize("text", ["", "   \n\t ", "😡😡😡 🚮", "!!! ??? 123"])
def test_text_without_words_is_other_and_triaged(classifier: Classifier, text: str) -> None:
    pred = classifier.classify(text)
    assert pred.service_code == "other"
    assert pred.needs_triage
    assert pred.top == ()


def test_long_text_is_classified_on_its_beginning(classifier: Classifier) -> None:
    text = "Le lampadaire devant chez moi est éteint depuis dix jours. " + "bla " * 1000
    assert len(text) > 4000
    assert classifier.classify(text).service_code == "streetlight"
    assert len(clean_text(text)) == MAX_CHARS


def test_html_is_stripped_before_classifying(classifier: Classifier) -> None:
    html = (
        "<div><p>Bonjour,</p><p>Un <b>énorme</b> nid-de-poule&nbsp;devant l&#39;école"
        "</p><script>lampadaire poubelle tag</script><style>p{color:red}</style></div>"
    )
    assert "script" not in clean_text(html)
    assert "lampadaire" not in clean_text(html)
    assert "nid-de-poule devant l'école" in clean_text(html)
    assert classifier.classify(html).service_code == "road_damage"


def test_prediction_is_frozen_with_ranked_top3(classifier: Classifier) -> None:
    pred = classifier.classify("Les poubelles débordent dans toute la rue, ça sent mauvais")
    assert isinstance(pred, Prediction)
    with pytest.raises(dataclasses.FrozenInstanceError):
        pred.service_code = "noise"  # type: ignore[misc]
    assert len(pred.top) == 3
    assert pred.top[0] == (pred.service_code, pred.confidence)
    confidences = [c for _, c in pred.top]
    assert confidences == sorted(confidences, reverse=True)
    assert 0 < sum(confidences) <= 1.0 + 1e-6
    assert pred.language == "fr"
    assert pred.model_version.startswith("fr_lanterne_textcat-")


def test_english_report(classifier: Classifier) -> None:
    pred = classifier.classify("There is a huge pothole on the road outside the school")
    assert (pred.service_code, pred.language) == ("road_damage", "en")


def test_classify_many_matches_classify_and_keeps_order(classifier: Classifier) -> None:
    texts = [r["text"] for r in load_split("dev")[:40]] + ["", "Il lampione non funziona."]
    batch = classifier.classify_many(texts, batch_size=7)
    assert len(batch) == len(texts)
    assert batch == [classifier.classify(t) for t in texts]


def test_low_confidence_goes_to_triage(classifier: Classifier) -> None:
    preds = classifier.classify_many([r["text"] for r in load_split("dev")])
    for p in preds:
        assert p.needs_triage == (p.confidence < classifier.threshold or p.service_code == "other")
    assert 0.0 < classifier.threshold < 1.0


def test_model_text_folds_case_accents_and_endings() -> None:
    assert model_text("ÉCLAIRAGE Éteint à Noël") == "eclai etein noel"
    assert model_text("réverbères") == model_text("REVERBERE") == "rever"
    assert model_text("l'œil") == "oeil"


# --- load errors ----------------------------------------------------------------------------
def test_missing_model_directory(tmp_path: Path) -> None:
    with pytest.raises(ClassifierLoadError, match="spacy project run all"):
        Classifier.load(tmp_path / "nowhere")


def test_missing_package_name() -> None:
    with pytest.raises(ClassifierLoadError, match="spacy project run all"):
        Classifier.load("fr_lanterne_textcat_that_does_not_exist")


def test_corrupted_model_weights(model_path: Path, tmp_path: Path) -> None:
    broken = tmp_path / "model"
    shutil.copytree(model_path, broken)
    weights = broken / "textcat" / "model"
    weights.write_bytes(weights.read_bytes()[:100])
    with pytest.raises(ClassifierLoadError, match="corrupted"):
        Classifier.load(broken)


def test_corrupted_meta(model_path: Path, tmp_path: Path) -> None:
    broken = tmp_path / "model"
    shutil.copytree(model_path, broken)
    (broken / "meta.json").write_text("{not json")
    with pytest.raises(ClassifierLoadError):
        Classifier.load(broken)


def test_model_without_calibration(model_path: Path, tmp_path: Path) -> None:
    other = tmp_path / "model"
    shutil.copytree(model_path, other)
    meta = json.loads((other / "meta.json").read_text())
    del meta["lanterne"]
    (other / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(ClassifierLoadError, match="calibration"):
        Classifier.load(other)
