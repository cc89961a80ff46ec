"""Inference: a report's text in, a service category with calibrated confidence out.

The packaged pipeline holds only a tokenizer and a ``textcat`` component. Its ``meta.json``
carries a ``lanterne`` section written at build time: the temperature fitted on the dev split
(calibration) and the confidence threshold below which a report goes to human triage.

Before the model sees a text, :func:`clean_text` strips HTML and truncates it, and
:func:`model_text` folds case and accents and cuts words to 5-letter stems (the bag-of-words
model matches exact strings, and residents type "eclairage", "Éclairages" and "ÉCLAIRAGE" for
the same word). Training applies the same two functions, so model and classifier agree.
"""

from __future__ import annotations

import importlib.util
import math
import os
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np

from nlp.language import OTHER as OTHER_LANGUAGE
from nlp.language import detect_language
from nlp.taxonomy import OTHER, SERVICE_CODES

PACKAGE_NAME = "fr_lanterne_textcat"
# Where `spacy project run all` leaves the calibrated model directory (used when the package
# is not pip-installed, e.g. right after a build in a checkout).
BUILD_MODEL_DIR = Path(__file__).resolve().parent / "build" / "model"
MODEL_ENV_VAR = "LANTERNE_MODEL"
# Long letters state the problem early; beyond this the text only costs time.
MAX_CHARS = 2000
TOP_K = 3
STEM_CHARS = 5
MIN_WORD_CHARS = 3
_WORD_RE = re.compile(r"[^\W_]+")


def _fold_table() -> dict[int, str]:
    # Latin-1 and Latin Extended-A letters to their unaccented form, in one str.translate.
    table: dict[int, str] = {ord("œ"): "oe", ord("æ"): "ae"}
    for code in range(0xC0, 0x180):
        char = chr(code)
        base = "".join(
            c for c in unicodedata.normalize("NFD", char) if unicodedata.category(c) != "Mn"
        )
        if base != char and base.isascii() and base:
            table[code] = base
    return table


_FOLD_TABLE = _fold_table()
META_KEY = "lanterne"


class ClassifierLoadError(RuntimeError):
    """The model package or directory is missing, corrupted or not a Lanterne classifier."""


@dataclass(frozen=True)
class Prediction:
    """The classification of one report.

    ``top`` holds up to three (service_code, confidence) pairs, best first; it is empty when
    the model was not consulted (empty text, unsupported language).
    """

    service_code: str
    confidence: float
    top: tuple[tuple[str, float], ...]
    model_version: str
    language: str
    needs_triage: bool


