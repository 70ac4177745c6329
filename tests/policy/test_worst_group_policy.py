"""A policy may adopt the audit's worst-group threshold (``threshold = "worst-group"``, issue
24): the gate judges the registered audit's per-group rates at the threshold it recommends
(its ``operating_points`` grid row), not at the calibrated one; the threshold it adopts is
recorded in the ``policy_change`` event; an audit without that section is refused
(``worst-group-threshold-missing``), and a waiver cannot supply a threshold."""

from datetime import UTC, datetime

import numpy as np
import pytest
from audit_evidence import BACKEND
from worst_group_data import as_model_audit, audited_points

from faceaudit.ledger import Ledger
from faceaudit.policy import install_policy, load_policy
from faceaudit.policy.errors import PolicyError
from faceaudit.policy.gate import evaluate_gate
from faceaudit.policy.model import parse_policy

# male: 80 false matches at a low score, then 30 spread like female's 30: at the audit's
# target threshold (pooled FMR 1e-2) the FMR ratio is 3.7 [1.7, 7.3]; at the worst-group
# threshold above the low scores it is 1.0 [0.4, 2.7]
EVEN = {"male": list(np.r_[np.full(80, 0.35), np.linspace(0.4, 0.9, 30)]),
        "female": list(np.linspace(0.4, 0.9, 30))}
# male's false matches ten times female's over the same scores: fails wherever judged
UNEVEN = {"male": list(np.linspace(0.4, 0.9, 80)), "female": list(np.linspace(0.4, 0.9, 8))}


@pytest.fixture(scope="module")
def even(tmp_path_factory):
    return audited_points(tmp_path_factory.mktemp("even"), EVEN)


@pytest.fixture(scope="module")
def uneven(tmp_path_factory):
    return audited_points(tmp_path_factory.mktemp("uneven"), UNEVEN)


def _policy(home, auditor, tmp_path, top: str = "", gate: str = "") -> None:
    path = tmp_path / "policy.toml"
    path.write_text('fmr_target = 0.01\n' + top + "\n" + auditor.policy_text(gate))
    install_policy(home, Ledger(home), path, "admin")


def _gate(home, operation="verify"):
    return evaluate_gate(load_policy(home), home, BACKEND, datetime.now(UTC), Ledger(home),
                         operation)


def _recommended(report) -> float:
    (entry,) = report["operating_points"]
    return entry["recommended_threshold"]


def test_the_policy_key_is_parsed_and_checked():
    assert parse_policy(b"", source="t").threshold == "calibrated"
    assert parse_policy(b'threshold = "worst-group"', source="t").threshold == "worst-group"
    assert parse_policy(b'threshold = "worst-group"', source="t").to_dict()["threshold"] \
        == "worst-group"
    with pytest.raises(PolicyError, match="threshold must be one of"):
        parse_policy(b'threshold = "per-group"', source="t")
    with pytest.raises(PolicyError, match="threshold must be one of"):
        parse_policy(b"threshold = 0.5", source="t")


def test_the_gate_judges_at_the_worst_group_threshold_not_the_calibrated_one(
        home, auditor, even, tmp_path):
    _policy(home, auditor, tmp_path, gate="max_fmr_ratio = 3")
    auditor.register(home, as_model_audit(even))
    calibrated = _gate(home)
    assert not calibrated.passed and calibrated.rule == "audit-inconclusive", calibrated.detail
    assert calibrated.threshold is None and "fmr_ratio 3.67 [" in calibrated.detail
    _policy(home, auditor, tmp_path, top='threshold = "worst-group"', gate="max_fmr_ratio = 3")
    adopted = _gate(home)
    assert adopted.passed, adopted.detail
    assert adopted.threshold == _recommended(even) == pytest.approx(0.4)
    assert f"at the worst-group threshold {adopted.threshold:.6g}" in adopted.detail
    assert "fmr_ratio 1 [" in adopted.detail and "pass against 3" in adopted.detail


def test_the_gate_fails_an_audit_whose_interval_at_the_worst_group_threshold_exceeds(
        home, auditor, uneven, tmp_path):
    _policy(home, auditor, tmp_path, top='threshold = "worst-group"')
    auditor.register(home, as_model_audit(uneven))
    verdict = _gate(home, "identify")
    assert not verdict.passed and verdict.rule == "audit-fmr-ratio", verdict.detail
    assert "worst-group threshold" in verdict.detail
    assert verdict.threshold == _recommended(uneven)
    # the grid row's own numbers are judged: its FMR ratio, not the calibrated target's
    row = next(p for p in uneven["operating_points"][0]["grid"] if p["recommended"])
    assert f"fmr_ratio {row['summaries']['fmr_ratio']['value']:.3g} [" in verdict.detail


def test_an_audit_without_operating_points_is_refused_by_name(home, auditor, even, tmp_path):
    _policy(home, auditor, tmp_path, top='threshold = "worst-group"')
    auditor.register(home, as_model_audit(even, points=False))
    verdict = _gate(home)
    assert not verdict.passed and verdict.rule == "worst-group-threshold-missing"
    assert "--operating-points" in verdict.detail


def test_a_waiver_cannot_supply_the_threshold(home, auditor, even, tmp_path):
    _policy(home, auditor, tmp_path, top='threshold = "worst-group"',
            gate='waived_because = "pilot"')
    assert _gate(home).rule == "worst-group-threshold-missing"  # no audit at all
    auditor.register(home, as_model_audit(even, points=False))
    assert _gate(home).rule == "worst-group-threshold-missing"
    auditor.register(home, as_model_audit(even))  # fails at 2, waived: runs at its threshold
    waived = _gate(home)
    assert waived.passed and waived.waived and waived.threshold == _recommended(even)


def test_the_policy_change_records_the_threshold_it_adopts(home, auditor, even, tmp_path):
    _policy(home, auditor, tmp_path, gate="max_fmr_ratio = 3")
    auditor.register(home, as_model_audit(even))
    _policy(home, auditor, tmp_path, top='threshold = "worst-group"', gate="max_fmr_ratio = 3")
    change = [e for e in Ledger(home).events() if e["action"] == "policy_change"][-1]
    recorded = change["result"]["threshold"]
    assert recorded["rule"] == "worst-group" and recorded["fmr_target"] == 0.01
    assert recorded["adopted"][BACKEND]["value"] == _recommended(even)
    assert recorded["adopted"][BACKEND]["refused"] is None
    _policy(home, auditor, tmp_path, gate="max_fmr_ratio = 3")  # back to calibrated
    change = [e for e in Ledger(home).events() if e["action"] == "policy_change"][-1]
    assert "threshold" not in change["result"]


def test_an_identification_audit_counts_only_at_the_adopted_threshold(home, auditor, even,
                                                                       tmp_path):
    from audit_evidence import make_identification_report

    _policy(home, auditor, tmp_path, top='threshold = "worst-group"', gate="max_fmr_ratio = 3")
    auditor.register(home, as_model_audit(even))
    adopted = _recommended(even)
    assert _gate(home, "identify").passed
    # searched at the shipped calibration's threshold: not the one this deployment runs at
    auditor.register(home, make_identification_report(target_fmr=0.01))
    refused = _gate(home, "identify")
    assert not refused.passed and refused.rule == "audit-target-missing", refused.detail
    assert f"not at the deployment's threshold {adopted!r}" in refused.detail
    assert _gate(home, "verify").passed  # 1:N audits speak for identify only
    auditor.register(home, make_identification_report(target_fmr=0.01, threshold=adopted))
    allowed = _gate(home, "identify")
    assert allowed.passed and allowed.identification_audit_id is not None
    assert allowed.threshold == adopted
