"""Fixtures of the signals tests."""

from __future__ import annotations

import pytest
from sqlmodel import Session

from tests.signals.synthetic import AS_OF, add_reports, background


@pytest.fixture
def quiet_city(session: Session, marseille_areas: int) -> int:
    """A year of street-light and graffiti reports in Marseille, nothing unusual."""
    rows = background(
        session,
        services=("streetlight", "graffiti"),
        per_year=900,
        days=365,
        as_of=AS_OF,
        seed=7,
    )
    return add_reports(session, rows, prefix="bg")
