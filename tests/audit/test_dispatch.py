"""The audit dispatcher: which inputs may be combined, in which order mistakes are told, what a
valid request resolves to, and the grouped ``faceaudit audit --help``."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from faceaudit.audit.dispatch import AuditRequest, InputKind, parse_sizes, parse_targets, run_audit
from faceaudit.audit.gate import GateExpressionError
from faceaudit.audit.inputs import AuditInputError
from faceaudit.audit.signing import AuditSignatureError
from faceaudit.cli import app

RATES = "group,fmr,fnmr,target_fmr\nA,0.001,0.02,0.001\nB,0.003,0.05,0.001\n"


@pytest.mark.parametrize(("given", "kind"), [
    ({"data": "folder"}, InputKind.DATASET),
    ({"lfw": "lfw"}, InputKind.LFW),
    ({"embeddings": ["e.parquet"]}, InputKind.EMBEDDINGS),
    ({"scores": ["s.csv"]}, InputKind.SCORES),
    ({"rates": "r.csv"}, InputKind.RATES),
])
def test_a_request_names_its_input_kind(given, kind):
    plan = AuditRequest(**given).plan
    assert plan.kind is kind and plan.mode == "verification" and not plan.several
    assert plan.backends == ["dlib-resnet"] and list(plan.settings.targets) == [1e-2, 1e-3, 1e-4]


def test_a_request_resolves_grouping_rules_mode_and_a_policy_point():
    request = AuditRequest(embeddings=["e.parquet"], by=" sex, race ,", fmr="1e-2",
                           fail_if=["fmr_ratio>2"], mode="identification",
                           operating_point=lambda: ([0.05], 3))
    plan = request.plan
    assert plan.by == ["sex", "race"] and plan.identification and plan.mode == "identification"
    assert [r.metric for r in plan.rules] == ["fmr_ratio"]
    assert list(plan.settings.targets) == [0.05] and plan.candidates == 3
    assert AuditRequest(embeddings=["e.parquet"], by=["sex"]).plan.by == ["sex"]
    several = AuditRequest(data="folder", backends=["dlib-resnet", "dlib-native"]).plan
    assert several.several and several.backends == ["dlib-resnet", "dlib-native"]


@pytest.mark.parametrize(("given", "error", "message"), [
    ({}, AuditInputError, "give exactly one input"),
    ({"scores": ["s.csv"], "rates": "r.csv"}, AuditInputError, "(got --scores, --rates)"),
    # the input is judged before the key, the key before --fmr, --fmr before --fail-if
    ({"sign": "no-such.key", "fmr": "2"}, AuditInputError, "give exactly one input"),
    ({"rates": "r.csv", "sign": "no-such.key", "fmr": "2"}, AuditSignatureError, "no-such.key"),
    ({"rates": "r.csv", "fmr": "2", "fail_if": ["x"]}, AuditInputError, "strictly between"),
    ({"rates": "r.csv", "fail_if": ["x"], "mode": "q"}, GateExpressionError, "bad --fail-if"),
    ({"rates": "r.csv", "mode": "q"}, AuditInputError, "--mode must be one of"),
    ({"rates": "r.csv", "mode": "identification"}, AuditInputError, "searches templates"),
    ({"embeddings": ["e"], "mode": "identification", "pairs": "p"}, AuditInputError,
     "--pairs applies to the verification audit only"),
    ({"rates": "r.csv", "operating_points": True}, AuditInputError, "not --rates"),
    ({"embeddings": ["e"], "mode": "identification", "gallery_templates": "some",
      "lower_is_better": True}, AuditInputError, "not 'some'"),
    ({"embeddings": ["e"], "lower_is_better": True, "backends": ["a", "b"]}, AuditInputError,
     "--lower-is-better applies to --scores tables only"),
    ({"embeddings": ["e"], "backends": ["a", "b"]}, AuditInputError, "several models need DATA"),
    ({"embeddings": ["e", "f"], "mode": "identification"}, AuditInputError, "audits one model"),
    ({"embeddings": ["e", "f"], "pairs": "p"}, AuditInputError, "compare models without it"),
    ({"scores": ["s.csv"], "cluster": "local:1"}, AuditInputError, "a cluster scores templates"),
])
def test_the_first_mistake_is_told_in_a_fixed_order(given, error, message):
    with pytest.raises(error) as caught:
        AuditRequest(**given)
    assert message in str(caught.value)


def test_operating_points_apply_to_identification_audits_too():
    plan = AuditRequest(embeddings=["e"], mode="identification", operating_points=True).plan
    assert plan.identification and plan.settings.operating_points


def test_a_policy_point_is_asked_only_in_identification_mode():
    def refuse() -> tuple[list[float], int]:
        raise AssertionError("not asked")

    assert AuditRequest(embeddings=["e"], operating_point=refuse).plan.candidates == 10


def test_targets_and_sizes():
    assert parse_targets("1e-2, 1e-3,", "--fmr") == [1e-2, 1e-3]
    assert parse_targets([0.5], "--fmr") == [0.5]
    for bad in ("x", "", "1"):
        with pytest.raises(AuditInputError, match="--fmr"):
            parse_targets(bad, "--fmr")
    assert parse_sizes("1e3, 10,") == [1000, 10]
    with pytest.raises(AuditInputError, match="whole numbers"):
        parse_sizes("0.5")


def test_paths_are_read_under_root_and_recorded_as_given(tmp_path: Path):
    (tmp_path / "input").mkdir()
    (tmp_path / "input" / "r.csv").write_text(RATES)
    report = run_audit(AuditRequest(root=tmp_path, rates="input/r.csv"))
    assert report["provenance"]["input"] == "input/r.csv"
    assert report["provenance"]["input_kind"] == "rates"
    with pytest.raises(AuditInputError, match="--attributes is required"):
        run_audit(AuditRequest(root=tmp_path, embeddings=["input/e.parquet"]))


def test_help_groups_the_options_by_what_they_apply_to():
    result = CliRunner().invoke(app, ["audit", "--help"], env={"COLUMNS": "120"})
    assert result.exit_code == 0
    text = result.output
    panels = ["Input (exactly one", "Models (DATA, --lfw)", "Groups", "Thresholds and intervals",
              "Gate", "Identification mode", "Output", "Signing", "Compute"]
    where = [text.index(f"─ {p}") for p in panels]
    assert where == sorted(where)
    for option, panel in (("--scores", 0), ("--no-face", 1), ("--by", 2), ("--bootstrap", 3),
                          ("--fail-if", 4), ("--gallery-size", 5), ("--json", 6), ("--sign", 7),
                          ("--cluster", 8)):
        at = text.index(f" {option} ")
        assert where[panel] < at and (panel + 1 == len(where) or at < where[panel + 1]), option
