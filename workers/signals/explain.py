"""Plain French and English sentences that say what a signal is and how sure we are.

French typography follows the Lexique des règles typographiques de l'Imprimerie nationale:
a narrow no-break space (U+202F) before ``;``, ``:``, ``?``, ``!`` and between thousands,
a no-break space (U+00A0) before ``%`` and inside « guillemets », a decimal comma, ordinals
written ``1er``, ``2e`` (never ``2ème``), and plural from 2 (``1,5 attendu``, ``2 attendus``).
These functions take plain values (no database): the detection job gathers the names.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from babel.dates import format_date

NNBSP = "\u202f"  # narrow no-break space: thousands, before ; : ? !
NBSP = "\u00a0"  # no-break space: before %, inside guillemets

# How a service reads inside a sentence ("5 signalements d'éclairage public en panne",
# "5 street-light outage reports"); a city's own codes fall back to the catalogue's name.
SERVICE_PHRASES: dict[str, tuple[str, str]] = {
    "streetlight": ("d'éclairage public en panne", "street-light outage"),
    "traffic_signal": ("de feu tricolore défectueux", "traffic-signal fault"),
    "road_sign": ("de panneau de signalisation endommagé", "damaged road-sign"),
    "road_damage": ("de chaussée ou trottoir dégradé", "road or pavement damage"),
    "graffiti": ("de tags et graffitis", "graffiti"),
    "illegal_dumping": ("de dépôt sauvage", "illegal-dumping"),
    "waste_bins": ("de poubelles débordantes", "overflowing-bin"),
    "abandoned_vehicle": ("de véhicule abandonné", "abandoned-vehicle"),
    "noise": ("de nuisances sonores", "noise"),
    "public_order": ("de troubles à la tranquillité publique", "public-order"),
    "street_furniture": ("de mobilier urbain endommagé", "street-furniture damage"),
    "water_leak": ("de fuite d'eau ou d'inondation", "water-leak or flooding"),
    "other": ("divers", "miscellaneous"),
}

# Marseille's arrondissements are INSEE communes 13201..13216; other cities' parents are
# named from their own area rows.
_MARSEILLE_ARR = re.compile(r"^132(0[1-9]|1[0-6])$")


@dataclass(frozen=True)
class ServiceLabel:
    """A service code and its catalogue names."""

    code: str
    name_fr: str
    name_en: str


@dataclass(frozen=True)
class AreaLabel:
    """An area's name and its parent (an arrondissement), as sentences need them."""

    code: str
    name: str | None = None
    parent_code: str | None = None
    parent_name: str | None = None


# --------------------------------------------------------------------------------------------
# Numbers, words, dates
# --------------------------------------------------------------------------------------------


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


def join_fr(items: Sequence[str]) -> str:
    """``a``, ``a et b``, ``a, b et c``."""
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " et " + items[-1]


