"""The report's CSV tables as rows (pure), and write_tables writing exactly those rows."""

from __future__ import annotations

import csv
from pathlib import Path

from faceaudit.audit.report import write_tables
from faceaudit.audit.report_tables import report_tables


def _est(value: float) -> dict:
    return {"value": value, "low": value / 2, "high": value * 2}


def _target(target_fmr: float, cross: bool) -> dict:
    groups = [
        {"group": g, "supported": True, "fmr": _est(0.001), "fnmr": _est(0.02),
         "accuracy": _est(0.98), "group_threshold": 0.5, "fnmr_at_group_threshold": 0.03,
         "impostor_pairs": 1000, "genuine_pairs": 100, "impostor_identities": 10,
         "genuine_identities": 10}
        for g in ("a", "b")
    ]
    matrix = [[0.001, 0.002], [0.002, 0.003]]
    return {
        "target_fmr": target_fmr, "threshold": 0.5, "supported": True, "required_pairs": 3000,
        "achieved_fmr": target_fmr, "groups": groups,
        "cross_fmr": {"groups": ["a", "b"], "fmr": matrix, "low": matrix, "high": matrix,
                      "impostor_pairs": [[10, 20], [20, 30]]} if cross else None,
        "summaries": {"fmr_ratio": {**_est(1.5), "note": None, "groups": ["a", "b"]}},
    }


REPORT = {"targets": [_target(1e-2, cross=True), _target(1e-3, cross=False)]}


def test_rows_match_their_headers_and_skip_targets_without_a_cross_matrix():
    tables = {t.name: t for t in report_tables(REPORT)}
    assert list(tables) == ["thresholds.csv", "per_group.csv", "cross_fmr.csv", "summaries.csv"]
    for table in tables.values():
        assert all(len(row) == len(table.header) for row in table.rows)
    assert len(tables["thresholds.csv"].rows) == 2
    assert len(tables["per_group.csv"].rows) == 4
    assert [r[:3] for r in tables["cross_fmr.csv"].rows] == [
        [1e-2, "a", "a"], [1e-2, "a", "b"], [1e-2, "b", "a"], [1e-2, "b", "b"]]
    assert tables["summaries.csv"].rows[0][-1] == "a|b"
    assert tables["per_group.csv"].rows[0][-1] is False  # small_sample defaults to False


def test_write_tables_writes_the_rows(tmp_path: Path):
    paths = write_tables(REPORT, tmp_path)
    for path, table in zip(paths, report_tables(REPORT), strict=True):
        assert path.name == table.name
        with path.open(newline="") as f:
            got = list(csv.reader(f))
        assert got[0] == table.header
        assert got[1:] == [["" if v is None else str(v) for v in row] for row in table.rows]
