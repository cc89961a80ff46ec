"""The authored corpus: sizes, labels, frozen splits, no leakage from train into dev/test."""

from __future__ import annotations

from collections import Counter

import pytest

from nlp.corpus import generate
from nlp.taxonomy import SERVICE_CODES
from nlp.training import load_split


@pytest.fixture(scope="module")
def splits() -> dict[str, list[dict[str, str]]]:
    return {name: load_split(name) for name in ("train", "dev", "test")}


def test_committed_splits_match_the_seeded_generator(
    splits: dict[str, list[dict[str, str]]],
) -> None:
    assert generate.build() == splits, "run `python -m nlp.corpus.generate` and commit"


def test_rows_are_well_formed(splits: dict[str, list[dict[str, str]]]) -> None:
    for rows in splits.values():
        for row in rows:
            assert set(row) == {"text", "label", "lang"}
            assert row["label"] in SERVICE_CODES
            assert row["lang"] in ("fr", "en")
            assert row["text"].strip()


def test_minimum_examples_per_category_and_language(
    splits: dict[str, list[dict[str, str]]],
) -> None:
    counts = Counter((r["lang"], r["label"]) for rows in splits.values() for r in rows)
    short = {
        (lang, code): counts[(lang, code)]
        for code in SERVICE_CODES
        for lang, minimum in (("fr", 150), ("en", 40))
        if counts[(lang, code)] < minimum
    }
    assert not short, f"categories below 150 fr / 40 en examples: {short}"


def test_every_category_and_language_is_in_dev_and_test(
    splits: dict[str, list[dict[str, str]]],
) -> None:
    for name in ("dev", "test"):
        cells = {(r["lang"], r["label"]) for r in splits[name]}
        assert cells == {(lang, code) for lang in ("fr", "en") for code in SERVICE_CODES}


def test_no_text_is_shared_between_splits(splits: dict[str, list[dict[str, str]]]) -> None:
    folded = {name: {r["text"].casefold() for r in rows} for name, rows in splits.items()}
    assert not folded["train"] & folded["dev"]
    assert not folded["train"] & folded["test"]
    assert not folded["dev"] & folded["test"]


def _core(text: str) -> str:
    return " ".join(generate.strip_accents(text).casefold().rstrip(".!? ").split())


def test_no_training_seed_appears_in_dev_or_test(
    splits: dict[str, list[dict[str, str]]],
) -> None:
    seeds = [s for lang in generate.LANGS for s in generate.read_seeds(lang)]
    train_cores = {_core(s.text) for s in seeds if s.split == "train"}
    eval_cores = {_core(s.text) for s in seeds if s.split != "train"}
    assert not train_cores & eval_cores
    eval_texts = [_core(r["text"]) for name in ("dev", "test") for r in splits[name]]
    leaked = [c for c in train_cores if len(c) > 25 and any(c in t for t in eval_texts)]
    assert not leaked, f"training seeds found inside dev/test examples: {leaked[:3]}"


def test_registers_and_traps_are_represented(splits: dict[str, list[dict[str, str]]]) -> None:
    texts = [r["text"] for rows in splits.values() for r in rows if r["lang"] == "fr"]
    lowered = [t.lower() for t in texts]
    assert sum("madame, monsieur" in t for t in lowered) >= 50  # formal letters
    assert sum(t.startswith(("bjr", "slt")) for t in lowered) >= 50  # SMS greetings
    assert sum(t.isupper() for t in texts) >= 20  # caps lock
    assert sum(t.isascii() for t in texts) >= 500  # typed without accents
    trap_hits = Counter(
        trap for t in lowered for trap in (s.lower() for s in generate.TRAP_STREETS) if trap in t
    )
    assert len(trap_hits) >= 15, trap_hits
    assert any(w in t for t in lowered for w in ("dégun", "degun", "tarpin", "engatse"))


def test_generation_is_deterministic() -> None:
    seed = generate.read_seeds("fr")[0]
    assert [generate.make_variant(seed, k) for k in range(6)] == [
        generate.make_variant(seed, k) for k in range(6)
    ]
