"""Personal-data scrubbing: the public version of a resident's free text.

``Scrubber.load()`` builds the pipeline once (the packaged ``fr_core_news_sm`` with only its NER
kept, plus rule patterns); ``scrub`` and ``scrub_many`` return a :class:`ScrubResult` holding
the public text, where each piece of personal data is replaced by a typed placeholder, and the
spans found on the original text. The original text is never changed: it stays staff-only.

How each kind is found:

* e-mails, social handles ("@jeandupont13"), phones, IBANs, French social-security numbers
  (NIR) and licence plates: regular expressions (``nlp.scrub_patterns``) on the characters,
  IBANs kept only when their ISO 7064 mod-97 checksum holds, glued NIRs only with a right key
  or after a word such as "sécu";
* person names: the statistical NER (``PER``), cleaned by token patterns (a ``Matcher``) that
  drop names inside street names ("place Jean Jaurès") and street-furniture words the model
  mislabels ("Lampadaire"), plus patterns for names the model misses ("M. Dupont",
  "mon voisin karim", "signé Jean-Pierre");
* addresses: "number + street type + name" patterns, scrubbed only when the words around tie
  them to a person's home ("j'habite au 12 rue X"), not when they locate an object.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import spacy
from spacy.lang.en.stop_words import STOP_WORDS as EN_STOP_WORDS
from spacy.lang.fr.stop_words import STOP_WORDS as FR_STOP_WORDS
from spacy.language import Language
from spacy.matcher import Matcher
from spacy.tokens import Doc, Span, Token
from spacy.util import filter_spans
from thinc.api import use_ops

from nlp import scrub_patterns as pat

__all__ = [
    "KINDS",
    "PLACEHOLDERS",
    "PiiSpan",
    "ScrubResult",
    "Scrubber",
    "iban_is_valid",
    "nir_key",
]

#: Kinds of personal data, in the order of their priority when two matches overlap.
KINDS: Final = ("email", "iban", "nir", "phone", "handle", "plate", "address", "name")

#: The placeholder that replaces each kind in the public text (French: the public site's
#: language; they read well in English too).
PLACEHOLDERS: Final = {
    "email": "[e-mail]",
    "phone": "[téléphone]",
    "iban": "[IBAN]",
    "nir": "[n° sécu]",
    "handle": "[pseudo]",
    "plate": "[plaque]",
    "name": "[nom]",
    "address": "[adresse]",
}

DEFAULT_MODEL: Final = "fr_core_news_sm"

_STOP_WORDS: Final = frozenset(FR_STOP_WORDS | EN_STOP_WORDS)
_SENTENCE_END: Final = frozenset({".", "!", "?", "…", "\n", "\n\n"})
# Words that can open a name span found by the model or a pattern but are not the name.
_LEFT_TRIM: Final = (
    pat.TITLES | pat.RELATIONS | pat.SIGN_OFFS | _STOP_WORDS | {"appelle", "avance", "c", "cest"}
)
# Names that are also ordinary words: only accepted capitalised and in a person context.
_AMBIGUOUS_FIRST_NAMES: Final = pat.words(
    "rose pierre claire marc louis jean mark tom lea léa jules said saïd paul"
)
_WINDOW_BEFORE: Final = 8
_WINDOW_AFTER: Final = 6
_NON_ALNUM_RE: Final = re.compile(r"[^0-9A-Za-z]")


@dataclass(frozen=True, slots=True)
class PiiSpan:
    """One piece of personal data: character offsets on the original text, and its kind."""

    start: int
    end: int
    kind: str


@dataclass(frozen=True, slots=True)
class ScrubResult:
    """The public text (placeholders in place) and the spans found on the original text."""

    text: str
    spans: tuple[PiiSpan, ...]

    def kinds(self) -> set[str]:
        """Return the set of kinds found."""
        return {span.kind for span in self.spans}


def iban_is_valid(candidate: str) -> bool:
    """Return True when ``candidate`` (spaces allowed) passes the ISO 13616 mod-97 check.

    Parameters
    ----------
    candidate
        An IBAN, with or without spaces or hyphens, any case.

    Returns
    -------
    bool
        True for a well-formed IBAN whose check digits are right.
    """
    compact = _NON_ALNUM_RE.sub("", candidate).upper()
    if not pat.IBAN_MIN_LENGTH <= len(compact) <= pat.IBAN_MAX_LENGTH:
        return False
    if not (compact[:2].isalpha() and compact[2:4].isdigit()):
        return False
    expected = pat.IBAN_LENGTHS.get(compact[:2])
    if expected is not None and len(compact) != expected:
        return False
    rearranged = compact[4:] + compact[:4]
    # int(c, 36) maps 0-9 to themselves and A-Z to 10-35, as the standard requires.
    return int("".join(str(int(c, 36)) for c in rearranged)) % 97 == 1


def _find_iban(text: str, match: re.Match[str]) -> tuple[int, int] | None:
    """Return the offsets of the longest valid IBAN at the start of a candidate match."""
    # The candidate pattern is greedy and may run into the next words ("... 189 pour"), so
    # try each group boundary, longest first, and keep the first one whose checksum holds.
    ends = [
        i + 1
        for i in range(match.start(), match.end())
        if text[i].isalnum() and (i + 1 == len(text) or not text[i + 1].isalnum())
    ]
    for end in reversed(ends):
        if iban_is_valid(text[match.start() : end]):
            return match.start(), end
    return None


def nir_key(first13: str) -> int:
    """Return the 2-digit key of a French social-security number (NIR).

    Parameters
    ----------
    first13
        The 13 first characters (sex, year, month, department, commune, order), separators
        allowed; Corsica's departments 2A and 2B count as 19 and 18.

    Returns
    -------
    int
        97 minus the number modulo 97 (1 to 97).
    """
    compact = _NON_ALNUM_RE.sub("", first13).upper().replace("2A", "19").replace("2B", "18")
    return 97 - int(compact) % 97


def _nir_is_likely(text: str, match: re.Match[str]) -> bool:
    """Whether a NIR-shaped match is one: grouped, checked by its key, or announced.

    Written in groups ("1 85 05 13 055 123 45") the shape is enough, even with a wrong key
    (residents mistype). Glued, 15 digits must carry a right key, and 13 digits must follow
    a word such as "sécu" or "NIR": a glued number is otherwise any reference number.
    """
    value = match.group()
    compact = _NON_ALNUM_RE.sub("", value)
    if len(compact) != len(value):
        return True
    key = match.group("key")
    if key is not None:
        return nir_key(compact[:13]) == int(key)
    return pat.NIR_CONTEXT_RE.search(text[max(0, match.start() - 40) : match.start()]) is not None


def _phone_digits_ok(value: str) -> bool:
    digits = sum(c.isdigit() for c in value)
    return pat.PHONE_MIN_DIGITS <= digits <= pat.PHONE_MAX_DIGITS


def _regex_spans(text: str) -> list[tuple[int, int, str]]:
    """Find e-mails, IBANs, phones and plates; earlier kinds win where matches overlap."""
    found: list[tuple[int, int, str]] = []

    def add(start: int, end: int, kind: str) -> None:
        if all(end <= s or start >= e for s, e, _ in found):
            found.append((start, end, kind))

    for regex in (pat.EMAIL_RE, pat.OBFUSCATED_EMAIL_RE):
        for m in regex.finditer(text):
            add(m.start(), m.end(), "email")
    for m in pat.HANDLE_RE.finditer(text):
        if m.group()[1:].lower() not in pat.HANDLE_STOPWORDS:
            add(m.start(), m.end(), "handle")
    for m in pat.IBAN_CANDIDATE_RE.finditer(text):
        offsets = _find_iban(text, m)
        if offsets is not None:
            add(*offsets, "iban")
    for m in pat.NIR_RE.finditer(text):
        if _nir_is_likely(text, m):
            add(m.start(), m.end(), "nir")
    for m in pat.FR_PHONE_RE.finditer(text):
        add(m.start(), m.end(), "phone")
    for regex in (pat.SIV_PLATE_RE, pat.SIV_PLATE_SPACED_RE):
        for m in regex.finditer(text):
            add(m.start(), m.end(), "plate")
    for m in pat.FNI_PLATE_RE.finditer(text):
        letters = re.sub(r"[\d\s\u00a0-]", " ", m.group()).split()
        if letters and letters[0] not in pat.FNI_LETTER_STOPWORDS:
            add(m.start(), m.end(), "plate")
    for regex in (pat.INTL_PHONE_RE, pat.OTHER_PHONE_RE):
        for m in regex.finditer(text):
            if _phone_digits_ok(m.group()):
                add(m.start(), m.end(), "phone")
    return found


def _tok(**attrs: Any) -> dict[str, Any]:
    return dict(attrs)


def _build_matchers(nlp: Language) -> tuple[Matcher, Matcher, Matcher]:
    """Token patterns for street names, addresses and names in a person context."""
    stop_for_names = sorted(_STOP_WORDS | pat.TITLES | pat.NOT_PERSONS | pat.STREET_TYPES)
    # Lexical flags (IS_TITLE, IS_ALPHA) rather than regular expressions: spaCy caches them on
    # the lexeme, which keeps the Matcher cheap next to the NER.
    cap_name = _tok(IS_TITLE=True, LOWER={"NOT_IN": stop_for_names})
    punct_opt = _tok(IS_PUNCT=True, OP="?")
    first_names = sorted(pat.FIRST_NAMES)
    street_types = sorted(pat.STREET_TYPES)
    particles = sorted(pat.STREET_PARTICLES)
    # Inside a street name any word goes except the words that end it in a sentence.
    street_stop = sorted((_STOP_WORDS - pat.STREET_PARTICLES) | {"bd"})
    street_word = _tok(IS_ALPHA=True, LOWER={"NOT_IN": street_stop})
    cap_street_word = _tok(IS_TITLE=True)

    streets = Matcher(nlp.vocab)
    streets.add(
        "STREET",
        [
            [
                _tok(LOWER={"IN": street_types}),
                _tok(LOWER={"IN": particles}, OP="{0,3}"),
                _tok(IS_TITLE=True, OP="{1,5}"),
            ],
            [
                _tok(LOWER={"IN": street_types}),
                _tok(LOWER={"IN": particles}, OP="{0,3}"),
                _tok(**street_word, OP="{1,3}"),
            ],
            [
                _tok(**cap_street_word, OP="{1,3}"),
                _tok(LOWER={"IN": sorted(pat.STREET_SUFFIXES_EN)}),
            ],
        ],
        greedy="LONGEST",
    )
    # A house number: "12", "12bis", "3b" (shapes are lexical too, hence cheap).
    number = _tok(SHAPE={"IN": ["d", "dd", "ddd", "dddd", "dx", "ddx", "dddx", "dxxx", "ddxxx"]})
    addresses = Matcher(nlp.vocab)
    head = [
        number,
        _tok(LOWER={"IN": ["bis", "ter", "b"]}, OP="?"),
        _tok(LOWER={"IN": street_types}),
    ]
    part = _tok(LOWER={"IN": particles}, OP="{0,3}")
    addresses.add(
        "ADDRESS",
        [
            # "12 rue Paradis", "1 bis rue des Trois Frères Barthélemy", "3 rue Jean de Bernardy"
            [*head, part, _tok(IS_TITLE=True, OP="{1,5}")],
            [*head, part, _tok(IS_TITLE=True, OP="{1,3}"), part, _tok(IS_TITLE=True, OP="{1,3}")],
            # SMS style, all lower case: "8 rue du bon pasteur"; at most two words, since
            # nothing but the stop words tells where the street name ends.
            [*head, part, _tok(**street_word, IS_LOWER=True, OP="{1,2}")],
            [number, _tok(IS_TITLE=True, OP="{1,3}"), _tok(LOWER={"IN": ["street", "road"]})],
        ],
        greedy="LONGEST",
    )
    context = sorted(pat.RELATIONS | pat.TITLES | pat.SIGN_OFFS)
    names = Matcher(nlp.vocab)
    names.add(
        "NAME",
        [
            # "M. Dupont", "mon voisin Karim Benali", "Cordialement, Nadia Benali".
            [_tok(LOWER={"IN": context}), punct_opt, _tok(**cap_name, OP="{1,3}")],
            # "mon voisin karim", "signé karim": lower-case first names in a person context.
            [_tok(LOWER={"IN": context}), punct_opt, _tok(LOWER={"IN": first_names})],
            # "je m'appelle Sophie", "Moi c'est Sandrine", "c yasmine", "my name is Tom".
            [
                _tok(LOWER={"IN": ["appelle", "appel", "cest", "c'est", "c"]}),
                _tok(**cap_name, OP="{1,3}"),
            ],
            [_tok(LOWER={"IN": ["c'", "c’"]}), _tok(LOWER="est"), _tok(**cap_name, OP="{1,3}")],
            [
                _tok(LOWER={"IN": ["appelle", "cest", "c"]}),
                _tok(LOWER={"IN": first_names}),
            ],
            [_tok(LOWER="name"), _tok(LOWER="is"), _tok(**cap_name, OP="{1,3}")],
            [_tok(LOWER="i"), _tok(LOWER={"IN": ["'m", "am"]}), _tok(**cap_name, OP="{1,3}")],
            # A known first name, capitalised anywhere (or unambiguous in lower case),
            # with the surname that may follow.
            [_tok(LOWER={"IN": first_names}, IS_TITLE=True), _tok(**cap_name, OP="{0,2}")],
            [
                _tok(
                    LOWER={"IN": sorted(pat.FIRST_NAMES - _AMBIGUOUS_FIRST_NAMES)},
                    IS_LOWER=True,
                )
            ],
        ],
        greedy="LONGEST",
    )
    return streets, addresses, names


def _has_letter(token: Token) -> bool:
    return any(c.isalpha() for c in token.text)


def _trim_name(span: Span) -> Span | None:
    """Drop civilities, relation words and punctuation around a name; None if nothing left."""
    start, end = span.start, span.end
    doc = span.doc
    while start < end and (doc[start].lower_ in _LEFT_TRIM or not _has_letter(doc[start])):
        start += 1
    while end > start and (doc[end - 1].lower_ in _STOP_WORDS or not _has_letter(doc[end - 1])):
        end -= 1
    if start == end:
        return None
    return Span(doc, start, end, label="name")


def _looks_like_name(span: Span) -> bool:
    """Reject model PER spans that are furniture words, lower-case words, numbers or markup."""
    tokens = list(span)
    if all(t.lower_ in pat.NOT_PERSONS or t.lower_ in _STOP_WORDS for t in tokens):
        return False
    if any(t.like_num or t.like_email or t.like_url or "@" in t.text for t in tokens):
        return False
    # The small model tags lower-case words as PER in SMS-style text; only trust it where a
    # token is capitalised or is a known first name.
    return any(t.text[:1].isupper() or t.lower_ in pat.FIRST_NAMES for t in tokens)


def _capitalised_by_position(span: Span) -> bool:
    """A lone capitalised word opening a sentence, followed by a lower-case word.

    The small model labels such words PER ("Numéro fixe...", "Gros nid-de-poule...") because
    their capital comes from their position; without a pattern's context (a civility, a
    relation, a known first name) that is too weak a sign of a person.
    """
    if len(span) != 1 or span[0].lower_ in pat.FIRST_NAMES:
        return False
    doc = span.doc
    i = span.start
    at_start = i == 0 or doc[i - 1].text in _SENTENCE_END or doc[i - 1].is_space
    following = next((t for t in doc[i + 1 :] if _has_letter(t)), None)
    # "Retrouvez-moi": the next word is "-moi", whose first letter says the case.
    return at_start and (following is None or following.text.lstrip("-'’")[:1].islower())


def _sentence_bounds(doc: Doc, i: int) -> tuple[int, int]:
    start = i
    while start > 0 and doc[start - 1].text not in _SENTENCE_END:
        start -= 1
    end = i
    while end < len(doc) and doc[end].text not in _SENTENCE_END:
        end += 1
    return start, end


def _is_home_cue(doc: Doc, i: int, names: Sequence[Span]) -> bool:
    """Whether token ``i`` ties a nearby address to a person (a home, a neighbour, a name)."""
    tok = doc[i]
    low = tok.lower_
    prev = doc[i - 1].lower_ if i > 0 else ""
    prev2 = doc[i - 2].lower_ if i > 1 else ""
    if low in pat.RELATIONS:
        return True
    if low == "chez":
        return i + 1 < len(doc) and (
            doc[i + 1].lower_ in pat.PERSONAL_WORDS
            or doc[i + 1].lower_ in {"lui", "elle", "eux", "elles", "toi", "vous", "nous"}
            or doc[i + 1].lower_ in pat.TITLES
            or any(n.start == i + 1 for n in names)
        )
    if low in pat.HOME_AFTER_PRONOUN:
        return prev in {"je", "j'", "j’", "on", "nous", "il", "elle", "ils", "elles"}
    if low in pat.HOME_WORDS:
        if tok.text.startswith(("habit", "jhabit", "j'habit", "résid", "resid", "domicil", "liv")):
            return True
        return prev in pat.PERSONAL_WORDS or prev2 in pat.PERSONAL_WORDS
    return False


def _address_is_personal(doc: Doc, span: Span, names: Sequence[Span]) -> bool:
    """Whether an address locates a person (scrub) rather than an object (keep)."""
    sent_start, sent_end = _sentence_bounds(doc, span.start)
    lo = max(sent_start, span.start - _WINDOW_BEFORE)
    hi = min(sent_end, span.end + _WINDOW_AFTER)
    if any(lo <= n.start < hi and n.end <= hi for n in names):
        return True
    return any(_is_home_cue(doc, i, names) for i in (*range(lo, span.start), *range(span.end, hi)))


def _clean_for_detection(text: str) -> tuple[str, list[int] | None]:
    """Drop zero-width characters; return the cleaned text and a map back to the original."""
    if not any(c in pat.ZERO_WIDTH for c in text):
        return text, None
    kept = [i for i, c in enumerate(text) if c not in pat.ZERO_WIDTH]
    return "".join(text[i] for i in kept), kept


def _mask_html(text: str) -> str:
    """Replace HTML tags by spaces of the same length, so that NER sees only the words."""
    if "<" not in text:
        return text
    return pat.HTML_TAG_RE.sub(lambda m: " " * len(m.group()), text)


def _to_original(spans: Iterable[tuple[int, int, str]], index: list[int] | None) -> list[PiiSpan]:
    if index is None:
        return [PiiSpan(s, e, k) for s, e, k in spans]
    return [PiiSpan(index[s], index[e - 1] + 1, k) for s, e, k in spans]


def _apply(text: str, spans: Sequence[PiiSpan]) -> str:
    """Return ``text`` with each span replaced by its placeholder."""
    parts: list[str] = []
    cursor = 0
    for span in spans:
        parts.append(text[cursor : span.start])
        parts.append(PLACEHOLDERS[span.kind])
        cursor = span.end
    parts.append(text[cursor:])
    return "".join(parts)


class Scrubber:
    """Finds and replaces personal data; build it once with :meth:`load` and reuse it."""

    def __init__(self, nlp: Language) -> None:
        """Wrap a loaded pipeline whose ``ner`` labels persons ``PER``."""
        self.nlp = nlp
        self.street_matcher, self.address_matcher, self.name_matcher = _build_matchers(nlp)
        strings = nlp.vocab.strings
        # The street and address patterns all need one of these words: docs without any skip
        # those matchers (most of the Matcher's cost is trying patterns at every token).
        self._street_cues = frozenset(
            strings.add(w) for w in pat.STREET_TYPES | pat.STREET_SUFFIXES_EN
        )

    @classmethod
    def load(cls, model: str | Path = DEFAULT_MODEL) -> Scrubber:
        """Load the packaged spaCy pipeline with only what NER needs, and build the patterns.

        Parameters
        ----------
        model
            An installed package name or a path to a pipeline with an ``ner`` component.

        Returns
        -------
        Scrubber
            Ready to scrub; raises ``OSError`` when the pipeline cannot be found.
        """
        config = spacy.util.load_config(_config_path(model))
        components = list(config["nlp"]["pipeline"])
        if "ner" not in components:
            raise OSError(f"{model}: the pipeline has no 'ner' component")
        keep = {"ner"}
        ner_tok2vec = config["components"]["ner"].get("model", {}).get("tok2vec", {})
        if "Listener" in str(ner_tok2vec.get("@architectures", "")):
            keep.add(str(ner_tok2vec.get("upstream", "tok2vec")))
        exclude = [name for name in components if name not in keep]
        # thinc's default CPU matrix product (blis) is several times slower here than numpy's
        # OpenBLAS for these shapes; the ops are fixed on the model's layers at load time.
        with use_ops("numpy", use_blis=False):
            nlp = spacy.load(model, exclude=exclude)
        return cls(nlp)

    def scrub(self, text: str) -> ScrubResult:
        """Scrub one text."""
        return self.scrub_many([text])[0]

    def scrub_many(self, texts: Iterable[str], batch_size: int = 256) -> list[ScrubResult]:
        """Scrub many texts, running NER in batches (``nlp.pipe``)."""
        return list(self.iter_scrub(texts, batch_size=batch_size))

    def iter_scrub(self, texts: Iterable[str], batch_size: int = 256) -> Iterator[ScrubResult]:
        """Yield one result per text, in input order (NER runs in batches of ``batch_size``)."""
        prepared = [(text, *_clean_for_detection(text or "")) for text in texts]
        docs = self.nlp.pipe((_mask_html(clean) for _, clean, _ in prepared), batch_size=batch_size)
        for (original, clean, index), doc in zip(prepared, docs, strict=True):
            spans = _to_original(self._find(clean, doc), index)
            yield ScrubResult(text=_apply(original or "", spans), spans=tuple(spans))

    def _find(self, text: str, doc: Doc) -> list[tuple[int, int, str]]:
        """All spans of one text, sorted and without overlaps, as (start, end, kind)."""
        regex_found = _regex_spans(text)
        token_spans = self._token_spans(doc)
        taken = sorted(regex_found)
        for span in token_spans:
            s, e = span.start_char, span.end_char
            if all(e <= ts or s >= te for ts, te, _ in taken):
                taken.append((s, e, span.label_))
        return sorted(taken)

    def _token_spans(self, doc: Doc) -> list[Span]:
        """Names and person-linked addresses, from the NER and the token patterns."""
        streets: list[Span] = []
        addresses: list[Span] = []
        if not self._street_cues.isdisjoint(t.lower for t in doc):
            streets = self.street_matcher(doc, as_spans=True)
            addresses = [Span(doc, s, e, label="address") for _, s, e in self.address_matcher(doc)]
        candidates: list[Span] = self.name_matcher(doc, as_spans=True)
        from_model = [ent for ent in doc.ents if ent.label_ == "PER"]

        names: list[Span] = []
        for candidate in candidates + from_model:
            name = _trim_name(candidate)
            if name is None or not _looks_like_name(name):
                continue
            if candidate in from_model and _capitalised_by_position(name):
                continue
            if any(_overlaps(name, street) for street in streets):
                continue
            names.append(name)
        names = filter_spans(names)
        personal = [a for a in addresses if _address_is_personal(doc, a, names)]
        return filter_spans(names + personal)


def _overlaps(a: Span, b: Span) -> bool:
    return a.start < b.end and b.start < a.end


def _config_path(model: str | Path) -> Path:
    """Return the ``config.cfg`` of an installed package or a pipeline directory."""
    if isinstance(model, Path) or not spacy.util.is_package(str(model)):
        return Path(model) / "config.cfg"
    package = Path(spacy.util.get_package_path(str(model)))
    nested = package / f"{package.name}-{spacy.util.get_package_version(str(model))}"
    return (nested if nested.exists() else package) / "config.cfg"
