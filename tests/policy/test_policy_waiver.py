"""A policy may waive the bias gate, but only out loud: a stated reason, a logged policy change,
and a status sentence that says identification runs without a passing audit."""

import pytest
from audit_evidence import make_report

from faceaudit.policy import PolicyError, PolicyRefusal, enforce, install_policy, load_policy
from faceaudit.policy.status import policy_status

BACKEND = "dlib-resnet:1"


def _identify(home, ledger):
    enforce(load_policy(home), ledger, home, operation="identify", actor="alice",
            purpose="demo", case="C-1", backend_id=BACKEND)


def _install(tmp_path, home, ledger, text):
    path = tmp_path / "policy.toml"
    path.write_text(text)
    return install_policy(home, ledger, path, "admin")


def test_without_a_waiver_no_audit_refuses(home, ledger):
    with pytest.raises(PolicyRefusal) as info:
        _identify(home, ledger)
    assert info.value.rule == "no-audit"
    assert policy_status(home, BACKEND)["waived"] is False


def test_a_waiver_allows_and_says_so(tmp_path, home, ledger):
    _install(tmp_path, home, ledger, '[bias_gate]\nwaived_because = "demo home, no real data"\n')
    changes = [e for e in ledger.events() if e["action"] == "policy_change"]
    assert changes, "the waiver must arrive through a logged policy change"
    _identify(home, ledger)
    assert not [e for e in ledger.events() if e["action"] == "refused"]
    status = policy_status(home, BACKEND)
    assert status["allowed"] and status["waived"]
    assert "WITHOUT a passing audit" in status["sentence"]
    assert "demo home, no real data" in status["sentence"]
    assert "no-audit" in status["sentence"]  # the verdict it overrides stays visible


def test_a_failing_audit_is_named_under_a_waiver(home, ledger, auditor):
    auditor.register(home, make_report(fmr={"female": 0.004, "male": 0.001}))
    with pytest.raises(PolicyRefusal) as info:
        _identify(home, ledger)
    assert info.value.rule == "audit-fmr-ratio"
    auditor.trust(home, extra='waived_because = "court order 12/2026 while re-auditing"\n')
    _identify(home, ledger)
    status = policy_status(home, BACKEND)
    assert status["waived"] and "audit-fmr-ratio" in status["sentence"]
    auditor.trust(home)  # the waiver withdrawn by a later policy change: refused again
    with pytest.raises(PolicyRefusal):
        _identify(home, ledger)


@pytest.mark.parametrize("value", ['""" """', "42", '"' + "x" * 301 + '"'])
def test_a_waiver_needs_a_short_stated_reason(tmp_path, home, ledger, value):
    with pytest.raises(PolicyError):
        _install(tmp_path, home, ledger, f"[bias_gate]\nwaived_because = {value}\n")
