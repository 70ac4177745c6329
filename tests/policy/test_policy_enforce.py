import hashlib
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from faceaudit.ledger import Ledger
from faceaudit.policy import (
    AuditReportError,
    Policy,
    PolicyError,
    PolicyRefusal,
    enforce,
    install_policy,
    load_policy,
    parse_policy,
    register_audit,
)
from faceaudit.policy.model import RateLimit

BACKEND = "dlib-resnet:1"


def _refused(ledger: Ledger) -> list[dict]:
    return [e for e in ledger.events() if e["action"] == "refused"]


def _enforce(policy, ledger, home, operation="identify", actor="alice", purpose="theft",
             case="C-1", backend_id=BACKEND, now=None):
    enforce(policy, ledger, home, operation=operation, actor=actor, purpose=purpose, case=case,
            backend_id=backend_id, now=now)


def _expect_refusal(rule, policy, ledger, home, **kwargs):
    before = len(_refused(ledger))
    with pytest.raises(PolicyRefusal) as info:
        _enforce(policy, ledger, home, **kwargs)
    assert info.value.rule == rule
    assert info.value.code == "policy-refused" and info.value.http_status == 403
    refused = _refused(ledger)
    assert len(refused) == before + 1
    event = refused[-1]
    assert event["result"]["rule"] == rule
    assert event["result"]["operation"] == kwargs.get("operation", "identify")
    assert event["actor"] == kwargs.get("actor", "alice")
    assert event["purpose"] == kwargs.get("purpose", "theft")
    assert event["case"] == kwargs.get("case", "C-1")
    assert ledger.verify().ok
    return info.value


def test_allowed_operation_with_passing_audit_is_not_logged_as_refused(home, ledger,
                                                                       report_factory):
    register_audit(home, ledger, report_factory(), "auditor")
    _enforce(load_policy(home), ledger, home)
    assert _refused(ledger) == []


def test_operation_not_allowed(home, ledger):
    policy = Policy(allowed_operations=frozenset({"enrol", "verify"}))
    _expect_refusal("operation-not-allowed", policy, ledger, home)


@pytest.mark.parametrize(("field", "kwargs"), [("purpose", {"purpose": None}),
                                               ("purpose", {"purpose": "  "}),
                                               ("case", {"case": None})])
def test_missing_required_field(home, ledger, field, kwargs):
    refusal = _expect_refusal("required-field", Policy(), ledger, home, **kwargs)
    assert field in str(refusal)


def test_rate_limit_counts_the_actors_events_in_the_window(home, ledger, report_factory):
    register_audit(home, ledger, report_factory(), "auditor")
    policy = replace(load_policy(home),
                     rate_limits={"identify": RateLimit(max_events=2, window_hours=1.0)})
    for _ in range(2):
        _enforce(policy, ledger, home)
        ledger.append("alice", "identify", purpose="theft", case="C-1",
                      result={"result_id": "r", "candidates": 1})
    ledger.append("bob", "identify", purpose="theft", case="C-1")
    _expect_refusal("rate-limit", policy, ledger, home)
    _enforce(policy, ledger, home, actor="bob")  # other actors are counted separately
    later = datetime.now(UTC) + timedelta(hours=2)
    _enforce(policy, ledger, home, now=later)  # the window has moved on


def test_no_audit_for_the_deployed_backend(home, ledger, report_factory):
    # dlib-native:1 reads the same model file, so its audit registers, but only for itself.
    register_audit(home, ledger, report_factory(backend_id="dlib-native:1"), "auditor")
    _expect_refusal("no-audit", load_policy(home), ledger, home)
    _expect_refusal("no-audit", load_policy(home), ledger, home, backend_id=None)


def test_verify_is_gated_too(home, ledger):
    _expect_refusal("no-audit", Policy(), ledger, home, operation="verify")


def test_enrol_is_not_gated(home, ledger):
    _enforce(Policy(), ledger, home, operation="enrol", purpose=None, case=None)
    assert _refused(ledger) == []


def test_stale_audit(home, ledger, report_factory):
    created = datetime.now(UTC) - timedelta(days=300)
    register_audit(home, ledger, report_factory(created_at=created), "auditor")
    policy = load_policy(home)
    _enforce(policy, ledger, home)
    later = datetime.now(UTC) + timedelta(days=100)
    refusal = _expect_refusal("stale-audit", policy, ledger, home, now=later)
    assert "400 days" in str(refusal)
    _enforce(replace(policy, bias_gate=replace(policy.bias_gate, max_audit_age_days=500)),
             ledger, home, now=later)


OWN_RULE = {"expression": "fmr_ratio>1.1", "metric": "fmr_ratio", "op": ">", "limit": 1.1,
            "target_fmr": 0.001, "status": "pass", "value": 1.0}


