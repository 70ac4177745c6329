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
# how many of the cheapest neighbours complementary suppression tries at each step
_TRIES = 8


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
    result is published as it is; no withheld one is :func:`derivable` from them.

    Each primary entry of a table's own cells is first hidden with a *swap* inside its table
    — two cells of its row (a table of separate measures), or the four corners of a rectangle
    over two of its rows and two columns or totals (a breakdown) — which moves values without
    changing anything else that is published: one that can move without taking an entry out
    of the class its mark gives it, if there is one (:func:`_cheapest_swap`); a primary
    population total moves with another column's in every breakdown at once
    (:func:`_population_move`). What is still
    derivable then (shared totals, linked rows) takes, one entry at a time, the neighbour that
    leaves the fewest derivable. Tables that share no total are suppressed apart."""
    marks: dict[Key, str] = {}
    for linked in _components(tables):
        marks.update(_suppress_linked(linked, k))
    return marks


def _components(tables: Sequence[Table]) -> list[list[Table]]:
    """``tables`` grouped by the totals they share (population and linked rows)."""
    groups: list[tuple[set[str], list[Table]]] = []
    for table in tables:
        names = {n for n in (table.population, *(link for _, link in table.links)) if n}
        joined = [g for g in groups if g[0] & names]
        merged: tuple[set[str], list[Table]] = (set(names), [])
        for group in joined:
            merged[0].update(group[0])
            merged[1].extend(group[1])
            groups.remove(group)
        merged[1].append(table)
        groups.append(merged)
    return [sorted(group, key=tables.index) for _, group in groups]


def _suppress_linked(tables: Sequence[Table], k: int) -> dict[Key, str]:
    """:func:`suppress_tables` for tables linked by their totals."""
    entries: dict[Key, int] = {}
    equations: list[Equation] = []
    for table in tables:
        entries.update(table.entries())
        equations.extend(table.equations())
    marks = {key: PRIMARY for key, n in entries.items() if 0 < n < k}
    uses = [t.population for t in tables] + [link for t in tables for _, link in t.links]
    private = {p for p in uses if p is not None and uses.count(p) == 1}
    for table in tables:
        for key in [key for key in table.entries() if marks.get(key) == PRIMARY]:
            swap = _cheapest_swap(table, key, marks, entries, k, private)
            for other in swap:
                marks.setdefault(other, COMPLEMENTARY)
    shared = [key for key, mark in marks.items()
              if mark == PRIMARY and key[1] == TOTAL and key[2] != TOTAL]
    for key in sorted(shared):
        for other in _population_move(key, tables, marks, entries, k):
            marks.setdefault(other, COMPLEMENTARY)
    neighbours = _neighbours(equations)
    while marks:
        exposed = derivable(equations, marks)
        if not exposed:
            break
        target = exposed[0]
        choices = [key for key in neighbours[target] if key not in marks] or [
            key for key in entries if key not in marks]
        if not choices:
            break
        cheapest = sorted(set(choices), key=lambda key: (_cost(key, entries[key]), key))
        marks[min(cheapest[:_TRIES], key=lambda key: (
            len(derivable(equations, [*marks, key])), _cost(key, entries[key]), key))] = \
            COMPLEMENTARY
    return marks


def _cheapest_swap(table: Table, key: Key, marks: dict[Key, str],
                   entries: dict[Key, int], k: int, private: set[str]) -> list[Key]:
    """The other entries of the best swap through ``key`` inside ``table`` (empty when
    ``key`` is a shared total or in a linked row, or the table has no room for one). The
    total row of a population only this table breaks down (``private``) may be a swap's
    second row.

    A swap moves its entries by ±1 together (``key`` up, its row partner down, …) without
    changing any published figure. The best is one that can really move — each entry stays
    in what its mark says of it: a hidden count within 1 … k-1, a withheld one at k or more
    (a withheld 0 cannot move) — so that even a reader who knows what ``< k`` and
    ``withheld`` mean finds two values for ``key``; then the cheapest."""
    _, row, column = key
    linked = dict(table.links)
    if row == TOTAL or row in linked or key != table.key(row, column):
        return []
    columns = [c for c in (*table.columns, TOTAL) if c != column]
    # each swap: its entries with the sign they move by, ``key`` first (+1)
    swaps: list[list[tuple[Key, int]]] = []
    for c in columns:
        along = 1 if TOTAL in (c, column) else -1  # a row's total moves with its cells
        if table.population is None:
            swaps.append([(key, 1), (table.key(row, c), along)])
            continue
        others = [r for r in table.rows if r != row and r not in linked]
        if table.population in private:  # its total row moves with one row: nothing else
            swaps.append([(key, 1), (table.key(row, c), along), (table.key(TOTAL, column), 1),
                          (table.key(TOTAL, c), along)])
        swaps.extend([(key, 1), (table.key(row, c), along), (table.key(r, column), -1),
                      (table.key(r, c), -along)] for r in others)
    if not swaps:
        return []
    best = min(swaps, key=lambda swap: (
        not _movable(swap, entries, k),
        sum(_cost(e, entries[e]) for e, _ in swap if e not in marks), swap))
    return [e for e, _ in best[1:]]


def _population_move(key: Key, tables: Sequence[Table], marks: dict[Key, str],
                     entries: dict[Key, int], k: int) -> list[Key]:
    """The other entries of the best move through a population's total in one column
    (``key``): that total and another column's move by ±1 in opposite directions, and so
    does one row of every table that breaks the population down, and one other row of a
    table where the population is a row — nothing else published changes. Empty when a
    table has no row to move."""
    population, _, column = key
    breakdowns = [t for t in tables if t.population == population]
    holders = [(t, row) for t in tables for row, link in t.links if link == population]
    moves: list[list[tuple[Key, int]]] = []
    for other in (c for c in breakdowns[0].columns if c != column) if breakdowns else ():
        move = [(key, 1), ((population, TOTAL, other), -1)]
        parts: list[list[tuple[Key, int]] | None] = [
            _best_pair(t, [r for r in t.rows if r not in dict(t.links)], column, other, 1,
                       marks, entries, k) for t in breakdowns]
        parts += [_best_pair(t, [r for r in t.rows if r != row and r not in dict(t.links)],
                             column, other, -1, marks, entries, k)
                  if t.population is not None else [] for t, row in holders]
        if any(part is None for part in parts):
            continue
        moves.append(move + [e for part in parts for e in part or []])
    if not moves:
        return []
    best = min(moves, key=lambda move: (
        not _movable(move, entries, k),
        sum(_cost(e, entries[e]) for e, _ in move if e not in marks), move))
    return [e for e, _ in best[1:]]


def _best_pair(table: Table, rows: list[str], column: str, other: str, sign: int,
               marks: dict[Key, str], entries: dict[Key, int], k: int
               ) -> list[tuple[Key, int]] | None:
    """Of ``rows``, the one whose ``column`` moving by ``sign`` and ``other`` by ``-sign`` can
    move (then the cheapest); None without rows."""
    pairs = [[(table.key(r, column), sign), (table.key(r, other), -sign)] for r in rows]
    if not pairs:
        return None
    return min(pairs, key=lambda pair: (
        not _movable(pair, entries, k),
        sum(_cost(e, entries[e]) for e, _ in pair if e not in marks), pair))


def _movable(swap: list[tuple[Key, int]], entries: dict[Key, int], k: int) -> bool:
    """Whether ``swap`` can move by +1 or -1 with every entry staying in its class: a count
    ``0 < n < k`` within 1 … k-1, any other at k or more."""
    def stays(value: int, by: int) -> bool:
        moved = value + by
        return 1 <= moved <= k - 1 if 0 < value < k else value >= k and moved >= k

    return any(all(stays(entries[e], sign * t) for e, sign in swap) for t in (1, -1))


def derivable(equations: Iterable[Equation], withheld: Iterable[Key]) -> list[Key]:
    """The withheld entries whose value the published entries fix through ``equations``
    (each equation: signed terms adding to zero), in a stable order: those whose unit vector
    lies in the row space of the system restricted to the withheld entries."""
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
    if not rows:  # in no published addition at all: nothing fixes them
        return []
    fixed = _unit_rows(np.array(rows))
    return [key for key, is_fixed in zip(unknown, fixed, strict=True) if is_fixed]


def _unit_rows(matrix: np.ndarray) -> np.ndarray:
    """For each column j, whether the unit vector e_j lies in the row space of ``matrix``:
    in its reduced row echelon form, j is a pivot column whose row has no other entry."""
    m = matrix.astype(float)
    rows, cols = m.shape
    pivots: list[tuple[int, int]] = []
    r = 0
    for c in range(cols):
        if r == rows:
            break
        best = r + int(np.argmax(np.abs(m[r:, c])))
        if abs(m[best, c]) < 1e-9:
            continue
        m[[r, best]] = m[[best, r]]
        m[r] /= m[r, c]
        others = np.abs(m[:, c]) > 1e-12
        others[r] = False
        m[others] -= np.outer(m[others, c], m[r])
        pivots.append((r, c))
        r += 1
    fixed = np.zeros(cols, dtype=bool)
    for row, c in pivots:
        fixed[c] = int((np.abs(m[row]) > 1e-9).sum()) == 1
    return fixed


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
