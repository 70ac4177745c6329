"""The report's ``redaction`` section: coverage against ground truth, per-group miss rates with the
identity (face) bootstrap, frames with a face left uncovered, report.json and report.html."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from browser import open_in_chromium

from faceaudit.audit.engine import AuditSettings
from faceaudit.audit.html import write_html
from faceaudit.audit.redaction import redaction_report, redaction_section, tool_section
from faceaudit.audit.report import write_report
from faceaudit.base.errors import InputDataError
from faceaudit.footage.coverage import Coverage, coverage, shapes_from_log

# four faces: 0 and 1 female, 2 and 3 male (rows: frame, face, x1, y1, x2, y2, visible, hiders)
TRUTH = {
    "frames": 10,
    "faces": [{"id": 0, "sex": "female"}, {"id": 1, "sex": "female"},
              {"id": 2, "sex": "male"}, {"id": 3, "sex": "male"}],
    "boxes": (
        [[f, 0, 10, 10, 30, 30, 1.0, []] for f in range(10)]
        + [[0, 1, 50, 10, 70, 30, 0.5, [[50, 10, 60, 30]]]]  # left half behind a pole
        + [[f, 2, 110, 10, 130, 30, 1.0, []] for f in range(10)]
        + [[0, 3, 0, 50, 20, 70, 1.0, []], [1, 3, 0, 50, 20, 70, 0.3, [[0, 50, 20, 64]]]]
    ),
}
SHAPES = {
    **{f: [("rect", (8, 8, 32, 32))] for f in range(9)},  # face 0 missed in frame 9
    0: [("rect", (8, 8, 32, 32)), ("rect", (60, 10, 70, 30)),  # exactly face 1's visible half
        ("ellipse", (100, 0, 140, 40)), ("rect", (0, 50, 20, 66))],  # face 3: 80 % only
    **{f: [("rect", (8, 8, 32, 32)), ("ellipse", (100, 0, 140, 40))] for f in range(1, 9)},
    9: [("ellipse", (100, 0, 140, 40))],
}
GROUPS = {0: "female", 1: "female", 2: "male", 3: "male"}


def test_coverage_counts_only_the_visible_part_and_each_shape_kind() -> None:
    cov = coverage(TRUTH, SHAPES)
    rows = {(int(f), int(i)): (bool(c), float(s))
            for f, i, c, s in zip(cov.frame, cov.face, cov.covered, cov.share, strict=True)}
    assert (1, 3) not in rows  # 30 % in view: not scored
    assert len(rows) == 10 + 1 + 10 + 1
    assert rows[(0, 1)] == (True, 1.0)  # the hidden half need not be covered
    assert all(rows[(f, 2)][0] for f in range(10))  # the square lies inside the ellipse
    assert rows[(0, 3)][0] is False and rows[(0, 3)][1] == pytest.approx(0.8)
    assert [rows[(f, 0)][0] for f in range(10)] == [True] * 9 + [False]
    missed, scored = cov.per_face([0, 1, 2, 3])
    assert missed.tolist() == [1, 0, 0, 1] and scored.tolist() == [10, 1, 10, 1]
    assert cov.frames_with_a_miss() == 2  # frames 0 (face 3) and 9 (face 0)
    assert cov.frames_with_a_miss([2]) == 0


def test_coverage_rejects_what_is_not_ground_truth() -> None:
    with pytest.raises(InputDataError, match="boxes"):
        coverage({"frames": 3}, SHAPES)
    with pytest.raises(InputDataError, match="not"):
        coverage({"boxes": [[0, 1, 2]]}, SHAPES)
    with pytest.raises(InputDataError, match="shape"):
        coverage(TRUTH, {0: [("star", (0, 0, 5, 5))]})
    with pytest.raises(InputDataError, match="redaction log"):
        shapes_from_log({"tracks": [{"boxes": [[0, 1]]}]})


def test_shapes_from_log_reads_named_box_fields() -> None:
    """Logs name each box's fields (issue 14); logs written before, with bare rows, still read."""
    log = {"tracks": [{"boxes": [
        {"frame": 0, "left": 1, "top": 2, "right": 3, "bottom": 4, "why": "detected"},
        {"frame": 2, "left": 5, "top": 6, "right": 7, "bottom": 8, "why": "bridged"}]},
        {"boxes": [[1, 1, 2, 3, 4, "lead"]]}]}
    assert shapes_from_log(log) == {0: [("rect", (1.0, 2.0, 3.0, 4.0))],
                                    1: [("rect", (1.0, 2.0, 3.0, 4.0))],
                                    2: [("rect", (5.0, 6.0, 7.0, 8.0))]}
    with pytest.raises(InputDataError, match="redaction log"):
        shapes_from_log({"tracks": [{"boxes": [{"frame": 0, "left": 1}]}]})


