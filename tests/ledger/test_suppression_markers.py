"""Small-cell suppression against a reader who knows the rule (issue 23): ``< k`` means 1 to
k-1 and ``withheld`` means 0 or at least k. Solving the published sums as integers under those
bounds (a mixed-integer program per hidden cell, scipy's HiGHS) must still leave every hidden
count of the scripted year with two values or more."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest
from test_transparency_year import OFFENCES, YEAR, scripted_year

from faceaudit.ledger.suppression import PRIMARY, Key, Table, suppress_tables
from faceaudit.ledger.transparency_counts import report_periods, tally_transparency

optimize = pytest.importorskip("scipy.optimize")


def pinned(tables: list[Table], k: int, marks: dict[Key, str]) -> list[Key]:
    """The hidden (``< k``) entries whose value the published figures and the markers'
    meaning fix: the smallest and largest integer solutions agree."""
    entries = {key: n for t in tables for key, n in t.entries().items()}
    unknown = sorted(marks, key=repr)
    if not unknown:
        return []
    index = {key: i for i, key in enumerate(unknown)}
    n, big = len(unknown), sum(entries.values()) + k
    rows, low, high = [], [], []
    for equation in (eq for t in tables for eq in t.equations()):
        row, known = np.zeros(2 * n), 0.0
        for key, sign in equation:
            if key in index:
                row[index[key]] += sign
            else:
                known += sign * entries[key]
        if row.any():
            rows.append(row)
            low.append(-known)
            high.append(-known)
    for key in unknown:  # withheld: x = 0 (b = 0) or k <= x <= big (b = 1)
        if marks[key] != PRIMARY:
            i = index[key]
            for scale, lo, hi in ((-k, 0.0, np.inf), (-big, -np.inf, 0.0)):
                row = np.zeros(2 * n)
                row[i], row[n + i] = 1, scale
                rows.append(row)
                low.append(lo)
                high.append(hi)
    bounds = optimize.Bounds(
        [1 if marks[u] == PRIMARY else 0 for u in unknown] + [0] * n,
        [k - 1 if marks[u] == PRIMARY else big for u in unknown] + [1] * n)
    constraint = optimize.LinearConstraint(np.array(rows), low, high)
    out = []
    for key in unknown:
        if marks[key] != PRIMARY:
            continue
        c = np.zeros(2 * n)
        c[index[key]] = 1
        ends = [optimize.milp(s * c, constraints=constraint, integrality=np.ones(2 * n),
                              bounds=bounds) for s in (1, -1)]
        assert all(e.status == 0 for e in ends)  # the true counts are a solution
        if round(ends[0].fun) == round(-ends[1].fun):
            out.append(key)
    return out


def test_a_withheld_partner_that_cannot_move_is_not_chosen() -> None:
    """1 arrest and 5 lineups: withholding the 5 would give the 1 away (the 5 could only be
    0 or ≥ 5, so 6 − 5 = 1); the total is withheld instead."""
    actions = Table("lead_actions", ("arrest", "lineup"), (str(YEAR),), ((1,), (5,)), "actions")
    marks = suppress_tables([actions], 5)
    assert ("lead_actions", "lineup", str(YEAR)) not in marks
    assert ("actions", "total", str(YEAR)) in marks
    assert not pinned([actions], 5, marks)


@pytest.mark.parametrize("seed", [23, 4])
def test_the_scripted_year_keeps_every_hidden_count_uncertain(seed: int) -> None:
    periods = report_periods(datetime(YEAR, 1, 1, tzinfo=UTC),
                             datetime(YEAR + 1, 1, 1, tzinfo=UTC), "year")
    tables = tally_transparency(scripted_year(seed).events, periods, OFFENCES).tables(5)
    marks = suppress_tables(tables, 5)
    assert any(m == PRIMARY for m in marks.values())
    assert not pinned(tables, 5, marks)


def test_small_months_are_hidden_in_every_breakdown_of_the_searches() -> None:
    """3 and 2 searches in two months, shown by offence and by purpose (the one purpose is
    the month's total): the months' totals move with another month's in both tables at once,
    so neither table gives them away."""
    months = ("2027-01", "2027-02", "2027-03")
    offence = Table("searches_by_offence", ("robbery", "homicide"), months,
                    ((8, 3, 0), (7, 0, 2)), "searches")
    purpose = Table("searches_by_purpose", ("investigation",), months, ((15, 3, 2),),
                    "searches")
    marks = suppress_tables([offence, purpose], 5)
    assert marks[("searches", "total", "2027-02")] == PRIMARY
    assert not pinned([offence, purpose], 5, marks)
