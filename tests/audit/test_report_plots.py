"""The report's figures can be trusted (issue 24): every cross-group heatmap of one report is
drawn on one shared log colour scale, the DET curves carry FNMR bootstrap bands and mark every
target, and a reason repeated across the fairness table (an unsupported target) is said once
in the HTML."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from typer.testing import CliRunner
from worst_group_data import write_spread_audit

from faceaudit.audit import plots
from faceaudit.audit.html import heatmap_figures
from faceaudit.cli import app

# male's false matches ten times female's, at two supported targets (7,080 impostor
# comparisons per group: 1e-2 and 1e-3 are supported, 1e-4 is not)
MATCHES = {"male": list(np.r_[np.full(80, 0.35), np.linspace(0.4, 0.9, 30)]),
           "female": list(np.linspace(0.4, 0.9, 30))}


@pytest.fixture(scope="module")
def audited(tmp_path_factory):
    folder = tmp_path_factory.mktemp("plots")
    table = write_spread_audit(folder / "scores.csv", MATCHES)
    result = CliRunner().invoke(app, ["audit", "--scores", str(table), "--out",
                                      str(folder / "out"), "--bootstrap", "200"])
    assert result.exit_code == 0, result.output
    return (json.loads((folder / "out" / "report.json").read_text()),
            (folder / "out" / "report.html").read_text())


def test_every_heatmap_of_a_report_shares_one_log_colour_scale(audited):
    report, _ = audited
    supported = [t for t in report["targets"] if t["supported"]]
    assert len(supported) == 2
    figures = heatmap_figures(report["targets"])
    assert len(figures) == 2
    assert figures[0]["limits"] == figures[1]["limits"]
    low, high = figures[0]["limits"]
    cells = [v for t in supported for row in t["cross_fmr"]["fmr"] for v in row if v]
    assert low == pytest.approx(math.log10(min(cells)))
    assert high == pytest.approx(math.log10(max(cells)))
    # each matrix on its own scale would differ: the sharing is what makes yellow one rate
    own = [plots.shared_log_limits([t["cross_fmr"]["fmr"]]) for t in supported]
    assert own[0] != own[1]
    # the figure itself is drawn with the shared limits, and its colour bar says so
    fig = plots.log_heatmap_figure(supported[1]["cross_fmr"]["fmr"], report["groups"], "t",
                                   (low, high))
    assert plots.heatmap_limits(fig) == pytest.approx((low, high))
    assert "one scale for every heatmap" in fig.axes[1].get_ylabel()


def test_det_curves_carry_fnmr_bands_and_every_target(audited):
    report, _ = audited
    for curve in report["det"]:
        assert len(curve["fnmr_low"]) == len(curve["fnmr"]) == len(curve["fnmr_high"])
        for value, low, high in zip(curve["fnmr"], curve["fnmr_low"], curve["fnmr_high"],
                                    strict=True):
            assert low <= value <= high and high > low
    targets = [t for t in report["targets"] if t["supported"]]
    marks = [(t["target_fmr"], {g["group"]: ((g["fmr"]["value"], g["fmr"]["low"],
                                              g["fmr"]["high"]),
                                             (g["fnmr"]["value"], g["fnmr"]["low"],
                                              g["fnmr"]["high"]))
                                for g in t["groups"]}) for t in targets]
    fig = plots.det_figure({c["group"]: (c["fmr"], c["fnmr"]) for c in report["det"]},
                           {c["group"]: (c["fnmr_low"], c["fnmr_high"]) for c in report["det"]},
                           marks)
    ax = fig.axes[0]
    verticals = {float(line.get_xdata()[0]) for line in ax.lines
                 if line.get_linestyle() == ":" and len(set(line.get_xdata())) == 1}
    assert verticals == {t["target_fmr"] for t in targets}
    assert len(ax.collections) >= len(report["det"])  # the bands (and the error bars)


def test_a_repeated_reason_is_said_once_in_the_html(audited):
    report, page = audited
    unsupported = next(t for t in report["targets"] if not t["supported"])
    notes = {s["note"] for s in unsupported["summaries"].values() if s.get("note")}
    assert len(notes) == 1
    (note,) = notes
    assert len(unsupported["summaries"]) > 5  # said in every summary of the report.json
    assert page.count(note) == 1
    assert "not estimated (note 1)" in page


def _grey_cells(fig) -> tuple[list[str], list[str]]:
    ax = fig.axes[0]
    texts = [t.get_text() for t in ax.texts if t.get_text() in ("n/a", "too few")]
    legend = ax.get_legend()
    return texts, [] if legend is None else [t.get_text() for t in legend.get_texts()]


def test_a_heatmap_cell_with_too_few_comparisons_is_not_called_empty():
    """A cross-group cell that has comparisons, but fewer than its target needs, is "too few",
    not "n/a: no comparisons" (the demo's synthetic table at 1e-4: 20,000 cross-group pairs);
    a cell without any comparison is still "n/a", and the legend names only what is drawn."""
    matrix = [[6.7e-5, None], [None, 8.9e-5]]
    fig = plots.log_heatmap_figure(matrix, ["A", "B"], "t",
                                   counts=[[44850, 20000], [20000, 44850]])
    texts, legend = _grey_cells(fig)
    assert texts == ["too few", "too few"]
    assert legend == ["too few comparisons for this target (rule of three)"]
    fig = plots.log_heatmap_figure(matrix, ["A", "B"], "t", counts=[[44850, 0], [0, 44850]])
    assert _grey_cells(fig) == (["n/a", "n/a"], ["n/a: no comparisons"])
    texts, legend = _grey_cells(plots.log_heatmap_figure([[1e-3]], ["A"], "t", counts=[[9]]))
    assert texts == [] and legend == []



def test_which_groups_the_summaries_are_over_is_said_once(audited):
    """Six lines "At FMR …, … are over female, male (every group)." (two summary families at
    three targets) say one fact: it is said once; a target that leaves a group out is still
    named with its reason."""
    report, html = audited
    assert html.count("(every group)") == 0
    assert html.count("at every target is over every group (female, male)") == 1
    from faceaudit.audit.html import _summary_group_notes

    target = dict(report["targets"][0])
    part = dict(next(iter(target["summary_groups"].values())))
    part.update(groups=["male"], left_out=[{"group": "female", "reason": "too few pairs"}])
    target["summary_groups"] = {"fmr": part}
    notes = _summary_group_notes([target, *report["targets"][1:]])
    assert notes[0].endswith("over male; left out: female (too few pairs).")
    assert notes[-1].startswith("Every other summary at every target is over every group")
