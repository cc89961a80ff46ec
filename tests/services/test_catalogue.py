"""The default catalogue: the classifier's categories, named as the classifier names them."""

from __future__ import annotations

from sqlmodel import Session, col, select

from backend.models import Service
from nlp import taxonomy


def test_the_city_starts_with_the_classifiers_categories_and_their_names(session: Session) -> None:
    services = session.exec(select(Service).order_by(col(Service.sort_order))).all()
    assert [(s.code, s.name_fr, s.name_en) for s in services] == [
        (t.code, t.fr, t.en) for t in taxonomy.SERVICES
    ]
    assert {s.code for s in services if s.about_people} == {"noise", "public_order"}