def join_en(items: Sequence[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def guillemets(text: str) -> str:
    """« text », with no-break spaces inside."""
    return f"«{NBSP}{text}{NBSP}»"


def _reports_fr(n: float, service: ServiceLabel) -> str:
    word = plural_fr(n, "signalement")
    phrase = SERVICE_PHRASES.get(service.code, (None, None))[0]
    if phrase is None:
        return f"{number_fr(n)} {word} {guillemets(service.name_fr)}"
    return f"{number_fr(n)} {word} {phrase}"


def _reports_en(n: float, service: ServiceLabel) -> str:
    word = plural_en(n, "report")
    phrase = SERVICE_PHRASES.get(service.code, (None, None))[1]
    if phrase is None:
        return f'{number_en(n)} "{service.name_en}" {word}'
    return f"{number_en(n)} {phrase} {word}"


def _days_fr(days: int) -> str:
    return "en un jour" if days == 1 else f"en {number_fr(days)} jours"


def _days_en(days: int) -> str:
    return "in one day" if days == 1 else f"in {number_en(days)} days"


def _ratio_fr(observed: float, expected: float) -> str:
    if expected <= 0:
        return "alors qu'aucun n'était attendu"
    r = observed / expected
    return f"{approx_fr(r)} fois plus qu'attendu"


def _ratio_en(observed: float, expected: float) -> str:
    if expected <= 0:
        return "where none were expected"
    r = observed / expected
    return f"{approx_en(r)} times more than expected"


CENTURY_DAYS = 36_525


def _round_days(days: float) -> float:
    """Whole days below 1,000, two significant figures above (1 209 169 -> 1 200 000)."""
    if days < 1000:
        return round(days)
    scale = 10 ** (math.floor(math.log10(days)) - 1)
    return round(days / scale) * scale


def _chance_fr(subject: str, days: float, zone: str = "") -> str:
    """``un tel pic n'arriverait par hasard[, zone,] qu'une fois tous les N jours``."""
    if days >= CENTURY_DAYS:
        return f"{subject} arriverait par hasard{zone} moins d'une fois par siècle"
    return (
        f"{subject} n'arriverait par hasard{zone} "
        f"qu'une fois tous les {number_fr(_round_days(days))} jours"
    )


def _every_en(days: float) -> str:
    if days >= CENTURY_DAYS:
        return "less than once a century"
    return f"only once every {number_en(_round_days(days))} days"


# --------------------------------------------------------------------------------------------
# Places
# --------------------------------------------------------------------------------------------


def _arrondissement(code: str | None) -> int | None:
    if code and _MARSEILLE_ARR.match(code):
        return int(code[-2:])
    return None


def _parents(areas: Sequence[AreaLabel]) -> tuple[list[int], list[str]]:
    """Arrondissement numbers (Marseille) and other parents' names, in first-seen order."""
    numbers: list[int] = []
    names: list[str] = []
    for a in areas:
        n = _arrondissement(a.parent_code)
        if n is not None:
            if n not in numbers:
                numbers.append(n)
        elif a.parent_name and a.parent_name not in names:
            names.append(a.parent_name)
    return sorted(numbers), names


def places_fr(areas: Sequence[AreaLabel]) -> str:
    """``dans le quartier Noailles (1er arrondissement)``, ``dans 4 quartiers du 3e
    arrondissement``, ``dans 5 quartiers des 3e et 4e arrondissements``."""
    numbers, names = _parents(areas)
    if len(areas) == 1:
        a = areas[0]
        label = a.name or a.code
        if numbers:
            return f"dans le quartier {label} ({ordinal_fr(numbers[0])} arrondissement)"
        if names:
            return f"dans le quartier {label} ({names[0]})"
        return f"dans le quartier {label}"
    head = f"dans {number_fr(len(areas))} quartiers"
    if numbers and not names:
        ords = [ordinal_fr(n) for n in numbers]
        if len(ords) == 1:
            return f"{head} du {ords[0]} arrondissement"
        return f"{head} des {join_fr(ords)} arrondissements"
    if names and not numbers:
        return f"{head} ({join_fr(names)})"
    return head


def places_en(areas: Sequence[AreaLabel]) -> str:
    """``in the Noailles quartier (1st arrondissement)``, ``in 4 quartiers of the 3rd
    arrondissement``."""
    numbers, names = _parents(areas)
    if len(areas) == 1:
        a = areas[0]
        label = a.name or a.code
        if numbers:
            return f"in the {label} quartier ({ordinal_en(numbers[0])} arrondissement)"
        if names:
            return f"in the {label} quartier ({names[0]})"
        return f"in the {label} quartier"
    head = f"in {number_en(len(areas))} quartiers"
    if numbers and not names:
        ords = [ordinal_en(n) for n in numbers]
        if len(ords) == 1:
            return f"{head} of the {ords[0]} arrondissement"
        return f"{head} of the {join_en(ords)} arrondissements"
    if names and not numbers:
        return f"{head} ({join_en(names)})"
    return head


# --------------------------------------------------------------------------------------------
# The three detectors
# --------------------------------------------------------------------------------------------


def explain_scan(
    *,
    service: ServiceLabel,
    areas: Sequence[AreaLabel],
    start: date,
    end: date,
    observed: int,
    expected: float,
    recurrence_interval_days: float | None,
) -> tuple[str, str]:
    """French and English sentences for a space-time cluster.

    Parameters
    ----------
    service : ServiceLabel
        The service whose reports cluster.
    areas : sequence of AreaLabel
        The areas of the cluster.
    start, end : date
        Its first and last day.
    observed, expected : int, float
        Reports in the cluster, and expected there by chance.
    recurrence_interval_days : float or None
        How often a cluster this strong arises by chance (prospective scans).

    Returns
    -------
    (str, str)
        The French sentence, then the English one.
    """
    days = (end - start).days + 1
    fr = (
        f"{_reports_fr(observed, service)} {_days_fr(days)} {places_fr(areas)}, "
        f"{_ratio_fr(observed, expected)}"
    )
    en = (
        f"{_reports_en(observed, service)} {_days_en(days)} {places_en(areas)}, "
        f"{_ratio_en(observed, expected)}"
    )
    if recurrence_interval_days is not None:
        fr += f"{NNBSP}; {_chance_fr('un tel regroupement', recurrence_interval_days)}"
        en += f"; a cluster like this would arise by chance {_every_en(recurrence_interval_days)}"
    return fr + ".", en + "."


def explain_temporal(
    *,
    service: ServiceLabel,
    area: AreaLabel,
    start: date,
    end: date,
    observed: float,
    expected: float,
    weekly: bool,
    n_series: int,
    recurrence_interval_days: float | None,
) -> tuple[str, str]:
    """French and English sentences for a temporal aberration in one area.

    Parameters
    ----------
    service : ServiceLabel
        The service of the series.
    area : AreaLabel
        The area of the series.
    start, end : date
        The day (EARS) or the 7 days (Farrington) that stand out.
    observed, expected : float
        The count and the baseline (mean of the previous days, or the model's expectation
        from the same weeks of past years).
    weekly : bool
        Whether the baseline is the same weeks of past years (Farrington) rather than the
        previous days (EARS).
    n_series : int
        Areas watched for this service (the recurrence interval covers them all).
    recurrence_interval_days : float or None
        How often a peak this strong arises by chance in one of the ``n_series`` areas.

    Returns
    -------
    (str, str)
        The French sentence, then the English one.
    """
    if weekly:
        when_fr = f"en 7 jours jusqu'au {date_fr(end)}"
        when_en = f"in the 7 days to {date_en(end)}"
        base_fr = "d'après les mêmes semaines des années passées"
        base_en = "from the same weeks of past years"
    else:
        when_fr = f"le {date_fr(end)}"
        when_en = f"on {date_en(end)}"
        base_fr = "d'après les jours précédents"
        base_en = "from the previous days"
    if expected > 0:
        exp_fr = f"contre {approx_fr(expected)} {plural_fr(expected, 'attendu')} {base_fr}"
        exp_en = f"against {approx_en(expected)} expected {base_en}"
    else:
        exp_fr = f"alors qu'aucun n'était attendu {base_fr}"
        exp_en = f"where none were expected {base_en}"
    fr = f"{_reports_fr(observed, service)} {when_fr} {places_fr([area])}, {exp_fr}"
    en = f"{_reports_en(observed, service)} {when_en} {places_en([area])}, {exp_en}"
    if recurrence_interval_days is not None:
        zone_fr = f"dans l'un des {number_fr(n_series)} quartiers" if n_series > 1 else "ici"
        zone_en = f"in one of the {number_en(n_series)} quartiers" if n_series > 1 else "here"
        fr += f"{NNBSP}; {_chance_fr('un tel pic', recurrence_interval_days, f', {zone_fr},')}"
        en += (
            f"; a peak like this would arise by chance {zone_en} "
            f"{_every_en(recurrence_interval_days)}"
        )
    return fr + ".", en + "."


def _p_text(p: float, lang: str) -> str:
    """``p = 0,003``, or ``p < 0,001`` in scientific notation below."""
    if p >= 0.001:
        return f"p = {number_fr(p, 3)}" if lang == "fr" else f"p = {p:.3f}"
    exponent = math.floor(math.log10(max(p, 1e-300)))
    return f"p < 10^{exponent + 1}"


def explain_cooccurrence(
    *,
    service: ServiceLabel,
    incident_fr: str,
    incident_en: str,
    radius_m: float,
    start: date,
    end: date,
    observed: int,
    expected: float,
    rate_ratio: float,
    ci_low: float,
    ci_high: float,
    p_value: float,
    stratum_fr: str = "",
    stratum_en: str = "",
) -> tuple[str, str]:
    """French and English sentences for an explanatory factor (reports × incidents).

    Parameters
    ----------
    service : ServiceLabel
        The reports' service (e.g. street lights).
    incident_fr, incident_en : str
        The incidents in a plural phrase (``accidents de la route``, ``road accidents``).
    radius_m : float
        The exposure radius.
    start, end : date
        The study period.
    observed, expected : int, float
        Incidents near an open report, and expected there if reports changed nothing.
    rate_ratio, ci_low, ci_high : float
        The rate ratio and its exact 95 % interval.
    p_value : float
        One-sided exact p-value (a raised rate).
    stratum_fr, stratum_en : str
        The stratum tested, e.g. ``la nuit`` / ``at night`` (empty for all).

    Returns
    -------
    (str, str)
        The French sentence, then the English one.
    """
    phrase_fr, phrase_en = SERVICE_PHRASES.get(
        service.code, (guillemets(service.name_fr), f'"{service.name_en}"')
    )
    if phrase_fr.startswith(("de ", "d'")):
        phrase_fr = phrase_fr[3:] if phrase_fr.startswith("de ") else phrase_fr[2:]
    when_fr = f"du {date_fr(start)} au {date_fr(end)}"
    when_en = f"from {date_en(start)} to {date_en(end)}"
    s_fr = f" {stratum_fr}" if stratum_fr else ""
    s_en = f" {stratum_en}" if stratum_en else ""
    hi_fr = "l'infini" if math.isinf(ci_high) else approx_fr(ci_high)
    hi_en = "infinity" if math.isinf(ci_high) else approx_en(ci_high)
    exp_fr = f"{approx_fr(expected)} {plural_fr(expected, 'attendu')}"
    fr = (
        f"{number_fr(observed)} {incident_fr}{s_fr} à moins de {number_fr(radius_m)}{NBSP}m "
        f"d'un signalement en cours ({phrase_fr}) {when_fr}, contre {exp_fr} si ces "
        f"signalements n'y changeaient rien{NNBSP}: un taux "
        f"{approx_fr(rate_ratio)} fois plus élevé (intervalle de "
        f"confiance à 95{NBSP}% de {approx_fr(ci_low)} à {hi_fr}, "
        f"{_p_text(p_value, 'fr')})."
    )
    en = (
        f"{number_en(observed)} {incident_en}{s_en} within {number_en(radius_m)} m of an open "
        f"{phrase_en} report {when_en}, against {approx_en(expected)} "
        f"expected if those reports made no difference: a rate "
        f"{approx_en(rate_ratio)} times higher (95% confidence "
        f"interval {approx_en(ci_low)} to {hi_en}, {_p_text(p_value, 'en')})."
    )
    return fr, en
