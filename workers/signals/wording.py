"""Numbers, words and dates in French and English, and the catalogue the sentences use.

French typography follows the Lexique des règles typographiques de l'Imprimerie nationale:
a narrow no-break space (U+202F) before ``;``, ``:``, ``?``, ``!`` and between thousands,
a no-break space (U+00A0) before ``%`` and inside « guillemets », a decimal comma, ordinals
written ``1er``, ``2e`` (never ``2ème``), and plural from 2 (``1,5 attendu``, ``2 attendus``).

The words are gettext messages, in English in the code and in French in
``workers/translations/fr/LC_MESSAGES/messages.po`` (the no-break spaces are in it). A job has
no request, so each message is translated with the catalogue of an explicit language
(:func:`gettext_in`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

from babel.dates import format_date
from babel.support import NullTranslations, Translations

NNBSP = "\u202f"  # narrow no-break space: thousands, before ; : ? !
NBSP = "\u00a0"  # no-break space: before %, inside guillemets

TRANSLATIONS = Path(__file__).resolve().parents[1] / "translations"


@cache
def _catalogue(lang: str) -> NullTranslations:
    # English is the source: no catalogue, the messages as written.
    return Translations.load(str(TRANSLATIONS), [lang], domain="messages")


def gettext_in(lang: str, message: str, **values: Any) -> str:
    """``message`` in ``lang`` (``fr`` or ``en``), its ``{names}`` filled in."""
    text = _catalogue(lang).gettext(message)
    return text.format(**values) if values else text


def ngettext_in(lang: str, singular: str, plural: str, count: float, **values: Any) -> str:
    """The singular or plural of a message in ``lang``, by that language's rule for ``count``
    (French: singular below 2, so ``1,5 attendu``; English: singular for exactly one)."""
    # gettext's plural formulas take whole numbers; the rule is chosen here, the words in the
    # catalogue (its Plural-Forms: 1 is the singular, 2 the plural).
    one = plural_fr(count, "", "s") == "" if lang == "fr" else plural_en(count, "", "s") == ""
    text = _catalogue(lang).ngettext(singular, plural, 1 if one else 2)
    return text.format(**values) if values else text


def N_(message: str) -> str:  # noqa: N802 (gettext_noop's usual name)
    """Mark ``message`` for the catalogue; it is translated where it is used."""
    return message


def number_fr(value: float, decimals: int = 0) -> str:
    """A number in French: decimal comma, narrow no-break space between thousands."""
    text = f"{value:,.{decimals}f}"
    return text.replace(",", NNBSP).replace(".", ",")


def number_en(value: float, decimals: int = 0) -> str:
    """A number in English, with a comma between thousands."""
    return f"{value:,.{decimals}f}"


def _decimals(value: float) -> int:
    """Decimals worth showing: none from 10, one from 0.1, two below."""
    a = abs(value)
    if a >= 10 or a == 0:
        return 0
    return 1 if a >= 0.1 else 2


def approx_fr(value: float) -> str:
    """A measured quantity in French, to a sensible precision (``12``, ``2,5``, ``4``)."""
    text = number_fr(value, _decimals(value))
    return text.rstrip("0").rstrip(",") if "," in text else text


def approx_en(value: float) -> str:
    """A measured quantity in English, to a sensible precision (``12``, ``2.5``, ``4``)."""
    text = number_en(value, _decimals(value))
    return text.rstrip("0").rstrip(".") if "." in text else text


def plural_fr(count: float, singular: str, plural: str | None = None) -> str:
    """French agreement: singular below 2 (``1,5 attendu``), plural from 2."""
    return singular if abs(count) < 2 else (plural or singular + "s")


def plural_en(count: float, singular: str, plural: str | None = None) -> str:
    """English agreement: singular only for exactly one."""
    return singular if count == 1 else (plural or singular + "s")


def ordinal_fr(n: int, feminine: bool = False) -> str:
    """``1er`` (``1re``), ``2e``, ``3e``...: the French abbreviated ordinal."""
    if n == 1:
        return "1re" if feminine else "1er"
    return f"{n}e"


def ordinal_en(n: int) -> str:
    """``1st``, ``2nd``, ``3rd``, ``4th``, ``11th``, ``21st``..."""
    if 10 <= n % 100 <= 20:
        return f"{n}th"
    return f"{n}{ {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th') }"


def date_fr(day: date) -> str:
    """``1er mars 2025``, ``12 mars 2025``."""
    d = "1er" if day.day == 1 else str(day.day)
    return f"{d} {format_date(day, 'MMMM y', locale='fr')}"


def date_en(day: date) -> str:
    """``12 March 2025``."""
    return format_date(day, "d MMMM y", locale="en")


def join(items: Sequence[str], lang: str) -> str:
    """``a``, ``a and b``, ``a, b and c`` (``a, b et c``)."""
    if len(items) <= 1:
        return "".join(items)
    return gettext_in(lang, "{items} and {last}", items=", ".join(items[:-1]), last=items[-1])


def number(value: float, lang: str, decimals: int = 0) -> str:
    """A number in ``lang``."""
    return number_fr(value, decimals) if lang == "fr" else number_en(value, decimals)


def approx(value: float, lang: str) -> str:
    """A measured quantity in ``lang``, to a sensible precision."""
    return approx_fr(value) if lang == "fr" else approx_en(value)


def ordinal(n: int, lang: str) -> str:
    """The abbreviated ordinal in ``lang`` (``1er``, ``1st``)."""
    return ordinal_fr(n) if lang == "fr" else ordinal_en(n)


def day(value: date, lang: str) -> str:
    """A date in ``lang`` (``1er mars 2025``, ``1 March 2025``)."""
    return date_fr(value) if lang == "fr" else date_en(value)


def quoted(name: str, lang: str) -> str:
    """A name quoted in ``lang``: « name » (no-break spaces inside), "name"."""
    return gettext_in(lang, '"{name}"', name=name)
