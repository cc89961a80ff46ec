"""The French and English explanations: numbers, plurals, places, typography."""

from __future__ import annotations

import math
from datetime import date

from workers.signals.explain import (
    AreaLabel,
    ServiceLabel,
    explain_cooccurrence,
    explain_scan,
    explain_temporal,
    places_en,
    places_fr,
)
from workers.signals.wording import NBSP, NNBSP, date_fr, number_fr, ordinal_en, ordinal_fr

LIGHT = ServiceLabel("streetlight", "Éclairage public en panne", "Street light out")
CUSTOM = ServiceLabel("tree_down", "Arbre tombé", "Fallen tree")


def _q(code: str, name: str, arr: str | None = "13203") -> AreaLabel:
    return AreaLabel(code=code, name=name, parent_code=arr)


THIRD = [
    _q("1320301", "Belle de Mai"),
    _q("1320302", "Saint-Lazare"),
    _q("1320303", "Saint-Mauront"),
    _q("1320304", "La Villette"),
]


def test_the_issue_example_reads_as_written() -> None:
    fr, en = explain_scan(
        service=LIGHT,
        areas=THIRD,
        start=date(2025, 3, 10),
        end=date(2025, 3, 12),
        observed=5,
        expected=5 / 12,
        recurrence_interval_days=400,
    )
    assert fr == (
        "5 signalements d'éclairage public en panne en 3 jours dans 4 quartiers du 3e "
        "arrondissement, 12 fois plus qu'attendu\u202f; un tel regroupement n'arriverait par "
        "hasard qu'une fois tous les 400 jours."
    )
    assert en == (
        "5 street-light outage reports in 3 days in 4 quartiers of the 3rd arrondissement, "
        "12 times more than expected; a cluster like this would arise by chance only once "
        "every 400 days."
    )


def test_singulars_one_quartier_and_one_day() -> None:
    fr, en = explain_scan(
        service=LIGHT,
        areas=[_q("1320101", "Belsunce", "13201")],
        start=date(2025, 3, 1),
        end=date(2025, 3, 1),
        observed=1,
        expected=0.25,
        recurrence_interval_days=1000,
    )
    assert fr.startswith("1 signalement d'éclairage public en panne en un jour dans le quartier")
    assert "Belsunce (1er arrondissement)" in fr and "4 fois plus" in fr
    assert f"tous les 1{NNBSP}000 jours" in fr
    assert en.startswith("1 street-light outage report in one day in the Belsunce quartier")
    assert "(1st arrondissement)" in en and "every 1,000 days" in en


def test_places_across_arrondissements_and_other_cities() -> None:
    two = [_q("1320301", "Belle de Mai"), _q("1320401", "Chartreux", "13204")]
    assert places_fr(two) == "dans 2 quartiers des 3e et 4e arrondissements"
    assert places_en(two) == "in 2 quartiers of the 3rd and 4th arrondissements"
    three = [*two, _q("1320101", "Belsunce", "13201")]
    assert places_fr(three) == "dans 3 quartiers des 1er, 3e et 4e arrondissements"
    assert places_en(three) == "in 3 quartiers of the 1st, 3rd and 4th arrondissements"
    lyon = [AreaLabel("A", "Croix-Rousse", "69004", "Lyon 4e"), AreaLabel("B", "Plateau")]
    assert places_fr(lyon) == "dans 2 quartiers (Lyon 4e)"
    assert places_fr([AreaLabel("8a3969b5a2fffff")]) == "dans le quartier 8a3969b5a2fffff"


def test_french_numbers_ordinals_and_dates() -> None:
    assert number_fr(1234567) == f"1{NNBSP}234{NNBSP}567"
    assert number_fr(2.5, 1) == "2,5"
    assert [ordinal_fr(n) for n in (1, 2, 16)] == ["1er", "2e", "16e"]
    assert [ordinal_en(n) for n in (1, 2, 3, 4, 11, 12, 13, 21, 22)] == [
        "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd",
    ]  # fmt: skip
    assert date_fr(date(2025, 3, 1)) == "1er mars 2025"
    assert date_fr(date(2025, 8, 15)) == "15 août 2025"


def test_temporal_agreement_and_huge_recurrence() -> None:
    fr, en = explain_temporal(
        service=CUSTOM,
        area=_q("1320301", "Belle de Mai"),
        start=date(2025, 3, 12),
        end=date(2025, 3, 12),
        observed=9,
        expected=1.5,
        weekly=False,
        n_series=111,
        recurrence_interval_days=1_209_169,
    )
    # an unknown service is named in guillemets with no-break spaces; 1,5 is singular
    assert fr.startswith(f"9 signalements «{NBSP}Arbre tombé{NBSP}» le 12 mars 2025")
    assert "contre 1,5 attendu d'après" in fr
    assert "un tel pic arriverait par hasard, dans l'un des 111 quartiers, moins d'une fois" in fr
    assert en.startswith('9 "Fallen tree" reports on 12 March 2025')
    assert "less than once a century" in en
    fr2, _ = explain_temporal(
        service=LIGHT,
        area=_q("1320301", "Belle de Mai"),
        start=date(2025, 3, 6),
        end=date(2025, 3, 12),
        observed=20,
        expected=3.2,
        weekly=True,
        n_series=111,
        recurrence_interval_days=1234,
    )
    assert "en 7 jours jusqu'au 12 mars 2025" in fr2 and "3,2 attendus" in fr2
    assert f"tous les 1{NNBSP}200 jours" in fr2


def test_cooccurrence_sentence() -> None:
    fr, en = explain_cooccurrence(
        service=LIGHT,
        incident_fr="accidents de la route",
        incident_en="road accidents",
        radius_m=50,
        start=date(2025, 1, 1),
        end=date(2025, 12, 31),
        observed=17,
        expected=0.19,
        rate_ratio=395,
        ci_low=140,
        ci_high=math.inf,
        p_value=2e-31,
        stratum_fr="de nuit",
        stratum_en="at night",
    )
    assert fr.startswith(f"17 accidents de la route de nuit à moins de 50{NBSP}m")
    assert "(éclairage public en panne)" in fr and "du 1er janvier 2025 au 31 décembre 2025" in fr
    assert f"{NNBSP}: un taux 395 fois plus élevé" in fr and f"95{NBSP}%" in fr
    assert "à l'infini" in fr
    assert en.startswith("17 road accidents at night within 50 m of an open street-light")
    assert "395 times higher" in en and "to infinity" in en