@pytest.mark.parametrize(
    ("report", "rule"),
    [
        ({"fmr": {"female": 0.0077, "male": 0.001}}, "audit-fmr-ratio"),
        ({"fnmr": {"female": 0.025, "male": 0.01}}, "audit-fnmr-ratio"),
        ({"fmr": {"female": 0.0, "male": 0.0}}, "audit-fmr-ratio"),
        ({"rules": [OWN_RULE]}, "audit-gate-failed"),
    ],
)
def test_audit_failing_the_gate(home, ledger, report_factory, report, rule):
    result = register_audit(home, ledger, report_factory(**report), "auditor")
    assert result["gate"]["passed"] is False and result["gate"]["rule"] == rule
    _expect_refusal(rule, load_policy(home), ledger, home)


def test_required_group_missing_or_unsupported(home, ledger, report_factory):
    policy = load_policy(home)
    policy = replace(policy, bias_gate=replace(policy.bias_gate,
                                               required_groups=("female", "male", "nonbinary")))
    register_audit(home, ledger, report_factory(), "auditor")
    refusal = _expect_refusal("audit-groups-missing", policy, ledger, home)
    assert "nonbinary" in str(refusal)
    three = {"female": 0.0012, "male": 0.001, "nonbinary": 0.0011}
    fnmr3 = {"female": 0.011, "male": 0.01, "nonbinary": 0.01}
    # nonbinary has 2,000 impostor comparisons: fewer than the rule of three needs at 1e-3
    register_audit(home, ledger,
                   report_factory(fmr=three, fnmr=fnmr3,
                                  impostor_pairs={"female": 5000, "male": 5000,
                                                  "nonbinary": 2000}), "auditor")
    _expect_refusal("audit-groups-missing", policy, ledger, home)
    register_audit(home, ledger, report_factory(fmr=three, fnmr=fnmr3), "auditor")
    _enforce(policy, ledger, home)


def test_the_newest_audit_governs(home, ledger, report_factory):
    now = datetime.now(UTC)
    failing = {"fmr": {"female": 0.0034, "male": 0.001}}
    register_audit(home, ledger, report_factory(created_at=now - timedelta(days=2)), "auditor")
    _enforce(load_policy(home), ledger, home)
    register_audit(home, ledger,
                   report_factory(created_at=now - timedelta(days=1), **failing), "auditor")
    _expect_refusal("audit-fmr-ratio", load_policy(home), ledger, home)
    # registering older passing evidence afterwards does not restore permission
    register_audit(home, ledger, report_factory(created_at=now - timedelta(days=3)), "auditor")
    _expect_refusal("audit-fmr-ratio", load_policy(home), ledger, home)
    # newer passing evidence does
    register_audit(home, ledger, report_factory(created_at=now), "auditor")
    _enforce(load_policy(home), ledger, home)


def test_register_audit_copies_the_report_and_logs_it(home, ledger, report_factory):
    path = report_factory(fmr={"female": 0.0077, "male": 0.001})
    result = register_audit(home, ledger, path, "auditor")
    stored = home.audits_dir / result["audit_id"] / "report.json"
    assert stored.read_bytes() == path.read_bytes()
    assert result["backend_id"] == BACKEND
    assert result["gate"]["passed"] is False and result["gate"]["rule"] == "audit-fmr-ratio"
    (event,) = [e for e in ledger.events() if e["action"] == "audit"]
    assert event["seq"] == result["seq"] and event["backend_id"] == BACKEND
    assert event["result"]["audit_id"] == result["audit_id"]
    assert event["result"]["report_sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    again = register_audit(home, ledger, path, "auditor")
    assert again["audit_id"] == result["audit_id"]
    assert len(list(home.audits_dir.iterdir())) == 1


@pytest.mark.parametrize(
    "content",
    [b"not json", b"[]", json.dumps({"schema": "other/1"}).encode(),
     json.dumps({"schema": "faceaudit.audit/1", "provenance": {"backend_id": None}}).encode()],
)
def test_register_audit_refuses_what_is_not_a_report(home, ledger, tmp_path, content):
    bad = tmp_path / "bad.json"
    bad.write_bytes(content)
    with pytest.raises(AuditReportError):
        register_audit(home, ledger, bad, "auditor")
    assert [e["action"] for e in ledger.events()] == ["init"]  # only the genesis event


def test_install_policy_logs_the_change_with_digests(home, ledger, tmp_path):
    first = tmp_path / "p1.toml"
    first.write_text("max_candidates = 5\n")
    second = tmp_path / "p2.toml"
    second.write_text("max_candidates = 7\n")
    install_policy(home, ledger, first, "admin")
    policy = install_policy(home, ledger, second, "admin")
    assert policy.max_candidates == 7 and load_policy(home).max_candidates == 7
    changes = [e for e in ledger.events() if e["action"] == "policy_change"]
    assert len(changes) == 2
    assert changes[1]["result"]["previous_sha256"] == changes[0]["result"]["sha256"]


def test_policy_rules_never_name_a_demographic_filter():
    # The only group-aware key is the audit coverage requirement.
    text = b"[bias_gate]\nrequired_groups = ['female']\n"
    assert parse_policy(text, source="t").bias_gate.required_groups == ("female",)
    for key in (b"exclude_groups", b"rank_by", b"filter_groups"):
        with pytest.raises(PolicyError, match="unknown policy key"):
            parse_policy(key + b" = ['female']\n", source="t")