class _TextExtractor(HTMLParser):
    """Collect the text content of an HTML fragment, dropping scripts and styles."""

    _SKIP = frozenset({"script", "style"})
    _BREAKS = frozenset({"br", "p", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            self._skipping += 1
        elif tag in self._BREAKS:
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP and self._skipping:
            self._skipping -= 1
        elif tag in self._BREAKS:
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def strip_html(text: str) -> str:
    """Return the text content of an HTML fragment (entities decoded, tags dropped)."""
    parser = _TextExtractor()
    parser.feed(text)
    parser.close()
    return "".join(parser.parts)


def clean_text(text: str) -> str:
    """Strip HTML, collapse whitespace and truncate to MAX_CHARS characters."""
    if "<" in text or "&" in text:
        text = strip_html(text)
    return " ".join(text.split())[:MAX_CHARS]


def model_text(text: str) -> str:
    """Fold case and accents, keep 5-letter word stems: the exact form the model sees.

    Words shorter than MIN_WORD_CHARS are dropped (articles, "l'", "de"), the others cut
    to STEM_CHARS characters and kept once each (first occurrence order). Cutting is
    a crude language-agnostic stemmer: plurals, conjugations and
    end-of-word typos fall together ("réverbères" and "reverbere" both give "rever"). Chosen
    on the dev split, see docs/decisions/0001-textcat-architecture.md.
    """
    folded = text.casefold()
    if not folded.isascii():
        folded = folded.translate(_FOLD_TABLE)
        if not folded.isascii():
            decomposed = unicodedata.normalize("NFD", folded)
            folded = "".join(c for c in decomposed if unicodedata.category(c) != "Mn")
    stems = (w[:STEM_CHARS] for w in _WORD_RE.findall(folded) if len(w) >= MIN_WORD_CHARS)
    # Each stem once (binary bag of words): a word repeated 500 times, as in a pasted or
    # spammed text, must not outweigh the sentence that states the problem.
    return " ".join(dict.fromkeys(stems))


def has_letters(text: str) -> bool:
    """Return True if the text contains at least one letter (emoji-only text has none)."""
    return any(c.isalpha() for c in text)


def default_model() -> str:
    """Return the model to load: $LANTERNE_MODEL, else the installed package, else the build."""
    configured = os.environ.get(MODEL_ENV_VAR)
    if configured:
        return configured
    if importlib.util.find_spec(PACKAGE_NAME) is not None:
        return PACKAGE_NAME
    if BUILD_MODEL_DIR.is_dir():
        return str(BUILD_MODEL_DIR)
    return PACKAGE_NAME


BUILD_HINT = (
    "build it with `cd nlp && python -m spacy project run all` (from the repository root, "
    f"with .venv/bin on PATH), or point ${MODEL_ENV_VAR} at a model directory"
)


def calibrated(probabilities: Sequence[float], temperature: float) -> list[float]:
    """Apply temperature scaling to softmax outputs: softmax(log(p) / T)."""
    logs = [math.log(max(p, 1e-12)) / temperature for p in probabilities]
    top = max(logs)
    exps = [math.exp(v - top) for v in logs]
    total = sum(exps)
    return [v / total for v in exps]


class Classifier:
    """A loaded textcat pipeline with its calibration; load once, classify many."""

    def __init__(self, nlp: Any, *, temperature: float, threshold: float, version: str) -> None:
        self.nlp = nlp
        self.temperature = temperature
        self.threshold = threshold
        self.model_version = version
        self.labels: tuple[str, ...] = tuple(nlp.get_pipe("textcat").labels)

    @classmethod
    def load(cls, path_or_name: str | Path | None = None) -> Classifier:
        """Load a packaged model (by package name or directory); raise ClassifierLoadError.

        Parameters
        ----------
        path_or_name : str or Path, optional
            An installed package name (``fr_lanterne_textcat``) or a model directory.
            Defaults to :func:`default_model`.

        Returns
        -------
        Classifier
            Ready to classify; the pipeline keeps only its tokenizer and ``textcat``.
        """
        import spacy  # Imported here so that importing this module stays cheap.

        target = str(path_or_name) if path_or_name is not None else default_model()
        is_path = os.sep in target or target.startswith(".") or Path(target).exists()
        if is_path and not Path(target).is_dir():
            raise ClassifierLoadError(f"model directory {target!r} does not exist; {BUILD_HINT}")
        try:
            nlp = spacy.load(target)
        except OSError as exc:
            raise ClassifierLoadError(
                f"cannot load the classifier model {target!r} ({exc}); {BUILD_HINT}"
            ) from exc
        except Exception as exc:
            # A truncated or edited model raises whatever its deserialiser raises (msgpack,
            # JSON, KeyError...): one clear error at worker start beats a crash per job.
            raise ClassifierLoadError(
                f"the classifier model {target!r} is corrupted "
                f"({type(exc).__name__}: {exc}); rebuild it: {BUILD_HINT}"
            ) from exc
        return cls._from_nlp(nlp, target)

    @classmethod
    def _from_nlp(cls, nlp: Any, target: str) -> Classifier:
        if "textcat" not in nlp.pipe_names:
            raise ClassifierLoadError(f"{target!r} has no 'textcat' component; {BUILD_HINT}")
        unknown = set(nlp.get_pipe("textcat").labels) - set(SERVICE_CODES)
        if unknown:
            raise ClassifierLoadError(
                f"{target!r} predicts labels outside the service catalogue: {sorted(unknown)}"
            )
        extra = nlp.meta.get(META_KEY)
        if not isinstance(extra, dict) or "temperature" not in extra or "threshold" not in extra:
            raise ClassifierLoadError(
                f"{target!r} has no calibration ('{META_KEY}' section of meta.json): it was not "
                f"built by the Lanterne project; {BUILD_HINT}"
            )
        # Only the tokenizer and textcat run: anything else would cost throughput.
        for name in list(nlp.pipe_names):
            if name != "textcat":
                nlp.disable_pipe(name)
        version = f"{nlp.meta.get('lang', 'xx')}_{nlp.meta.get('name', 'model')}-" + str(
            nlp.meta.get("version", "0.0.0")
        )
        try:
            temperature = float(extra["temperature"])
            threshold = float(extra["threshold"])
        except (TypeError, ValueError) as exc:
            raise ClassifierLoadError(f"{target!r} has an invalid calibration: {exc}") from exc
        if not temperature > 0:
            raise ClassifierLoadError(f"{target!r} has a non-positive temperature")
        return cls(nlp, temperature=temperature, threshold=threshold, version=version)

    def _unclassified(self, language: str) -> Prediction:
        return Prediction(
            service_code=OTHER,
            confidence=0.0,
            top=(),
            model_version=self.model_version,
            language=language,
            needs_triage=True,
        )

    def _predictions(self, scores: Any, languages: list[str]) -> list[Prediction]:
        # Temperature scaling and top-3 for a whole batch at once (numpy), then the objects.
        logits = np.log(np.clip(np.asarray(scores, dtype=float), 1e-12, 1.0)) / self.temperature
        logits -= logits.max(axis=1, keepdims=True)
        probs = np.exp(logits)
        probs /= probs.sum(axis=1, keepdims=True)
        order = np.argsort(-probs, axis=1, kind="stable")[:, :TOP_K]
        top_probs = np.take_along_axis(probs, order, axis=1).round(6).tolist()
        labels = self.labels
        out = []
        for ranks, confs, language in zip(order.tolist(), top_probs, languages, strict=True):
            code = labels[ranks[0]]
            out.append(
                Prediction(
                    service_code=code,
                    confidence=confs[0],
                    top=tuple((labels[r], c) for r, c in zip(ranks, confs, strict=True)),
                    model_version=self.model_version,
                    language=language,
                    # "other" has no service queue: a human always routes it.
                    needs_triage=confs[0] < self.threshold or code == OTHER,
                )
            )
        return out

    def classify(self, text: str) -> Prediction:
        """Classify one report's text (never raises on odd input; see classify_many)."""
        return self.classify_many([text])[0]

    def classify_many(self, texts: Iterable[str], batch_size: int = 256) -> list[Prediction]:
        """Classify many texts in batches (nlp.pipe); one Prediction per text, same order.

        Empty, whitespace-only or letter-less texts (emoji only) and texts in a language
        other than French or English get ``other`` with ``needs_triage=True`` and an empty
        ``top``; HTML is stripped and long texts are truncated to MAX_CHARS first.
        """
        results: list[Prediction | None] = []
        pending_idx: list[int] = []
        pending_txt: list[str] = []
        languages: list[str] = []
        for text in texts:
            cleaned = clean_text(text if isinstance(text, str) else str(text))
            if not has_letters(cleaned):
                results.append(self._unclassified(OTHER_LANGUAGE))
                languages.append(OTHER_LANGUAGE)
                continue
            language = detect_language(cleaned)
            languages.append(language)
            if language == OTHER_LANGUAGE:
                results.append(self._unclassified(language))
                continue
            pending_idx.append(len(results))
            pending_txt.append(model_text(cleaned))
            results.append(None)
        textcat = self.nlp.get_pipe("textcat")
        for start in range(0, len(pending_txt), batch_size):
            # Tokenizer + textcat.predict: the same model as nlp.pipe, without writing
            # doc.cats dictionaries that would be read back at once.
            docs = list(self.nlp.tokenizer.pipe(pending_txt[start : start + batch_size]))
            idxs = pending_idx[start : start + batch_size]
            preds = self._predictions(textcat.predict(docs), [languages[i] for i in idxs])
            for idx, pred in zip(idxs, preds, strict=True):
                results[idx] = pred
        return [r for r in results if r is not None]
