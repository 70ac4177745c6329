"""Authority is re-proved when it is used: the gate re-checks the auditor's signature over the
stored report at every evaluation, so an ``audit`` event (even one the deployment's own key
covers, as an insider holding a file key in the home can make) grants nothing by itself."""

from __future__ import annotations

import hashlib
import json

import pytest
from audit_evidence import Auditor, make_report

from faceaudit.engine.models.identity import hash_matches_backend
from faceaudit.ledger import Ledger
from faceaudit.policy import PolicyRefusal, enforce, load_policy, policy_status

BACKEND = "dlib-resnet:1"
UNFAIR = {"fmr": {"female": 0.00344, "male": 0.001}}


def _identify(home):
    enforce(load_policy(home), Ledger(home), home, operation="identify", actor="alice",
            purpose="theft", case="C-1", backend_id=BACKEND)


def _refused(home, rule):
    with pytest.raises(PolicyRefusal) as info:
        _identify(home)
    assert info.value.rule == rule, info.value
    status = policy_status(home, BACKEND)
    assert status["allowed"] is False and status["rule"] == rule


def _forge_audit_event(home, report: dict, key_id: str | None, signature: bytes | None = None):
    """What an insider does without the auditor's key: store a fabricated report where the
    gate reads it and log an ``audit`` event naming it, claiming ``key_id`` signed it."""
    data = json.dumps(report).encode()
    digest = hashlib.sha256(data).hexdigest()
    folder = home.audits_dir / digest[:16]
    folder.mkdir(parents=True)
    (folder / "report.json").write_bytes(data)
    if signature is not None:
        (folder / "report.json.sig").write_bytes(signature)
    Ledger(home).append("mallory", "audit", backend_id=BACKEND, result={
        "audit_id": digest[:16], "report_sha256": digest,
        "created_at": report["provenance"]["created_at"],
        "model_sha256": report["provenance"]["model_sha256"], "input_kind": "dataset",
        "mode": "exhaustive", "key_id": key_id, "gate_passed": True, "gate_rule": None})


@pytest.fixture
def failing_home(home, auditor):
    auditor.register(home, make_report(**UNFAIR))
    _refused(home, "audit-fmr-ratio")
    return home


def test_forged_event_over_an_unsigned_report_grants_nothing(failing_home, auditor):
    report = make_report()
    assert hash_matches_backend(BACKEND, report["provenance"]["model_sha256"])
    _forge_audit_event(failing_home, report, key_id=auditor.key_id)
    _refused(failing_home, "audit-unsigned")


def test_forged_event_with_a_signature_from_an_untrusted_key(failing_home, tmp_path):
    mallory = Auditor(tmp_path / "mallory-key")
    report = make_report()
    staged = tmp_path / "staged" / "report.json"
    staged.parent.mkdir()
    staged.write_bytes(json.dumps(report).encode())
    signature = mallory.sign(staged).read_bytes()
    _forge_audit_event(failing_home, report, key_id=next(iter(
        load_policy(failing_home).bias_gate.trusted_keys())), signature=signature)
    _refused(failing_home, "audit-untrusted-key")


def test_signature_swapped_for_another_reports_is_refused(failing_home, auditor, tmp_path):
    genuine = tmp_path / "other" / "report.json"
    genuine.parent.mkdir()
    genuine.write_bytes(json.dumps(make_report(fmr={"female": 0.0011, "male": 0.001})).encode())
    other_signature = auditor.sign(genuine).read_bytes()
    _forge_audit_event(failing_home, make_report(), key_id=auditor.key_id,
                       signature=other_signature)
    _refused(failing_home, "audit-signature-invalid")


def test_signature_deleted_after_registration_withdraws_the_authority(home, auditor):
    auditor.register(home, make_report())
    _identify(home)  # passes with the genuine signed report
    (sig,) = home.audits_dir.glob("*/report.json.sig")
    sig.unlink()
    _refused(home, "audit-unsigned")
