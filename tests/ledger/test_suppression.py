"""Small-cell suppression (issue 23): for random tables, nothing below ``k`` is printed and no
withheld entry can be worked out from the published cells and totals — by subtraction along a
row or column (repeated until nothing more comes out) or by any linear combination."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from faceaudit.ledger.suppression import (
    COMPLEMENTARY,
    PRIMARY,
    Key,
    Table,
    derivable,
    published,
    suppress_tables,
)

counts = st.one_of(st.integers(0, 6), st.integers(0, 40))


def _split(draw: st.DrawFn, totals: list[int], parts: int) -> list[list[int]]:
    """``parts`` rows whose columns add up to ``totals``."""
    grid = [[0] * len(totals) for _ in range(parts)]
    for c, total in enumerate(totals):
        cuts = sorted(draw(st.integers(0, total)) for _ in range(parts - 1))
        for r, (a, b) in enumerate(zip([0, *cuts], [*cuts, total], strict=True)):
            grid[r][c] = b - a
    return grid


def _rows(n: int) -> tuple[str, ...]:
    return tuple(f"r{i}" for i in range(n))


@st.composite
def tables(draw: st.DrawFn) -> tuple[list[Table], int]:
    """One to three tables over the same columns: separate measures, breakdowns of one shared
    population (the same column totals) and a breakdown of one row of another table."""
    k = draw(st.integers(1, 8))
    columns = tuple(f"p{i}" for i in range(draw(st.integers(1, 5))))
    shared = [draw(counts) * draw(st.integers(1, 3)) for _ in columns]
    built = []
    for t in range(draw(st.integers(1, 3))):
        rows = _rows(draw(st.integers(1, 4)))
        if draw(st.booleans()):
            grid = [[draw(counts) for _ in columns] for _ in rows]
            built.append(Table(f"t{t}", rows, columns, tuple(map(tuple, grid))))
        else:
            grid = _split(draw, shared, len(rows))
            linked = draw(st.booleans())
            built.append(Table(f"t{t}", rows, columns, tuple(map(tuple, grid)), "searches",
                               links=(("r0", f"sub{t}"),) if linked else ()))
            if linked:  # the first row broken down again, in a table of its own
                sub = _split(draw, grid[0], draw(st.integers(1, 3)))
                built.append(Table(f"s{t}", _rows(len(sub)), columns, tuple(map(tuple, sub)),
                                   f"sub{t}"))
    return built, k


def recovered_by_subtraction(tables_: list[Table], withheld: set[Key]) -> set[Key]:
    """What repeated subtraction recovers: an equation with one unknown term gives it away."""
    equations = [eq for t in tables_ for eq in t.equations()]
    unknown, found = set(withheld), set()
    progress = True
    while progress:
        progress = False
        for equation in equations:
            missing = [key for key, _ in equation if key in unknown]
            if len(missing) == 1:
                unknown.discard(missing[0])
                found.add(missing[0])
                progress = True
    return found


def recovered_by_rank(tables_: list[Table], withheld: set[Key]) -> set[Key]:
    """A second, independent linear check: an unknown is fixed when its column is not in the
    span of the other unknowns' columns."""
    equations = [eq for t in tables_ for eq in t.equations()]
    unknown = sorted(withheld, key=repr)
    matrix = np.array([[sum(s for key, s in eq if key == u) for u in unknown]
                       for eq in equations], dtype=float)
    if not unknown:
        return set()
    full = np.linalg.matrix_rank(matrix)
    return {u for i, u in enumerate(unknown)
            if np.linalg.matrix_rank(np.delete(matrix, i, axis=1)) < full}


@settings(max_examples=100, deadline=None)
@given(tables())
def test_no_withheld_entry_can_be_derived(drawn: tuple[list[Table], int]) -> None:
    tables_, k = drawn
    marks = suppress_tables(tables_, k)
    entries = {key: n for t in tables_ for key, n in t.entries().items()}
    shown = {key: published(n, marks.get(key), k) for key, n in entries.items()}
    # nothing below k is printed, and what is printed is the count
    for key, value in shown.items():
        if isinstance(value, int):
            assert value == entries[key]
            assert not 0 < value < k, (key, value)
        else:
            assert value == (f"< {k}" if marks[key] == PRIMARY else "withheld")
    assert all(marks[key] == PRIMARY for key, n in entries.items() if 0 < n < k)
    withheld = set(marks)
    assert not recovered_by_subtraction(tables_, withheld)
    assert not recovered_by_rank(tables_, withheld)
    assert not derivable([eq for t in tables_ for eq in t.equations()], withheld)


def test_a_lone_small_cell_takes_a_partner_in_its_row_and_column() -> None:
    table = Table("offence", ("robbery", "homicide"), ("2027-01", "2027-02"),
                  ((3, 10), (12, 20)), "searches")
    marks = suppress_tables([table], 5)
    assert marks[("offence", "robbery", "2027-01")] == PRIMARY
    assert COMPLEMENTARY in marks.values()
    assert not recovered_by_subtraction([table], set(marks))


def test_k_of_one_publishes_everything() -> None:
    table = Table("t", ("a",), ("p",), ((1,),), "searches")
    assert suppress_tables([table], 1) == {}
