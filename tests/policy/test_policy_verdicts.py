"""The policy's bias gate judges each recomputed ratio on its interval: a real 35 + 35 audit
whose point ratio is 11.8 is inconclusive (refused as ``audit-inconclusive`` unless the policy
allows it), one on too few identities insufficient, one whose whole interval is beyond the
limit fails and one whose whole interval is within passes — with the numbers in ``policy
status``."""

from datetime import UTC, datetime

import pytest
from audit_evidence import BACKEND
from verdict_data import as_model_audit, audited

from faceaudit.ledger import Ledger
from faceaudit.policy import install_policy
from faceaudit.policy.gate import evaluate_gate
from faceaudit.policy.status import policy_status


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    return audited("small", tmp_path_factory.mktemp("small"))


@pytest.fixture(scope="module")
def large(tmp_path_factory):
    return audited("large", tmp_path_factory.mktemp("large"))


def _policy(home, auditor, tmp_path, top: str = "", gate: str = "") -> None:
    path = tmp_path / "policy.toml"
    path.write_text(top + "\n" + auditor.policy_text(gate))
    install_policy(home, Ledger(home), path, "admin")


def _gate(home):
    from faceaudit.policy import load_policy

    return evaluate_gate(load_policy(home), home, BACKEND, datetime.now(UTC), Ledger(home))


def test_small_audit_with_point_ratio_11_8_is_refused_as_inconclusive(home, auditor, small,
                                                                       tmp_path):
    auditor.register(home, as_model_audit(small))
    verdict = _gate(home)
    assert not verdict.passed and verdict.rule == "audit-inconclusive"
    assert "fmr_ratio 11.8 [" in verdict.detail and "inconclusive against 2" in verdict.detail
    status = policy_status(home, BACKEND)
    assert status["allowed"] is False and "(audit-inconclusive)" in status["sentence"]
    assert "fmr_ratio 11.8 [" in status["sentence"]


def test_the_policy_may_allow_an_inconclusive_audit(home, auditor, small, tmp_path):
    _policy(home, auditor, tmp_path, gate='on_inconclusive = "allow"')
    auditor.register(home, as_model_audit(small))
    verdict = _gate(home)
    assert verdict.passed, verdict.detail
    assert "inconclusive against 2" in verdict.detail


def test_too_few_identities_is_insufficient(home, auditor, small, tmp_path):
    _policy(home, auditor, tmp_path, gate="min_identities = 40")
    auditor.register(home, as_model_audit(small))
    verdict = _gate(home)
    assert not verdict.passed and verdict.rule == "audit-insufficient"
    assert "fewer than 40 identities" in verdict.detail and "(35 identities)" in verdict.detail
    _policy(home, auditor, tmp_path, gate='min_identities = 40\non_insufficient = "allow"\n'
                                          'on_inconclusive = "allow"')
    assert _gate(home).passed


def test_a_rate_without_an_interval_is_insufficient(home, auditor, tmp_path):
    from audit_evidence import make_report

    auditor.register(home, make_report(spread=None))
    verdict = _gate(home)
    assert not verdict.passed and verdict.rule == "audit-insufficient"
    assert "no interval" in verdict.detail


def test_whole_interval_beyond_the_limit_fails(home, auditor, large, tmp_path):
    _policy(home, auditor, tmp_path, top="fmr_target = 0.01")
    auditor.register(home, as_model_audit(large))
    verdict = _gate(home)
    assert not verdict.passed and verdict.rule == "audit-fmr-ratio"
    assert "fmr_ratio 10 [" in verdict.detail and "the whole interval exceeds" in verdict.detail


def test_whole_interval_within_the_limit_passes_and_status_prints_it(home, auditor, large,
                                                                     tmp_path):
    _policy(home, auditor, tmp_path, top="fmr_target = 0.01", gate="max_fmr_ratio = 50")
    auditor.register(home, as_model_audit(large))
    verdict = _gate(home)
    assert verdict.passed, verdict.detail
    status = policy_status(home, BACKEND)
    assert status["allowed"] is True
    assert "fmr_ratio 10 [" in status["sentence"] and "pass against 50" in status["sentence"]
    assert "fnmr_ratio 1 [" in status["sentence"]


def test_policy_keys_are_checked(home, auditor, tmp_path):
    from faceaudit.policy import PolicyError

    for bad in ('on_inconclusive = "maybe"', "min_identities = 1", 'on_insufficient = 1'):
        with pytest.raises(PolicyError):
            _policy(home, auditor, tmp_path, gate=bad)


def test_max_geomean_limit_and_own_rule(home, auditor, large, tmp_path):
    _policy(home, auditor, tmp_path, top="fmr_target = 0.01",
            gate="max_fmr_ratio = 50\nmax_fmr_max_geomean = 1.5")
    auditor.register(home, as_model_audit(large))
    verdict = _gate(home)
    assert not verdict.passed and verdict.rule == "audit-fmr-max-geomean"
    assert "fmr_max_geomean 3.16 [" in verdict.detail
    _policy(home, auditor, tmp_path, top="fmr_target = 0.01", gate="max_fmr_ratio = 50")
    own = [{"expression": "fnmr_max_geomean>1.5", "metric": "fnmr_max_geomean", "op": ">",
            "limit": 1.5, "target_fmr": 0.01, "value": 1.0, "status": "pass"}]
    auditor.register(home, as_model_audit(large, rules=own))
    assert _gate(home).passed
    own[0].update(limit=1.1, expression="fnmr_max_geomean>1.1")  # [0.77, 1.33] crosses it
    auditor.register(home, as_model_audit(large, rules=own))
    verdict = _gate(home)
    assert not verdict.passed and verdict.rule == "audit-inconclusive"
    assert "fnmr_max_geomean>1.5" not in verdict.detail and "fnmr_max_geomean>1.1" in (
        verdict.detail)
