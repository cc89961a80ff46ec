"""Small-count suppression with complementary suppression, audited by linear algebra.

A table of counts is published with every count below a threshold hidden (*primary*
suppression). That alone is not enough: a hidden cell whose row total and other cells are
published is recomputed by a subtraction. So more cells are hidden (*complementary*
suppression) until no hidden cell can be recomputed exactly from everything published.

The tables here are linked by additive relations ``total = part_1 + ... + part_n`` along every
dimension at once (areas nested in their parent area and in the city; services summed into
"all services"; months summed into quarters and years). The protection works in two steps:

1. the classic rule, iterated to a fixed point: no relation may hold exactly one hidden cell
   (the cheapest published part, preferably a non-zero one, is hidden next to it);
   Only non-zero cells are ever hidden: every hidden cell is then strictly positive, so a
   cell that linear algebra cannot pin down keeps a non-empty interval even when the
   adversary also uses the fact that counts are never negative;
2. an audit by linear algebra, because the rule is not sufficient in linked tables (a hidden
   cell can be a "bridge" between two groups of hidden cells): the published values turn each
   relation into a linear equation over the hidden cells; a hidden cell is exactly
   recomputable if and only if every vector of the null space of that system is zero on it.
   Any such cell gets one more partner hidden, and both steps run again.

References: Hundepool et al., *Statistical Disclosure Control* (Wiley, 2012), ch. 4
(cell suppression, the "singleton" rule, and the audit of a suppression pattern).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from scipy import sparse

# Any hashable: (period, area, service) tuples in the publication, anything in tests.
Key = Any

# Components up to this many hidden cells get an exact dense null space (SVD); larger ones a
# randomised projection onto the null space, with a generous tolerance (a false "recomputable"
# only hides one cell too many, never one too few).
DENSE_LIMIT = 900


@dataclass(frozen=True)
class Relation:
    """``total = sum(parts)``: one additive relation of the published tables."""

    total: Key
    parts: tuple[Key, ...]


@dataclass
class SuppressionResult:
    """Which cells are hidden, and why."""

    primary: set[Key]
    complementary: set[Key]
    audit_rounds: int

    @property
    def hidden(self) -> set[Key]:
        """Every hidden cell."""
        return self.primary | self.complementary


def protect(
    values: Mapping[Key, int],
    relations: Sequence[Relation],
    threshold: int,
    *,
    seed: int = 0,
) -> SuppressionResult:
    """Choose the cells to hide so that no count in ``1 .. threshold-1`` can be recomputed.

    Parameters
    ----------
    values
        The exact count of every cell that would be published.
    relations
        Every additive relation between published cells (a total and its parts). Cells of a
        relation that are missing from ``values`` count as 0.
    threshold
        Counts ``0 < n < threshold`` are hidden (zeros are published: they single out nobody).
    seed
        Seed of the randomised audit of very large components.

    Returns
    -------
    SuppressionResult
        The primary and complementary hidden cells.
    """
    primary = {key for key, value in values.items() if 0 < value < threshold}
    hidden = set(primary)
    by_key: dict[Key, list[int]] = defaultdict(list)
    for index, rel in enumerate(relations):
        by_key[rel.total].append(index)
        for part in rel.parts:
            by_key[part].append(index)
    rng = np.random.default_rng(seed)
    rounds = 0
    while True:
        _singleton_rule(values, relations, by_key, hidden, range(len(relations)))
        recomputable = find_recomputable(values, relations, hidden, rng=rng)
        if not recomputable:
            break
        rounds += 1
        touched: set[int] = set()
        for key in sorted(recomputable, key=repr):
            if _hide_partner(values, relations, by_key, hidden, key):
                touched.update(by_key[key])
        if not touched:  # pragma: no cover - every hidden cell sits in some relation
            raise RuntimeError("suppression cannot protect the table")
    return SuppressionResult(primary=primary, complementary=hidden - primary, audit_rounds=rounds)


def _members(rel: Relation) -> tuple[Key, ...]:
    return (rel.total, *rel.parts)


def _cost(values: Mapping[Key, int], key: Key, *, is_total: bool) -> tuple[int, int, str]:
    # The smallest part first (the least information lost), a total only as the last resort.
    return (1 if is_total else 0, values.get(key, 0), repr(key))


def _hide_partner(
    values: Mapping[Key, int],
    relations: Sequence[Relation],
    by_key: Mapping[Key, list[int]],
    hidden: set[Key],
    key: Key,
) -> bool:
    """Hide the cheapest published non-zero cell nearest to ``key``; False if there is none.

    Nearest: in a relation of ``key`` if possible, else in a relation of a hidden cell linked
    to it (e.g. a neighbourhood's only report of the month: its row total equals it, and the
    cell to hide is further away), breadth first.
    """
    frontier = [key]
    seen_keys = {key}
    seen_rels: set[int] = set()
    while frontier:
        best: tuple[tuple[int, int, str], Key] | None = None
        next_frontier: list[Key] = []
        for current in frontier:
            for index in by_key.get(current, ()):
                if index in seen_rels:
                    continue
                seen_rels.add(index)
                rel = relations[index]
                for member in _members(rel):
                    if member in hidden:
                        if member not in seen_keys:
                            seen_keys.add(member)
                            next_frontier.append(member)
                        continue
                    if values.get(member, 0) <= 0:
                        continue
                    cost = _cost(values, member, is_total=member == rel.total)
                    if best is None or cost < best[0]:
                        best = (cost, member)
        if best is not None:
            hidden.add(best[1])
            return True
        frontier = next_frontier
    return False


def _singleton_rule(
    values: Mapping[Key, int],
    relations: Sequence[Relation],
    by_key: Mapping[Key, list[int]],
    hidden: set[Key],
    start: Iterable[int],
) -> None:
    """Hide partners until no relation holds exactly one hidden cell (a fixed point)."""
    pending = list(start)
    queued = set(pending)
    while pending:
        index = pending.pop()
        queued.discard(index)
        rel = relations[index]
        members = _members(rel)
        hidden_here = [m for m in members if m in hidden]
        if len(hidden_here) != 1:
            continue
        # Never a zero: non-negativity would pin a hidden zero (and what it protects). A
        # positive candidate always exists: the total of a positive hidden part is positive,
        # and a positive hidden total has a positive part.
        candidates = [m for m in members if m not in hidden and values.get(m, 0) > 0]
        if not candidates:  # pragma: no cover - see above
            raise RuntimeError(f"no cell can protect {hidden_here[0]!r}")
        choice = min(candidates, key=lambda m: _cost(values, m, is_total=m == rel.total))
        hidden.add(choice)
        for other in by_key[choice]:
            if other not in queued:
                queued.add(other)
                pending.append(other)


def equations(
    relations: Sequence[Relation], hidden: set[Key]
) -> tuple[list[Key], list[dict[int, float]]]:
    """The linear system over the hidden cells that the published values give an adversary.

    Returns the hidden cells (the unknowns, in column order) and one sparse row per relation
    that holds a hidden cell: parts have coefficient +1, the total -1 (the right-hand side,
    published values, does not matter for *whether* a cell is determined).
    """
    unknowns = sorted(hidden, key=repr)
    column = {key: i for i, key in enumerate(unknowns)}
    rows: list[dict[int, float]] = []
    for rel in relations:
        row: dict[int, float] = {}
        if rel.total in column:
            row[column[rel.total]] = row.get(column[rel.total], 0.0) - 1.0
        for part in rel.parts:
            if part in column:
                row[column[part]] = row.get(column[part], 0.0) + 1.0
        row = {c: v for c, v in row.items() if v != 0.0}
        if row:
            rows.append(row)
    return unknowns, rows


def find_recomputable(
    values: Mapping[Key, int],
    relations: Sequence[Relation],
    hidden: set[Key],
    *,
    rng: np.random.Generator | None = None,
) -> set[Key]:
    """Hidden cells that a linear combination of the published relations gives exactly."""
    del values  # whether a cell is determined depends on the pattern, not on the values
    if not hidden:
        return set()
    unknowns, rows = equations(relations, hidden)
    if not rows:
        return set()
    rng = rng or np.random.default_rng(0)
    # Connected components of unknowns linked by an equation: solved one by one.
    parent = list(range(len(unknowns)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for row in rows:
        cols = list(row)
        for c in cols[1:]:
            a, b = find(cols[0]), find(c)
            if a != b:
                parent[a] = b
    comp_rows: dict[int, list[dict[int, float]]] = defaultdict(list)
    for row in rows:
        comp_rows[find(next(iter(row)))].append(row)
    comp_cols: dict[int, list[int]] = defaultdict(list)
    for c in range(len(unknowns)):
        comp_cols[find(c)].append(c)
    found: set[Key] = set()
    for root, cols in comp_cols.items():
        crow = comp_rows.get(root, [])
        if not crow:
            continue  # a hidden cell in no equation: nothing pins it
        local = {c: i for i, c in enumerate(cols)}
        r_idx, c_idx, data = [], [], []
        for r, row in enumerate(crow):
            for c, v in row.items():
                r_idx.append(r)
                c_idx.append(local[c])
                data.append(v)
        # scipy is imported here, not at the top: only the publishing job needs it, and the
        # web process (which imports this module through the pages) stays lighter.
        from scipy import sparse

        matrix = sparse.csr_matrix((data, (r_idx, c_idx)), shape=(len(crow), len(cols)))
        determined = _determined_columns(matrix, rng)
        found.update(unknowns[cols[i]] for i in determined)
    return found


def _determined_columns(matrix: sparse.csr_matrix, rng: np.random.Generator) -> list[int]:
    """Columns j such that e_j lies in the row space of ``matrix`` (x_j fixed by the system)."""
    from scipy import linalg
    from scipy.sparse.linalg import lsqr

    n = matrix.shape[1]
    if n <= DENSE_LIMIT:
        null = linalg.null_space(matrix.toarray())
        if null.shape[1] == 0:
            return list(range(n))
        return [j for j in range(n) if np.max(np.abs(null[j])) < 1e-8]
    # Randomised: the residual of a least-squares fit of a random vector on the row space is
    # its projection on the null space; a column that is zero in two such projections is
    # (almost surely) determined. The tolerance errs on the side of hiding more.
    # The residual is checked to be in the null space (A r ~ 0): then a clearly non-zero
    # entry proves its cell free; an unconverged fit widens the tolerance (hides more).
    transposed = matrix.T.tocsr()
    small = np.ones(n, dtype=bool)
    for _ in range(2):
        v = rng.standard_normal(n)
        y = lsqr(transposed, v, atol=1e-14, btol=1e-14, iter_lim=20 * n)[0]
        residual = v - transposed @ y
        norm = float(np.linalg.norm(residual))
        error = float(np.linalg.norm(matrix @ residual)) / max(norm, 1e-300)
        scale = norm / np.sqrt(n)
        small &= np.abs(residual) < max(1e-3, 100 * error) * max(scale, 1e-12)
    return [j for j in range(n) if small[j]]