def test_shapes_from_log_leave_out_kept_tracks() -> None:
    log = {"tracks": [{"boxes": [[0, 1, 2, 3, 4, "detected"], [2, 1, 2, 3, 4, "lag"]]},
                      {"kept_subject": "officer", "boxes": [[0, 9, 9, 19, 19, "detected"]]}]}
    assert shapes_from_log(log) == {0: [("rect", (1.0, 2.0, 3.0, 4.0))],
                                    2: [("rect", (1.0, 2.0, 3.0, 4.0))]}


def _synthetic(per_group: int, miss_rate: dict[str, float], frames: int = 40, seed: int = 1):
    """Coverage rows for ``per_group`` faces per group, each face in every frame, missed at
    random at the group's rate."""
    rng = np.random.default_rng(seed)
    groups = {}
    frame, face, covered = [], [], []
    for g, (group, rate) in enumerate(miss_rate.items()):
        for k in range(per_group):
            fid = g * per_group + k
            groups[fid] = group
            frame += list(range(frames))
            face += [fid] * frames
            covered += list(rng.random(frames) >= rate)
    share = np.where(covered, 1.0, 0.0)
    return Coverage(np.array(frame), np.array(face), np.array(covered), share), groups


def test_section_per_group_rates_and_face_bootstrap() -> None:
    cov, groups = _synthetic(12, {"female": 0.10, "male": 0.0})
    settings = AuditSettings(targets=(), reps=400, seed=3)
    tool = tool_section("x", cov, groups, ["female", "male"], settings, frames_per_s=12.5)
    female, male = tool["per_group"]
    n_missed = int((~cov.covered[cov.face < 12]).sum())
    assert female["missed_face_frames"] == n_missed > 0
    assert female["miss_rate"]["value"] == pytest.approx(n_missed / (12 * 40))
    assert female["recall"]["value"] == pytest.approx(1 - n_missed / (12 * 40))
    assert female["miss_rate"]["interval"] == "wilson-effective-n"
    low, high = female["recall"]["low"], female["recall"]["high"]
    assert low < female["recall"]["value"] < high
    assert (1 - high, 1 - low) == pytest.approx(
        (female["miss_rate"]["low"], female["miss_rate"]["high"]))
    assert female["faces"] == 12 and female["miss_rate"]["identities"] == 12
    assert female["miss_rate"]["small_sample"] is True  # fewer than 30 faces
    # no miss at all: an exact one-sided bound over the face-frames, not a [1, 1] bootstrap
    assert male["missed_face_frames"] == 0 and male["recall"]["interval"] == "clopper-pearson"
    assert male["recall"]["high"] == 1.0 and 0.99 < male["recall"]["low"] < 1.0
    assert male["frames_with_uncovered_face"] == 0
    assert female["frames_with_uncovered_face"] == tool["frames_with_uncovered_face"] == len(
        np.unique(cov.frame[~cov.covered]))
    assert tool["missed_face_frames"] == n_missed and tool["face_frames"] == 24 * 40
    assert tool["frames_per_s"] == 12.5
    again = tool_section("x", cov, groups, ["female", "male"], settings, frames_per_s=12.5)
    assert again == tool  # seeded


