"""Street names compared as people type them."""

from __future__ import annotations

import re
import unicodedata

# Any run of characters that are not letters or digits (Unicode), "_" included.
_NON_ALNUM = re.compile(r"[\W_]+")


def fold(name: str) -> str:
    """A name without accents, case or punctuation: "Rue de l'Évêché" gives "rue de l eveche"."""
    decomposed = unicodedata.normalize("NFKD", name)
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).lower()
    return _NON_ALNUM.sub(" ", bare).strip()
