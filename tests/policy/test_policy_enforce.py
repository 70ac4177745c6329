import json
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
from faceaudit.policy.model import BiasGate, RateLimit

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
    policy = Policy(rate_limits={"identify": RateLimit(max_events=2, window_hours=1.0)})
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
    register_audit(home, ledger, report_factory(backend_id="other-model:3"), "auditor")
    _expect_refusal("no-audit", Policy(), ledger, home)
    _expect_refusal("no-audit", Policy(), ledger, home, backend_id=None)


def test_verify_is_gated_too(home, ledger):
    _expect_refusal("no-audit", Policy(), ledger, home, operation="verify")


def test_enrol_is_not_gated(home, ledger):
    _enforce(Policy(), ledger, home, operation="enrol", purpose=None, case=None)
    assert _refused(ledger) == []


def test_stale_audit(home, ledger, report_factory):
    created = datetime.now(UTC) - timedelta(days=400)
    register_audit(home, ledger, report_factory(created_at=created), "auditor")
    refusal = _expect_refusal("stale-audit", Policy(), ledger, home)
    assert "400 days" in str(refusal)
    _enforce(Policy(bias_gate=BiasGate(max_audit_age_days=500)), ledger, home)


@pytest.mark.parametrize(
    ("report", "rule"),
    [
        ({"fmr_ratio": 7.7}, "audit-fmr-ratio"),
        ({"fnmr_ratio": 2.5}, "audit-fnmr-ratio"),
        ({"fmr_ratio": None}, "audit-fmr-ratio"),
        ({"target_fmr": 0.01}, "audit-target-missing"),
        ({"gate_passed": False}, "audit-gate-failed"),
    ],
)
def test_audit_failing_the_gate(home, ledger, report_factory, report, rule):
    register_audit(home, ledger, report_factory(**report), "auditor")
    _expect_refusal(rule, Policy(), ledger, home)


def test_required_group_missing_or_unsupported(home, ledger, report_factory):
    policy = Policy(bias_gate=BiasGate(required_groups=("female", "male", "nonbinary")))
    register_audit(home, ledger, report_factory(), "auditor")
    refusal = _expect_refusal("audit-groups-missing", policy, ledger, home)
    assert "nonbinary" in str(refusal)
    register_audit(home, ledger,
                   report_factory(groups=("female", "male", "nonbinary"),
                                  unsupported=("nonbinary",)), "auditor")
    _expect_refusal("audit-groups-missing", policy, ledger, home)
    register_audit(home, ledger, report_factory(groups=("female", "male", "nonbinary")),
                   "auditor")
    _enforce(policy, ledger, home)


def test_one_passing_audit_among_failing_ones_is_enough(home, ledger, report_factory):
    register_audit(home, ledger, report_factory(fmr_ratio=9.0), "auditor")
    register_audit(home, ledger, report_factory(), "auditor")
    _enforce(Policy(), ledger, home)


def test_register_audit_copies_the_report_and_logs_it(home, ledger, report_factory):
    path = report_factory(fmr_ratio=7.7)
    result = register_audit(home, ledger, path, "auditor")
    stored = home.audits_dir / result["audit_id"] / "report.json"
    assert stored.read_bytes() == path.read_bytes()
    assert result["backend_id"] == BACKEND
    assert result["gate"]["passed"] is False and result["gate"]["rule"] == "audit-fmr-ratio"
    (event,) = [e for e in ledger.events() if e["action"] == "audit"]
    assert event["seq"] == result["seq"] and event["backend_id"] == BACKEND
    assert event["result"]["audit_id"] == result["audit_id"]
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
