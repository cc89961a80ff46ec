"""Language detection for reports: "fr", "en" or "other".

No model is needed: reports are short and only two languages are served, so two cheap
signals suffice.

1. **Script**: when most letters are not Latin (Arabic, Cyrillic, CJK...), the text is
   "other".
2. **Stop words**: spaCy's own stop-word lists for French and English, and for the Latin-script
   languages most often met in Marseille (Spanish, Italian, Portuguese, German, Dutch) as
   competitors. A distinct word counts for each language whose list holds it, divided by the number
   of such languages, so words shared by many languages ("a", "de") weigh little. A few letters
   that only some languages use (é/è/ç, ñ, ã, ß...) add to the score.

When nothing decides (no stop word, e.g. "lampadaire HS"), the text is taken as French: the
city's first language, and the classifier handles short French and English alike.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

SUPPORTED = ("fr", "en")
OTHER = "other"
_STOP_LANGUAGES = ("fr", "en", "es", "it", "pt", "de", "nl")


def _stop_lists() -> dict[str, frozenset[str]]:
    """spaCy's stop words per language; imported on first use, because importing spaCy costs
    seconds and this module is imported by the command line, which must start fast."""
    import importlib

    return {
        lang: frozenset(importlib.import_module(f"spacy.lang.{lang}.stop_words").STOP_WORDS)
        for lang in _STOP_LANGUAGES
    }


# Letters that point to one language (counted once per occurrence, capped by _CHAR_CAP).
_CHAR_HINTS: dict[str, str] = {
    **dict.fromkeys("éèêëçàùûœîï", "fr"),
    **dict.fromkeys("ñ¿¡", "es"),
    **dict.fromkeys("ãõ", "pt"),
    **dict.fromkeys("ßäöü", "de"),
    **dict.fromkeys("òì", "it"),
}
_CHAR_WEIGHT = 0.5
_CHAR_CAP = 2.0
# A competitor must beat French and English clearly before a report is called "other":
# a French report wrongly sent to "other" loses its routing, the costlier mistake.
_MIN_OTHER_SCORE = 1.5
_OTHER_MARGIN = 1.5
_WORD_RE = re.compile(r"[^\W\d_]+")


@lru_cache(maxsize=1)
def _stop_forms() -> tuple[dict[str, frozenset[str]], dict[str, float]]:
    """Stop words per language (with accent-free forms) and 1 / languages listing a word."""
    forms = {
        lang: frozenset(f for w in words for f in (w, _strip_accents(w)))
        for lang, words in _stop_lists().items()
    }
    counts: dict[str, int] = {}
    for words in forms.values():
        for word in words:
            counts[word] = counts.get(word, 0) + 1
    return forms, {word: 1.0 / n for word, n in counts.items()}


def _strip_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFD", text)
    return "".join(c for c in decomposed if unicodedata.category(c) != "Mn")


def _is_latin(char: str) -> bool:
    return unicodedata.name(char, "").startswith("LATIN")


def language_scores(text: str) -> dict[str, float]:
    """Return the stop-word and letter score of each candidate language for ``text``.

    Parameters
    ----------
    text : str
        Any text (already stripped of HTML).

    Returns
    -------
    dict[str, float]
        Score per language code (fr, en, es, it, pt, de, nl); higher means more likely.
    """
    lowered = text.lower()
    forms, weight = _stop_forms()
    # Distinct words, intersected with each list in C: fast enough for 5,000+ reports/s.
    words = set(_WORD_RE.findall(lowered))
    scores = {lang: sum(weight[w] for w in words & stop) for lang, stop in forms.items()}
    char_bonus = dict.fromkeys(_STOP_LANGUAGES, 0.0)
    for char in "" if lowered.isascii() else lowered:
        hinted = _CHAR_HINTS.get(char)
        if hinted is not None:
            char_bonus[hinted] = min(_CHAR_CAP, char_bonus[hinted] + _CHAR_WEIGHT)
    return {lang: scores[lang] + char_bonus[lang] for lang in scores}


def detect_language(text: str) -> str:
    """Return "fr", "en" or "other" for a report's text (see the module docstring)."""
    if text.isascii():
        # Fast path (most reports): ASCII letters are Latin by definition.
        if not any(c.isalpha() for c in text):
            return OTHER
    else:
        letters = [c for c in text if c.isalpha()]
        if not letters:
            return OTHER
        latin = sum(1 for c in letters if c.isascii() or _is_latin(c))
        if latin < len(letters) / 2:
            return OTHER
    scores = language_scores(text)
    fr, en = scores["fr"], scores["en"]
    best_other = max(v for k, v in scores.items() if k not in SUPPORTED)
    if best_other >= _MIN_OTHER_SCORE and best_other > _OTHER_MARGIN * max(fr, en):
        return OTHER
    if en > fr:
        return "en"
    return "fr"
