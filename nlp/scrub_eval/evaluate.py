"""Span-level precision and recall of the scrubber on the labelled sentences.

Matching rule (documented in docs/privacy-scrubbing.md):

* a gold span is **found** when one predicted span of the same kind covers it entirely
  (``pred.start <= gold.start`` and ``pred.end >= gold.end``): a placeholder that also hides a
  neighbouring word still protects the person, one that leaves part of a name does not;
* a predicted span is **correct** when it overlaps at least one gold span of the same kind;
  otherwise it is a false positive (it hides text that was not personal).

Recall = found gold spans / gold spans; precision = correct predicted spans / predicted spans.

The sentences carry a ``split``: ``dev`` (written first, and looked at while writing the
rules) and ``heldout`` (written afterwards and not used to change any rule).

Run: ``python -m nlp.scrub_eval.evaluate`` (``--split dev|heldout``, ``--json`` for a
machine-readable form, ``--errors`` to list misses and false positives).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from nlp.scrub import KINDS, PiiSpan, Scrubber

SENTENCES_PATH = Path(__file__).with_name("sentences.jsonl")

# Authoring markup: "Mon voisin [[Karim|name]] fait du bruit" (see ``parse_markup``).
_MARKUP_RE = re.compile(r"\[\[(.+?)\|(\w+)\]\]")


@dataclass(frozen=True, slots=True)
class Example:
    """One labelled sentence."""

    id: int
    lang: str
    split: str
    text: str
    spans: tuple[PiiSpan, ...]


@dataclass(slots=True)
class KindScore:
    """Counts and rates for one kind."""

    gold: int = 0
    found: int = 0
    predicted: int = 0
    correct: int = 0
    misses: list[tuple[int, str]] = field(default_factory=list)
    false_positives: list[tuple[int, str]] = field(default_factory=list)

    @property
    def recall(self) -> float:
        """Found gold spans over gold spans (1.0 when there is no gold span)."""
        return self.found / self.gold if self.gold else 1.0

    @property
    def precision(self) -> float:
        """Correct predictions over predictions (1.0 when nothing was predicted)."""
        return self.correct / self.predicted if self.predicted else 1.0


def parse_markup(marked: str) -> tuple[str, tuple[PiiSpan, ...]]:
    """Turn ``"... [[text|kind]] ..."`` into the plain text and its spans.

    Parameters
    ----------
    marked
        A sentence where each piece of personal data is written ``[[text|kind]]``, with a kind
        from ``nlp.scrub.KINDS``.

    Returns
    -------
    tuple
        The text without markup and its spans (character offsets on that text).
    """
    parts: list[str] = []
    spans: list[PiiSpan] = []
    cursor = 0
    length = 0
    for m in _MARKUP_RE.finditer(marked):
        before = marked[cursor : m.start()]
        parts.append(before)
        length += len(before)
        value, kind = m.group(1), m.group(2)
        if kind not in KINDS:
            raise ValueError(f"unknown kind {kind!r} in {marked!r}")
        spans.append(PiiSpan(length, length + len(value), kind))
        parts.append(value)
        length += len(value)
        cursor = m.end()
    parts.append(marked[cursor:])
    return "".join(parts), tuple(spans)


def load_examples(path: Path = SENTENCES_PATH) -> list[Example]:
    """Read the labelled sentences (JSON lines: id, lang, text, spans)."""
    examples = []
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if not line.strip():
                continue
            row = json.loads(line)
            spans = tuple(PiiSpan(s["start"], s["end"], s["kind"]) for s in row["spans"])
            examples.append(Example(row["id"], row["lang"], row["split"], row["text"], spans))
    return examples


def score(
    examples: Sequence[Example], predictions: Sequence[Iterable[PiiSpan]]
) -> dict[str, KindScore]:
    """Score predicted spans against the gold spans, kind by kind.

    Parameters
    ----------
    examples
        The labelled sentences.
    predictions
        For each sentence, the spans the scrubber found (same order).

    Returns
    -------
    dict
        One :class:`KindScore` per kind of ``nlp.scrub.KINDS``.
    """
    scores = {kind: KindScore() for kind in KINDS}
    for example, predicted in zip(examples, predictions, strict=True):
        predicted = list(predicted)
        for gold in example.spans:
            entry = scores[gold.kind]
            entry.gold += 1
            if any(
                p.kind == gold.kind and p.start <= gold.start and p.end >= gold.end
                for p in predicted
            ):
                entry.found += 1
            else:
                entry.misses.append((example.id, example.text[gold.start : gold.end]))
        for pred in predicted:
            entry = scores[pred.kind]
            entry.predicted += 1
            if any(
                g.kind == pred.kind and g.start < pred.end and pred.start < g.end
                for g in example.spans
            ):
                entry.correct += 1
            else:
                entry.false_positives.append((example.id, example.text[pred.start : pred.end]))
    return scores


def evaluate(scrubber: Scrubber, examples: Sequence[Example]) -> dict[str, KindScore]:
    """Scrub every example and score the spans found."""
    results = scrubber.scrub_many([e.text for e in examples])
    return score(examples, [r.spans for r in results])


def format_table(scores: dict[str, KindScore]) -> str:
    """Render the scores as a Markdown table."""
    lines = [
        "| kind | gold | found | recall | predicted | correct | precision |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for kind, s in scores.items():
        lines.append(
            f"| {kind} | {s.gold} | {s.found} | {s.recall:.3f} | {s.predicted} | {s.correct} "
            f"| {s.precision:.3f} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: print per-kind precision and recall on the labelled sentences."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sentences", type=Path, default=SENTENCES_PATH)
    parser.add_argument("--model", default="fr_core_news_sm")
    parser.add_argument("--split", choices=("all", "dev", "heldout"), default="all")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("--errors", action="store_true", help="list misses and false positives")
    args = parser.parse_args(argv)

    examples = [e for e in load_examples(args.sentences) if args.split in ("all", e.split)]
    scores = evaluate(Scrubber.load(args.model), examples)
    if args.json:
        payload = {
            kind: {
                "gold": s.gold,
                "recall": s.recall,
                "predicted": s.predicted,
                "precision": s.precision,
            }
            for kind, s in scores.items()
        }
        print(json.dumps({"sentences": len(examples), "kinds": payload}, ensure_ascii=False))
        return 0
    langs = Counter(e.lang for e in examples)
    print(f"{len(examples)} sentences ({args.split}): {dict(sorted(langs.items()))}")
    print(format_table(scores))
    if args.errors:
        for kind, s in scores.items():
            for sid, text in s.misses:
                print(f"MISS {kind:8} #{sid}: {text!r}")
            for sid, text in s.false_positives:
                print(f"FP   {kind:8} #{sid}: {text!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
