"""Measured quality on real clips: the labelled clip generator's comings and goings, and the
redaction section computed from a real ``faceaudit redact`` log against the clip's ground truth."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from footage_clips import load_clip_tool

from faceaudit.audit.engine import AuditSettings
from faceaudit.audit.redaction import tool_section
from faceaudit.footage.coverage import coverage, shapes_from_log


def test_clip_faces_come_and_go_balanced_by_sex(lfw_data: Path, tmp_path: Path) -> None:
    tool = load_clip_tool()
    people = tool.lfw_people(lfw_data / "lfw", lfw_data / "lfw-meta", 6, seed=5)
    assert [p["sex"] for p in people].count("female") == 3
    assert len({p["identity"] for p in people}) == 6
    truth = tool.make_clip(tmp_path / "c.mp4", people, width=240, height=160, seconds=2.0,
                           fps=10, seed=5, audio=False, min_face=30, max_face=50, on_screen=2)
    saved = json.loads((tmp_path / "c.mp4.truth.json").read_text())
    assert saved["faces"] == truth["faces"]
    spans = {f["id"]: f["frames"] for f in truth["faces"]}
    assert all(last - first + 1 == round(20 * 2 / 6) for first, last in spans.values())
    assert min(s[0] for s in spans.values()) == 0 and max(s[1] for s in spans.values()) == 19
    in_view: dict[int, set[int]] = {}
    for frame, face, *_ in truth["boxes"]:
        assert spans[face][0] <= frame <= spans[face][1]
        in_view.setdefault(frame, set()).add(face)
    assert max(len(v) for v in in_view.values()) <= 3  # about two at a time, never all six
    assert {face for faces in in_view.values() for face in faces} == set(spans)


def test_redaction_section_from_a_real_redaction(tiny_clip, redacted_clip) -> None:
    _, truth = tiny_clip
    _, log, _ = redacted_clip
    cov = coverage(truth, shapes_from_log(log))
    assert len(cov.frame) > 10 and cov.covered.all()
    groups = {f["id"]: f["sex"] for f in truth["faces"]}
    tool = tool_section("faceaudit", cov, groups, ["female", "male"],
                        AuditSettings(targets=(), reps=100, seed=0))
    assert tool["recall"]["value"] == 1.0 and tool["frames_with_uncovered_face"] == 0
    assert [g["faces"] for g in tool["per_group"]] == [1, 1]
    # the same truth against a log with every box shrunk to its centre: faces left visible
    shrunk = {f: [("rect", ((x1 + x2) / 2, (y1 + y2) / 2, (x1 + x2) / 2 + 1, (y1 + y2) / 2 + 1))
                  for _, (x1, y1, x2, y2) in shapes] for f, shapes in shapes_from_log(log).items()}
    poor = coverage(truth, shrunk)
    assert not poor.covered.any() and np.all(poor.share < 0.1)
