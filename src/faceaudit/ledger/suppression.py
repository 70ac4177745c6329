"""Small-cell suppression of published count tables (pure: counts in, what to withhold out).

A public table of counts can point at a person when a cell is small (one search for a rare
offence in one month). :func:`suppress_tables` withholds every count ``0 < n < k`` (*primary*
suppression, printed ``< k``) and then enough further entries (*complementary* suppression,
printed ``withheld``) that no withheld entry can be worked out from what is published — not by
subtracting the published cells from a published total, and not by any chain or combination
of such subtractions across rows, columns and linked tables.

The published figures of a set of tables form a linear system: each row's cells add up to its
row total, each column of a table whose rows partition it adds up to its column total, and
tables that break down the same population (``Table.population``) share those column totals.
A withheld entry is *derivable* exactly when every solution of that system, with the
published entries fixed, gives it the same value — when its coordinate vanishes on the
system's null space over the withheld entries (:func:`derivable`). Complementary suppression
adds, while some withheld entry is derivable, the published entry sharing an equation with it
that leaves the fewest derivable (then the cheapest: cells before totals, small before large),
until none is.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

TOTAL = "total"
PRIMARY = "primary"
COMPLEMENTARY = "complementary"
#: an entry of a table: (table name or population, row, column); TOTAL for a margin
Key = tuple[str, str, str]
Equation = tuple[tuple[Key, int], ...]  # (entry, +1/-1) terms adding up to zero
# complementary suppression takes cells before row totals before column totals
_TOTAL_COST = 10**9


@dataclass(frozen=True)
class Table:
    """A published table: ``counts[r][c]`` for each row and column, a total per row.

    ``population`` names what the rows partition (each column's rows add up to all of it,
    published as a column total): tables with the same ``population`` share their column
    totals. None: the rows are separate measures, with row totals only.
    """

    name: str
    rows: tuple[str, ...]
    columns: tuple[str, ...]
    counts: tuple[tuple[int, ...], ...]
    population: str | None = None
    #: rows that are another table's population (row label → that population): the same
    #: published figures, e.g. "searches with candidates" broken down elsewhere by count
    links: tuple[tuple[str, str], ...] = ()

    def entries(self) -> dict[Key, int]:
        """Every published entry: cells, row totals and (with a population) column totals and
        the grand total."""
        out: dict[Key, int] = {}
        for r, row in enumerate(self.rows):
            for c, column in enumerate(self.columns):
                out[self.key(row, column)] = self.counts[r][c]
            out[self.key(row, TOTAL)] = sum(self.counts[r])
        if self.population is not None:
            for c, column in enumerate(self.columns):
                out[self.key(TOTAL, column)] = sum(row[c] for row in self.counts)
            out[self.key(TOTAL, TOTAL)] = sum(sum(row) for row in self.counts)
        return out

    def equations(self) -> list[Equation]:
        """The additions that relate the table's entries (each term's sign, summing to 0)."""
        eqs: list[Equation] = []
        for row in self.rows:
            eqs.append((*((self.key(row, c), 1) for c in self.columns),
                        (self.key(row, TOTAL), -1)))
        if self.population is not None:
            for column in (*self.columns, TOTAL):
                eqs.append((*((self.key(r, column), 1) for r in self.rows),
                            (self.key(TOTAL, column), -1)))
            eqs.append((*((self.key(TOTAL, c), 1) for c in self.columns),
                        (self.key(TOTAL, TOTAL), -1)))
        return eqs

    def key(self, row: str, column: str) -> Key:
        """The entry at ``row``, ``column`` (TOTAL for a margin)."""
        if row == TOTAL:
            if self.population is None:
                raise KeyError(f"table {self.name} has no column totals")
            return (self.population, TOTAL, column)
        link = dict(self.links).get(row)
        if link is not None:
            return (link, TOTAL, column)
        return (self.name, row, column)


def suppress_tables(tables: Sequence[Table], k: int) -> dict[Key, str]:
    """The entries of ``tables`` to withhold for a smallest published count ``k``: each key
    maps to :data:`PRIMARY` (``0 < n < k``) or :data:`COMPLEMENTARY`. Every entry not in the
    result is published as it is; no withheld one is :func:`derivable` from them."""
    entries: dict[Key, int] = {}
    equations: list[Equation] = []
    for table in tables:
        entries.update(table.entries())
        equations.extend(table.equations())
    marks = {key: PRIMARY for key, n in entries.items() if 0 < n < k}
    neighbours = _neighbours(equations)
    while marks:
        exposed = derivable(equations, marks)
        if not exposed:
            break
        target = exposed[0]
        choices = [key for key in neighbours[target] if key not in marks]
        if not choices:  # cannot happen: every equation has two terms or more
            choices = [key for key in entries if key not in marks]
        if not choices:
            break
        marks[min(choices, key=lambda key: (
            len(derivable(equations, [*marks, key])), _cost(key, entries[key]), key))] = \
            COMPLEMENTARY
    return marks


def derivable(equations: Iterable[Equation], withheld: Iterable[Key]) -> list[Key]:
    """The withheld entries whose value the published entries fix through ``equations``
    (each equation: signed terms adding to zero), in a stable order."""
    unknown = sorted(set(withheld), key=repr)
    if not unknown:
        return []
    index = {key: i for i, key in enumerate(unknown)}
    rows = []
    for equation in equations:
        row = np.zeros(len(unknown))
        for key, sign in equation:
            if key in index:
                row[index[key]] += sign
        if row.any():
            rows.append(row)
    if not rows:
        return unknown
    matrix = np.array(rows)
    _, singular, vt = np.linalg.svd(matrix)
    rank = int((singular > 1e-9).sum())
    null = vt[rank:]  # a basis of the solutions' freedom, one row per free direction
    if null.shape[0] == 0:
        return unknown
    free = np.abs(null).max(axis=0) > 1e-9
    return [key for key, moves in zip(unknown, free, strict=True) if not moves]


def published(value: int, mark: str | None, k: int) -> int | str:
    """How one entry is printed: the count, ``< k`` (primary) or ``withheld``."""
    if mark == PRIMARY:
        return f"< {k}"
    if mark == COMPLEMENTARY:
        return "withheld"
    return value


def _neighbours(equations: Iterable[Equation]) -> dict[Hashable, list[Key]]:
    out: dict[Hashable, list[Key]] = {}
    for equation in equations:
        keys = [key for key, _ in equation]
        for key in keys:
            out.setdefault(key, []).extend(other for other in keys if other != key)
    return out


def _cost(key: Key, value: int) -> int:
    _, row, column = key
    return value + _TOTAL_COST * ((row == TOTAL) * 2 + (column == TOTAL))
