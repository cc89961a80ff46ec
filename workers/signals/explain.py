"""Plain French and English sentences that say what a signal is and how sure we are.

These functions take plain values (no database): the detection job gathers the names. The
sentences are gettext messages (``workers.signals.wording``): English here, French in the
catalogue, both languages written at once.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from workers.signals.wording import (
    N_,
    approx,
    day,
    gettext_in,
    join,
    ngettext_in,
    number,
    ordinal,
    quoted,
)

# How a service reads inside a sentence ("5 signalements d'éclairage public en panne",
# "5 street-light outage reports"); a city's own codes fall back to the catalogue's name.
SERVICE_PHRASES: dict[str, str] = {
    "streetlight": N_("street-light outage"),
    "traffic_signal": N_("traffic-signal fault"),
    "road_sign": N_("damaged road-sign"),
    "road_damage": N_("road or pavement damage"),
    "graffiti": N_("graffiti"),
    "illegal_dumping": N_("illegal-dumping"),
    "waste_bins": N_("overflowing-bin"),
    "abandoned_vehicle": N_("abandoned-vehicle"),
    "noise": N_("noise"),
    "public_order": N_("public-order"),
    "street_furniture": N_("street-furniture damage"),
    "water_leak": N_("water-leak or flooding"),
    "other": N_("miscellaneous"),
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

    def name(self, lang: str) -> str:
        """The catalogue's name in ``lang``."""
        return self.name_fr if lang == "fr" else self.name_en


@dataclass(frozen=True)
class AreaLabel:
    """An area's name and its parent (an arrondissement), as sentences need them."""

    code: str
    name: str | None = None
    parent_code: str | None = None
    parent_name: str | None = None


def _reports(n: float, service: ServiceLabel, lang: str) -> str:
    phrase = SERVICE_PHRASES.get(service.code)
    what = gettext_in(lang, phrase) if phrase else quoted(service.name(lang), lang)
    reports = ngettext_in(lang, "report", "reports", n)
    return gettext_in(
        lang, "{number} {what} {reports}", number=number(n, lang), what=what, reports=reports
    )


def _days(days: int, lang: str) -> str:
    if days == 1:
        return gettext_in(lang, "in one day")
    return gettext_in(lang, "in {number} days", number=number(days, lang))


def _ratio(observed: float, expected: float, lang: str) -> str:
    if expected <= 0:
        return gettext_in(lang, "where none were expected")
    return gettext_in(
        lang, "{ratio} times more than expected", ratio=approx(observed / expected, lang)
    )


CENTURY_DAYS = 36_525


def _round_days(days: float) -> float:
    """Whole days below 1,000, two significant figures above (1 209 169 -> 1 200 000)."""
    if days < 1000:
        return round(days)
    scale = 10 ** (math.floor(math.log10(days)) - 1)
    return round(days / scale) * scale


def _and_chance(sentence: str, chance: str, lang: str) -> str:
    """The sentence, then how often chance alone would do it (``...; un tel pic...``)."""
    return gettext_in(lang, "{sentence}; {chance}", sentence=sentence, chance=chance)


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


def places(areas: Sequence[AreaLabel], lang: str) -> str:
    """``in the Noailles quartier (1st arrondissement)``, ``in 4 quartiers of the 3rd
    arrondissement``, ``in 5 quartiers of the 3rd and 4th arrondissements`` (and in French:
    ``dans le quartier Noailles (1er arrondissement)``...)."""
    numbers, names = _parents(areas)
    if len(areas) == 1:
        a = areas[0]
        label = a.name or a.code
        if numbers:
            return gettext_in(
                lang,
                "in the {name} quartier ({ordinal} arrondissement)",
                name=label,
                ordinal=ordinal(numbers[0], lang),
            )
        if names:
            return gettext_in(
                lang, "in the {name} quartier ({parent})", name=label, parent=names[0]
            )
        return gettext_in(lang, "in the {name} quartier", name=label)
    head = gettext_in(lang, "in {number} quartiers", number=number(len(areas), lang))
    if numbers and not names:
        ords = [ordinal(n, lang) for n in numbers]
        if len(ords) == 1:
            return gettext_in(
                lang, "{places} of the {ordinal} arrondissement", places=head, ordinal=ords[0]
            )
        return gettext_in(
            lang,
            "{places} of the {ordinals} arrondissements",
            places=head,
            ordinals=join(ords, lang),
        )
    if names and not numbers:
        return f"{head} ({join(names, lang)})"
    return head


