"""Language detection: French, English, anything else."""

from __future__ import annotations

import pytest

from nlp.language import detect_language
from nlp.training import load_split


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Le lampadaire devant chez moi ne s'allume plus depuis une semaine.", "fr"),
        ("ya plus de lumiere dans la rue c nul", "fr"),
        ("lampadaire HS", "fr"),  # nothing decides: the city's first language
        ("The street light outside my house has been out for a week.", "en"),
        ("there is a huge pothole on the road", "en"),
        ("La farola de mi calle no funciona desde hace una semana.", "other"),
        ("Il lampione davanti a casa mia non funziona da una settimana.", "other"),
        ("A lâmpada da rua não funciona há uma semana.", "other"),
        ("Die Straßenlaterne vor meinem Haus ist seit einer Woche kaputt.", "other"),
        ("مصباح الشارع لا يعمل منذ أسبوع", "other"),
        ("Фонарь на улице не работает", "other"),
        ("😡😡😡", "other"),
        ("", "other"),
    ],
)
def test_detect_language(text: str, expected: str) -> None:
    assert detect_language(text) == expected


def test_corpus_languages_are_recognised() -> None:
    rows = load_split("dev") + load_split("test")
    wrong = [r["text"] for r in rows if detect_language(r["text"]) != r["lang"]]
    assert len(wrong) / len(rows) < 0.01, wrong[:5]
