"""The policy can require a passing signed PAD audit for ``verify`` (issue 25): a PAD report
names the PAD system it measured, is registered under it with its verdict recomputed from the
per-group counts, and ``verify`` is refused with a named rule (and a ``refused`` event) when
no fresh passing signed PAD audit of the policy's system is registered; ``identify`` is not
affected."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from audit_evidence import make_report, write_report
from pad_evidence import SYSTEM, pad_report

from faceaudit.ledger import Ledger
from faceaudit.policy import (
    AuditRefusal,
    PolicyError,
    PolicyRefusal,
    enforce,
    load_policy,
    policy_status,
    register_audit,
)
from faceaudit.policy.gate import evaluate_gate, gate_record
from faceaudit.policy.model import parse_policy

BACKEND = "dlib-resnet:1"
REQUIRE = f'require_pad_audit = true\npad_system = "{SYSTEM}"\n'


@pytest.fixture(scope="module")
def fair(tmp_path_factory) -> dict:
    return pad_report(tmp_path_factory.mktemp("fair"))


@pytest.fixture(scope="module")
def unfair(tmp_path_factory) -> dict:
    return pad_report(tmp_path_factory.mktemp("unfair"), fair=False)


@pytest.fixture
def required(home, auditor, report_factory):
    """A policy requiring a PAD audit of SYSTEM, and a passing 1:1 audit registered."""
    auditor.trust(home, REQUIRE)
    register_audit(home, Ledger(home), report_factory(), "auditor")
    return home


def _register(home, auditor, tmp_path, report, name="pad", signed=True):
    path = write_report(tmp_path / name / "report.json", report)
    if signed:
        auditor.sign(path)
    return register_audit(home, Ledger(home), path, "auditor")


def _verify(home, operation="verify"):
    return enforce(load_policy(home), Ledger(home), home, operation=operation, actor="alice",
                   purpose="payment", case="C-1", backend_id=BACKEND)


def _refused(home, rule, operation="verify"):
    with pytest.raises(PolicyRefusal) as info:
        _verify(home, operation)
    assert info.value.rule == rule, info.value
    refused = [e for e in Ledger(home).events() if e["action"] == "refused"][-1]
    assert refused["result"]["rule"] == rule and refused["result"]["operation"] == operation
    return info.value


def test_a_passing_signed_pad_audit_allows_verify(required, auditor, tmp_path, fair):
    home = required
    result = _register(home, auditor, tmp_path, fair)
    assert result["backend_id"] is None and result["pad_system"] == SYSTEM
    assert result["gate"]["passed"], result["gate"]
    assert result["gate"]["recomputed"]["bpcer_ratio"] == pytest.approx(1.04, abs=0.01)
    gate = _verify(home)
    assert gate is not None and gate.passed and gate.pad_audit_id == result["audit_id"]
    assert gate_record(gate)["pad_audit_id"] == result["audit_id"]
    event = [e for e in Ledger(home).events() if e["action"] == "audit"][-1]
    assert event["backend_id"] is None
    assert event["result"]["mode"] == "pad" and event["result"]["pad_system"] == SYSTEM
    status = policy_status(home, BACKEND)
    assert status["pad"]["audit_id"] == result["audit_id"] and status["pad"]["allowed"]
    assert SYSTEM in status["pad"]["sentence"]


def test_required_and_absent_refuses_verify_but_not_identify(required):
    _refused(required, "pad-audit-missing")
    _verify(required, "identify")  # the PAD audit speaks for verify only
    assert policy_status(required, BACKEND)["pad"]["rule"] == "pad-audit-missing"


def test_a_failing_pad_audit_registers_and_refuses_verify(required, auditor, tmp_path,
                                                         unfair):
    result = _register(required, auditor, tmp_path, unfair)
    assert not result["gate"]["passed"] and result["gate"]["rule"] == "audit-bpcer-ratio"
    refusal = _refused(required, "pad-audit-failed")
    assert "bpcer_ratio" in refusal.detail and SYSTEM in refusal.detail
    _verify(required, "identify")


def test_a_newer_failing_pad_audit_revokes(required, auditor, tmp_path, fair, unfair):
    _register(required, auditor, tmp_path, fair, "old")
    _verify(required)
    newer = json.loads(json.dumps(unfair))
    newer["provenance"]["created_at"] = (datetime.now(UTC) + timedelta(seconds=1)).isoformat()
    _register(required, auditor, tmp_path, newer, "new")
    _refused(required, "pad-audit-failed")


def test_an_unsigned_pad_audit_is_refused_and_verify_stays_refused(required, auditor,
                                                                   tmp_path, fair):
    with pytest.raises(AuditRefusal) as info:
        _register(required, auditor, tmp_path, fair, signed=False)
    assert info.value.rule == "audit-unsigned"
    refused = [e for e in Ledger(required).events() if e["action"] == "refused"][-1]
    assert refused["result"]["pad_system"] == SYSTEM
    _refused(required, "pad-audit-missing")


def test_an_audit_of_another_pad_system_does_not_count(required, auditor, tmp_path,
                                                       tmp_path_factory):
    other = pad_report(tmp_path_factory.mktemp("other"), system="acme-liveness:4.3")
    assert _register(required, auditor, tmp_path, other)["gate"]["passed"]
    _refused(required, "pad-audit-missing")


def test_a_pad_report_naming_no_pad_system_is_refused(required, auditor, tmp_path,
                                                     tmp_path_factory):
    anonymous = pad_report(tmp_path_factory.mktemp("anon"), system=None)
    with pytest.raises(AuditRefusal) as info:
        _register(required, auditor, tmp_path, anonymous)
    assert info.value.rule == "audit-target-missing" and "pad_system" in info.value.detail


def test_the_verdict_is_recomputed_never_read(required, auditor, tmp_path, unfair):
    """A failing table whose report claims equal rates and a passing gate, signed as is."""
    forged = json.loads(json.dumps(unfair))
    for point in forged["pad"]["operating_points"]:
        point["summaries"]["bpcer_ratio"].update(value=1.0, low=0.9, high=1.1)
    forged["gate"] = {"passed": True, "verdict": "pass", "rules": []}
    assert not _register(required, auditor, tmp_path, forged)["gate"]["passed"]
    _refused(required, "pad-audit-failed")


def test_the_deployed_threshold_is_the_point_judged(required, auditor, tmp_path,
                                                    tmp_path_factory):
    """With --pad-threshold the audit measures the vendor's own threshold: judged there (a
    threshold so low nothing is rejected leaves BPCER 0 in both groups: equal, but the
    intervals of two zero rates cannot bound their ratio, so the verdict is inconclusive)."""
    report = pad_report(tmp_path_factory.mktemp("deployed"), pad_threshold=0.0)
    result = _register(required, auditor, tmp_path, report)
    assert "deployed PAD threshold" in result["gate"]["detail"]
    assert not result["gate"]["passed"]
    _refused(required, "pad-audit-inconclusive")


def test_stale_pad_audit_refuses(required, auditor, tmp_path, fair):
    _register(required, auditor, tmp_path, fair)
    later = datetime.now(UTC) + timedelta(days=400)
    gate = evaluate_gate(load_policy(required), required, BACKEND, later, Ledger(required),
                         "verify")
    # the 1:1 audit is stale too then; judge the PAD gate alone
    from faceaudit.policy.pad_gate import judge_pad_gate

    assert not gate.passed
    pad = judge_pad_gate(load_policy(required), required, Ledger(required), later)
    assert pad.rule == "pad-audit-missing" and "days old" in pad.detail


def test_policy_keys_are_validated():
    gate = parse_policy(REQUIRE.join(["[bias_gate]\n", "max_bpcer_ratio = 1.5\n"]).encode(),
                        source="p").bias_gate
    assert (gate.require_pad_audit, gate.pad_system, gate.max_bpcer_ratio,
            gate.max_apcer_ratio) == (True, SYSTEM, 1.5, 2.0)
    for bad in ("require_pad_audit = true\n", 'pad_system = "no-version"\n',
                "max_apcer_ratio = 0.5\n", "pad_apcer_target = 1.0\n"):
        with pytest.raises(PolicyError):
            parse_policy(f"[bias_gate]\n{bad}".encode(), source="p")


def test_a_model_audit_report_is_still_registered_as_before(home, auditor, report_factory):
    result = register_audit(home, Ledger(home), report_factory(), "auditor")
    assert result["backend_id"] == BACKEND and "pad_system" not in result
    assert make_report()["provenance"]["backend_id"] == BACKEND


def test_the_reports_own_rules_are_recomputed(required, auditor, tmp_path, fair):
    """A passing table with the auditor's own stricter rule (recomputed: it fails), a rule
    claimed to pass; a lenient own rule passes; a rule the counts cannot recompute refuses."""
    def with_rule(metric, op, limit, target=0.05):
        report = json.loads(json.dumps(fair))
        report["gate"] = {"passed": True, "verdict": "pass", "rules": [{
            "expression": f"{metric}{op}{limit}", "metric": metric, "op": op, "limit": limit,
            "target_fmr": target, "apcer_target": target, "status": "pass"}]}
        return report

    from faceaudit.policy.pad import judge_pad

    policy = load_policy(required)
    strict = judge_pad(policy, with_rule("bpcer_difference", ">", 0.0001))
    assert not strict.passed and strict.rule == "audit-gate-failed"
    assert "bpcer_difference" in strict.detail
    assert judge_pad(policy, with_rule("apcer_ratio", ">", 5.0)).passed
    tight = judge_pad(policy, with_rule("bpcer_ratio", ">", 1.2))
    assert not tight.passed and tight.rule == "audit-inconclusive"  # 1.04 [0.77, 1.42]
    assert judge_pad(policy, with_rule("fdr", "<", 0.5)).rule == "audit-gate-failed"
    assert not _register(required, auditor, tmp_path, with_rule(
        "bpcer_difference", ">", 0.0001), "strict")["gate"]["passed"]
    _refused(required, "pad-audit-failed")