def places_fr(areas: Sequence[AreaLabel]) -> str:
    """The places in French (:func:`places`)."""
    return places(areas, "fr")


def places_en(areas: Sequence[AreaLabel]) -> str:
    """The places in English (:func:`places`)."""
    return places(areas, "en")


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

    def sentence(lang: str) -> str:
        text = (
            f"{_reports(observed, service, lang)} {_days(days, lang)} {places(areas, lang)}, "
            f"{_ratio(observed, expected, lang)}"
        )
        if recurrence_interval_days is not None:
            if recurrence_interval_days >= CENTURY_DAYS:
                chance = gettext_in(
                    lang, "a cluster like this would arise by chance less than once a century"
                )
            else:
                chance = gettext_in(
                    lang,
                    "a cluster like this would arise by chance only once every {days} days",
                    days=number(_round_days(recurrence_interval_days), lang),
                )
            text = _and_chance(text, chance, lang)
        return text + "."

    return sentence("fr"), sentence("en")


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

    def sentence(lang: str) -> str:
        if weekly:
            when = gettext_in(lang, "in the 7 days to {date}", date=day(end, lang))
            baseline = gettext_in(lang, "from the same weeks of past years")
        else:
            when = gettext_in(lang, "on {date}", date=day(end, lang))
            baseline = gettext_in(lang, "from the previous days")
        if expected > 0:
            against = ngettext_in(
                lang,
                "against {expected} expected {baseline}",
                "against {expected} expected {baseline}",
                expected,
                expected=approx(expected, lang),
                baseline=baseline,
            )
        else:
            against = gettext_in(lang, "where none were expected {baseline}", baseline=baseline)
        text = f"{_reports(observed, service, lang)} {when} {places([area], lang)}, {against}"
        if recurrence_interval_days is not None:
            if n_series > 1:
                zone = gettext_in(
                    lang, "in one of the {number} quartiers", number=number(n_series, lang)
                )
            else:
                zone = gettext_in(lang, "here")
            if recurrence_interval_days >= CENTURY_DAYS:
                chance = gettext_in(
                    lang,
                    "a peak like this would arise by chance {zone} less than once a century",
                    zone=zone,
                )
            else:
                chance = gettext_in(
                    lang,
                    "a peak like this would arise by chance {zone} only once every {days} days",
                    zone=zone,
                    days=number(_round_days(recurrence_interval_days), lang),
                )
            text = _and_chance(text, chance, lang)
        return text + "."

    return sentence("fr"), sentence("en")


def _p_text(p: float, lang: str) -> str:
    """``p = 0,003``, or ``p < 0,001`` in scientific notation below."""
    if p >= 0.001:
        return f"p = {number(p, lang, 3)}"
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

    def sentence(lang: str, incidents: str, stratum: str) -> str:
        phrase = SERVICE_PHRASES.get(service.code)
        what = gettext_in(lang, phrase) if phrase else quoted(service.name(lang), lang)
        # The French phrases read after a noun ("signalements d'éclairage..."); here they
        # stand alone in brackets.
        if what.startswith(("de ", "d'")):
            what = what[3:] if what.startswith("de ") else what[2:]
        high = gettext_in(lang, "infinity") if math.isinf(ci_high) else approx(ci_high, lang)
        return ngettext_in(
            lang,
            "{observed} {incidents}{stratum} within {radius} m of an open {what} report {when}, "
            "against {expected} expected if those reports made no difference: a rate {ratio} "
            "times higher ({percent} confidence interval {low} to {high}, {p}).",
            "{observed} {incidents}{stratum} within {radius} m of an open {what} report {when}, "
            "against {expected} expected if those reports made no difference: a rate {ratio} "
            "times higher ({percent} confidence interval {low} to {high}, {p}).",
            expected,
            observed=number(observed, lang),
            incidents=incidents,
            stratum=f" {stratum}" if stratum else "",
            radius=number(radius_m, lang),
            what=what,
            when=gettext_in(
                lang, "from {start} to {end}", start=day(start, lang), end=day(end, lang)
            ),
            expected=approx(expected, lang),
            ratio=approx(rate_ratio, lang),
            percent=gettext_in(lang, "{number}%", number=number(95, lang)),
            low=approx(ci_low, lang),
            high=high,
            p=_p_text(p_value, lang),
        )

    return sentence("fr", incident_fr, stratum_fr), sentence("en", incident_en, stratum_en)
