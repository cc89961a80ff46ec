"""Small-count suppression against an adversary who solves the published equations."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import linprog

from workers.publication.suppression import Relation, find_recomputable, protect


def adversary_bounds(
    values: dict, relations: list[Relation], hidden: set, target: object
) -> tuple[float, float]:
    """The smallest and largest value of a hidden cell consistent with everything published.

    An independent solver (linear programming, counts >= 0): the published cells are known,
    every relation is an equation over the hidden ones.
    """
    unknowns = sorted(hidden, key=repr)
    col = {k: i for i, k in enumerate(unknowns)}
    rows, rhs = [], []
    for rel in relations:
        row = np.zeros(len(unknowns))
        known = 0.0
        for key, coef in [(rel.total, -1.0), *[(p, 1.0) for p in rel.parts]]:
            if key in col:
                row[col[key]] += coef
            else:
                known += coef * values.get(key, 0)
        if row.any():
            rows.append(row)
            rhs.append(-known)
    c = np.zeros(len(unknowns))
    c[col[target]] = 1.0
    lo = linprog(c, A_eq=np.array(rows), b_eq=np.array(rhs), bounds=(0, None))
    hi = linprog(-c, A_eq=np.array(rows), b_eq=np.array(rhs), bounds=(0, None))
    assert lo.status == 0 and hi.status == 0
    return lo.fun, -hi.fun


def table_2d(rng: np.random.Generator, rows: int, cols: int, lam: float) -> tuple[dict, list]:
    """A rows x cols table of Poisson counts with its row, column and grand totals."""
    values: dict = {}
    for r in range(rows):
        for c in range(cols):
            values[(r, c)] = int(rng.poisson(lam))
    for r in range(rows):
        values[(r, "*")] = sum(values[(r, c)] for c in range(cols))
    for c in [*range(cols), "*"]:
        values[("*", c)] = sum(values[(r, c)] for r in range(rows))
    relations = [
        Relation((r, "*"), tuple((r, c) for c in range(cols))) for r in [*range(rows), "*"]
    ] + [Relation(("*", c), tuple((r, c) for r in range(rows))) for c in [*range(cols), "*"]]
    return values, relations


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_no_small_count_can_be_recomputed_in_a_two_way_table(seed: int) -> None:
    rng = np.random.default_rng(seed)
    values, relations = table_2d(rng, 9, 7, lam=6.0)
    result = protect(values, relations, threshold=5)
    small = {k for k, v in values.items() if 0 < v < 5}
    assert small and small <= result.primary
    assert result.complementary, "primary suppression alone would be undone by subtraction"
    assert all(values[k] > 0 for k in result.hidden), "a hidden zero would be pinned by x >= 0"
    for key in sorted(result.primary, key=repr):
        lo, hi = adversary_bounds(values, relations, result.hidden, key)
        assert hi - lo >= 1 - 1e-6, f"{key} pinned to [{lo}, {hi}]"


def test_the_singleton_rule_alone_misses_a_bridge_the_audit_catches() -> None:
    # Two 2x2 blocks of hidden cells joined by one hidden cell (2, 3): every row and column
    # holds at least two hidden cells, yet (2, 3) is a bridge: row 2 minus the first block's
    # column sums gives it exactly.
    rows = cols = range(1, 5)
    relations = [Relation((r, "*"), tuple((r, c) for c in cols)) for r in rows] + [
        Relation(("*", c), tuple((r, c) for r in rows)) for c in cols
    ]
    pattern = {(1, 1), (1, 2), (2, 1), (2, 2), (3, 3), (3, 4), (4, 3), (4, 4), (2, 3)}
    for rel in relations:
        assert len([k for k in (rel.total, *rel.parts) if k in pattern]) != 1
    assert find_recomputable({}, relations, pattern) == {(2, 3)}
    # Its value is indeed pinned by the adversary's LP, whatever the counts are.
    values: dict[tuple[object, object], int] = {(r, c): 3 for r in rows for c in cols}
    for r in rows:
        values[(r, "*")] = 12
    for c in cols:
        values[("*", c)] = 12
    lo, hi = adversary_bounds(values, relations, pattern, (2, 3))
    assert abs(hi - lo) < 1e-6
    # protect() hides one more cell and the bridge is gone.
    values[(2, 3)] = 1
    values[(2, "*")] = 10
    values[("*", 3)] = 10
    result = protect(values, relations, threshold=2)
    assert (2, 3) in result.primary
    lo, hi = adversary_bounds(values, relations, result.hidden, (2, 3))
    assert hi - lo >= 1 - 1e-6


def test_linked_tables_months_quarter_and_areas_are_protected_together() -> None:
    """Areas nested in districts, services, three months and their quarter: one system."""
    rng = np.random.default_rng(7)
    areas = {"a1": "d1", "a2": "d1", "a3": "d1", "b1": "d2", "b2": "d2"}
    services = ["s1", "s2", "s3"]
    months = ["m1", "m2", "m3"]
    values: dict = {}
    for month in months:
        for area in areas:
            for service in services:
                values[(month, area, service)] = int(rng.poisson(4))
    relations: list[Relation] = []
    periods = [*months, "q"]
    for area in areas:
        for service in services:
            values[("q", area, service)] = sum(values[(m, area, service)] for m in months)
    all_areas = [*areas, "d1", "d2", "city"]
    for period in periods:
        for area in areas:
            values[(period, area, "*")] = sum(values[(period, area, s)] for s in services)
        for service in [*services, "*"]:
            for district in ("d1", "d2"):
                kids = [a for a, d in areas.items() if d == district]
                values[(period, district, service)] = sum(
                    values[(period, a, service)] for a in kids
                )
                relations.append(
                    Relation((period, district, service), tuple((period, a, service) for a in kids))
                )
            values[(period, "city", service)] = (
                values[(period, "d1", service)] + values[(period, "d2", service)]
            )
            relations.append(
                Relation(
                    (period, "city", service), ((period, "d1", service), (period, "d2", service))
                )
            )
        for area in all_areas:
            relations.append(
                Relation((period, area, "*"), tuple((period, area, s) for s in services))
            )
    for area in all_areas:
        for service in [*services, "*"]:
            relations.append(
                Relation(("q", area, service), tuple((m, area, service) for m in months))
            )
    result = protect(values, relations, threshold=5)
    assert result.primary == {k for k, v in values.items() if 0 < v < 5}
    for key in sorted(result.primary, key=repr)[:40]:
        lo, hi = adversary_bounds(values, relations, result.hidden, key)
        assert hi - lo >= 1 - 1e-6, f"{key}={values[key]} pinned to [{lo}, {hi}]"


def test_nothing_hidden_when_every_count_is_large() -> None:
    values, relations = table_2d(np.random.default_rng(0), 4, 4, lam=50.0)
    assert protect(values, relations, threshold=5).hidden == set()
