"""The street gazetteer: fold a street name, and match what a resident typed against it."""

from __future__ import annotations

import re
import unicodedata

from sqlalchemy import func
from sqlmodel import Session, col, select

from backend.models import Street

__all__ = ["fold", "has_streets", "match", "street_part"]

_NON_ALNUM = re.compile(r"[\W_]+")  # Unicode: "œ" is a letter, "_" is not
# A house number in front of the street ("12", "12 bis", "12b,"): not part of its name.
_HOUSE_NUMBER = re.compile(r"^\d+\s*(?:bis|ter|quater|[a-d])?\b\s*")


def fold(name: str) -> str:
    """A name lower-cased, without accents, every run of other characters one space.

    NFKD, combining marks dropped, ``lower()``, any run of non-alphanumeric characters
    replaced by one space, stripped: "Rue de l'Évêché" gives "rue de l eveche". The import CLI
    stores it in ``Street.folded``; :func:`match` folds what a resident typed the same way.
    """
    decomposed = unicodedata.normalize("NFKD", name)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _NON_ALNUM.sub(" ", bare.lower()).strip()


def street_part(text: str) -> str:
    """The folded street of a typed address: without its house number in front."""
    return _HOUSE_NUMBER.sub("", fold(text)).strip()


def match(session: Session, text: str, limit: int = 10) -> list[Street]:
    """The streets that best match ``text``, best first (at most ``limit``).

    Exact folded name first, then names starting with the text, then names holding it;
    within each, shorter names first (the least surprising completion), then by name. A
    leading house number is ignored. Nothing for an empty text or one of a single character.
    """
    query = street_part(text)
    if len(query) < 2 or limit < 1:
        return []
    found: list[Street] = []
    seen: set[int] = set()
    folded = col(Street.folded)
    # fold() leaves only letters, digits and spaces: nothing LIKE would read as a wildcard.
    conditions = (folded == query, folded.like(query + "%"), folded.like("%" + query + "%"))
    for condition in conditions:
        if len(found) >= limit:
            break
        stmt = (
            select(Street)
            .where(condition)
            .order_by(func.length(Street.folded), col(Street.name), col(Street.id))
            .limit(limit + len(seen))
        )
        for street in session.exec(stmt):
            if street.id in seen:
                continue
            assert street.id is not None
            seen.add(street.id)
            found.append(street)
            if len(found) >= limit:
                break
    return found


def has_streets(session: Session) -> bool:
    """Whether the city imported its gazetteer."""
    return session.exec(select(Street.id).limit(1)).first() is not None
