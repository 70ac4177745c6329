"""The oversight report of a scripted month (bench/oversight_month.py) shows, per case, the
searches, review times, confirmation and disagreement rates, actions and outcomes — equal to
what the script itself decided."""

from __future__ import annotations

import importlib.util
import statistics
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "oversight_month.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("oversight_month", BENCH)
    module = importlib.util.module_from_spec(spec)
    sys.modules["oversight_month"] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    yield module
    del sys.modules["oversight_month"]


@pytest.mark.parametrize("seed", [7, 11])
def test_the_month_report_counts_what_the_script_did(bench, seed, tmp_path):
    month = bench.scripted_month(seed, cases=10)
    built = bench.report(month)
    leads = built["leads"]
    assert (leads["confirmed"], leads["unconfirmed"], leads["disagreements"],
            leads["actioned"]) == (month.confirmed, month.unconfirmed, month.disagreements,
                                   month.actioned)
    decided = month.confirmed + month.unconfirmed
    assert leads["confirmation_rate"] == round(month.confirmed / decided, 4)
    assert leads["disagreement_rate"] == round(month.disagreements / decided, 4)
    assert leads["median_review_time_s"] == pytest.approx(
        statistics.median(month.review_hours) * 3600, abs=0.01)
    cases = {row["case"]: row for row in built["cases"]}
    assert sorted(cases) == [f"C-2026-{100 + n}" for n in range(10)]
    assert sum(r["searches"] for r in cases.values()) == sum(
        e["action"] == "identify" for e in month.events)
    assert sum(r["actioned"] for r in cases.values()) == month.actioned
    for row in cases.values():
        assert (row["state"] == "searched") == (row["candidates"] == 0)
        assert (row["state"] == "outcome") == bool(row["outcomes"])
    assert {r["rule"] for r in built["refusals"]} <= {"no-candidates", "no-evidence"}
    written = {p.name for p in bench.write_oversight(built, tmp_path)}
    assert {"cases.csv", "leads.csv", "oversight.html"} <= written