def test_bootstrap_resamples_faces_not_face_frames() -> None:
    """One face that is missed often makes the interval wide: the unit is the face."""
    cov, groups = _synthetic(10, {"female": 0.0, "male": 0.0})
    covered = cov.covered.copy()
    covered[(cov.face == 0) & (cov.frame < 20)] = False  # face 0 missed in half its frames
    lumpy = Coverage(cov.frame, cov.face, covered, covered.astype(float))
    settings = AuditSettings(targets=(), reps=400, seed=0)
    female = tool_section("x", lumpy, groups, ["female", "male"], settings)["per_group"][0]
    value = female["miss_rate"]["value"]
    assert value == pytest.approx(20 / 400)
    # a face-frame bootstrap would give about ±0.02; resampling faces, 0 draws of face 0 are
    # common (p ≈ 0.35) and several draws reach far above, so the interval (Wilson on the
    # effective sample size that spread implies) reaches near 0 and far above
    assert female["miss_rate"]["low"] < 0.01 and female["miss_rate"]["high"] > 0.1


def test_group_without_face_frames_and_unknown_groups() -> None:
    cov, groups = _synthetic(3, {"female": 0.2})
    settings = AuditSettings(targets=(), reps=50, seed=0)
    tool = tool_section("x", cov, groups, ["female", "male"], settings)
    male = tool["per_group"][1]
    assert male["faces"] == 0 and male["recall"]["value"] is None and male["recall"]["note"]
    with pytest.raises(InputDataError, match="other"):
        tool_section("x", cov, {**groups, 0: "other"}, ["female", "male"], settings)
    off = tool_section("x", cov, groups, ["female"], AuditSettings(targets=(), reps=0))
    assert off["recall"]["low"] is None or off["recall"]["interval"] == "clopper-pearson"


def _report(tmp_path: Path) -> dict:
    settings = AuditSettings(targets=(), reps=200, seed=0)
    cov = coverage(TRUTH, SHAPES)
    tools = [tool_section("faceaudit", cov, GROUPS, ["female", "male"], settings,
                          frames_per_s=30.0),
             tool_section("other <tool>", cov, GROUPS, ["female", "male"], settings)]
    clip = {"width": 160, "height": 90, "fps": 10, "frames": 10, "faces": 4, "seed": 0}
    return redaction_report(redaction_section(clip, ["female", "male"], tools), settings,
                            input_path="synthetic", attributes=None, by=["sex"])


def test_report_json_carries_the_section(tmp_path: Path) -> None:
    report = _report(tmp_path)
    write_report(report, tmp_path)
    data = json.loads((tmp_path / "report.json").read_text())
    assert data["schema"] == "faceaudit.audit/2"
    assert data["provenance"]["input_kind"] == "redaction"
    assert data["provenance"]["bootstrap_unit"] == "face" and data["targets"] == []
    section = data["redaction"]
    assert section["criterion"] == {"min_visible": 0.5, "min_covered": 0.9}
    assert [t["tool"] for t in section["tools"]] == ["faceaudit", "other <tool>"]
    tool = section["tools"][0]
    assert tool["missed_face_frames"] == 2 and tool["face_frames"] == 22
    assert tool["frames_with_uncovered_face"] == 2
    assert [g["missed_face_frames"] for g in tool["per_group"]] == [1, 1]
    assert any("rests on 2 faces" in w for w in data["warnings"])


def test_report_html_shows_tables_plot_and_headline(tmp_path: Path) -> None:
    page = write_html(_report(tmp_path), tmp_path).read_text(encoding="utf-8")
    assert "Footage redaction: who is left visible" in page
    assert "other &lt;tool&gt;" in page and "other <tool>" not in page
    recall = f"{20 / 22:.4f}"
    assert page.count(recall) >= 2  # headline and table
    assert re.search(r'<img src="data:image/png;base64,[^"]+" alt="Dot plot of redaction', page)
    assert "frames with a face left uncovered" in page


def test_report_without_redaction_has_no_redaction_section(tmp_path: Path) -> None:
    report = _report(tmp_path)
    del report["redaction"]
    assert "Footage redaction" not in write_html(report, tmp_path).read_text(encoding="utf-8")


def test_redaction_report_renders_in_headless_chromium(tmp_path: Path) -> None:
    path = write_html(_report(tmp_path), tmp_path)
    dom, console = open_in_chromium(path.resolve().as_uri(), tmp_path / "profile", "--dump-dom")
    assert console == []
    assert re.search(r"<h2[^>]*>Footage redaction: who is left visible</h2>", dom)
    assert "Who is left visible: redaction recall per group" in dom
