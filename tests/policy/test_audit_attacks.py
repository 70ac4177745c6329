"""Each way an insider could fool the bias gate, performed and refused or detected.

The gate must not trust a report's conclusions (summaries, ``gate.passed``), its labels
(backend name, date) or the file lying in ``audits/``: it recomputes every rule from the
per-group numbers, registers only signed reports of the deployed model file, and reads audits
only through their ledger events.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from audit_evidence import Auditor, make_report, write_report

from faceaudit.ledger import Ledger
from faceaudit.policy import (
    AuditRefusal,
    PolicyRefusal,
    enforce,
    load_policy,
    policy_status,
    register_audit,
)

BACKEND = "dlib-resnet:1"
# NIST-style finding: one group's FMR 3.44 times another's.
UNFAIR = {"fmr": {"female": 0.00344, "male": 0.001}}


def _identify(home, now=None):
    enforce(load_policy(home), Ledger(home), home, operation="identify", actor="alice",
            purpose="theft", case="C-1", backend_id=BACKEND, now=now)


def _refused_identify(home, rule, now=None):
    with pytest.raises(PolicyRefusal) as info:
        _identify(home, now)
    assert info.value.rule == rule, info.value
    return info.value


def _refused_registration(home, path, rule, **kwargs):
    stored_before = sorted(home.audits_dir.glob("*/report.json")) if home.audits_dir.exists() \
        else []
    with pytest.raises(AuditRefusal) as info:
        register_audit(home, Ledger(home), path, "mallory", **kwargs)
    assert info.value.rule == rule, info.value
    assert info.value.code == "audit-refused" and info.value.http_status == 422
    last = list(Ledger(home).events())[-1]
    assert last["action"] == "refused" and last["actor"] == "mallory"
    assert last["result"]["rule"] == rule
    assert last["result"]["operation"] == "register-audit"
    after = sorted(home.audits_dir.glob("*/report.json")) if home.audits_dir.exists() else []
    assert after == stored_before  # nothing stored
    assert not [e for e in Ledger(home).events()
                if e["action"] == "audit" and e["actor"] == "mallory"]
    return info.value


def _edit(path, change):
    report = json.loads(path.read_text())
    change(report)
    path.write_text(json.dumps(report, indent=1))


def test_hand_edited_summary_is_recomputed_from_the_per_group_rates(home, report_factory,
                                                                    auditor):
    # Even where the policy accepts unsigned audits, an edited summary does not pass.
    auditor.trust(home, "allow_unsigned_audits = true\n")
    path = report_factory(signed=False, **UNFAIR)

    def flatter(report):
        report["targets"][0]["summaries"]["fmr_ratio"]["value"] = 1.5
        report["gate"]["passed"] = True

    _edit(path, flatter)
    result = register_audit(home, Ledger(home), path, "mallory")
    assert result["gate"]["passed"] is False
    assert result["gate"]["rule"] == "audit-fmr-ratio"
    assert result["gate"]["recomputed"]["fmr_ratio"] == pytest.approx(3.44)
    refusal = _refused_identify(home, "audit-fmr-ratio")
    assert "3.44" in refusal.detail


def test_edit_after_signing_is_refused(home, report_factory):
    path = report_factory(**UNFAIR)
    _edit(path, lambda r: r["targets"][0]["groups"][0]["fmr"].update(value=0.0012))
    _refused_registration(home, path, "audit-signature-invalid")
    _refused_identify(home, "no-audit")


def test_even_whitespace_changes_break_the_signature(home, report_factory):
    path = report_factory()
    path.write_bytes(path.read_bytes() + b"\n")
    _refused_registration(home, path, "audit-signature-invalid")


def test_unsigned_report_is_refused_by_default(home, report_factory):
    assert load_policy(home).bias_gate.allow_unsigned_audits is False
    _refused_registration(home, report_factory(signed=False), "audit-unsigned")


def test_report_signed_by_an_untrusted_key_is_refused(home, tmp_path, report_factory):
    stranger = Auditor(tmp_path / "stranger")
    path = report_factory(signed=False)
    stranger.sign(path)
    refusal = _refused_registration(home, path, "audit-untrusted-key")
    assert stranger.key_id in refusal.detail


def test_garbage_signature_file_is_refused(home, report_factory):
    path = report_factory(signed=False)
    path.with_name("report.json.sig").write_text("not a signature")
    _refused_registration(home, path, "audit-signature-invalid")


def test_key_removed_from_the_policy_revokes_its_audits(home, tmp_path, report_factory):
    register_audit(home, Ledger(home), report_factory(), "auditor")
    _identify(home)
    Auditor(tmp_path / "other").trust(home)  # a new policy that no longer lists the key
    _refused_identify(home, "audit-untrusted-key")


def test_scores_audit_relabelled_as_a_model_is_refused(home, report_factory):
    path = report_factory(input_kind="scores", model_sha256=None)
    _refused_registration(home, path, "audit-not-model")


def test_report_about_another_model_file_is_refused(home, report_factory):
    # An audit of some ONNX file, relabelled as the deployed backend (signed: the auditor
    # measured that file; only the label lies).
    other = "ab" * 32
    _refused_registration(home, report_factory(model_sha256=other), "audit-model-mismatch")
    _refused_registration(home, report_factory(model_sha256=None), "audit-model-unknown")
    _refused_registration(home, report_factory(backend_id="vendor-x:3"), "audit-model-unknown")


def test_onnx_backend_name_and_hash_must_agree(home, report_factory):
    model = "c0ffee" * 10 + "abcd"
    _refused_registration(home, report_factory(backend_id="onnx:000000000000",
                                               model_sha256=model), "audit-model-mismatch")
    result = register_audit(home, Ledger(home),
                            report_factory(backend_id=f"onnx:{model[:12]}", model_sha256=model),
                            "auditor")
    assert result["backend_id"] == f"onnx:{model[:12]}"


def test_report_dated_in_the_future_is_refused(home, report_factory):
    path = report_factory(created_at=datetime(2099, 1, 1, tzinfo=UTC))
    _refused_registration(home, path, "audit-future")
    # a few seconds of clock skew between auditor and deployment are fine
    register_audit(home, Ledger(home),
                   report_factory(created_at=datetime.now(UTC) + timedelta(seconds=90)),
                   "auditor")


def test_already_stale_report_is_refused(home, report_factory):
    path = report_factory(created_at=datetime(2020, 1, 1, tzinfo=UTC))
    refusal = _refused_registration(home, path, "audit-stale")
    assert "365" in refusal.detail


@pytest.mark.parametrize("change", [
    lambda r: r.update(targets=[]),
    lambda r: r["targets"][0].update(target_fmr=0.01),
    lambda r: r["targets"][0].update(groups=r["targets"][0]["groups"][:1]),
    lambda r: [g.update(impostor_pairs=100) for g in r["targets"][0]["groups"]],
])
def test_report_without_a_usable_target_is_refused(home, auditor, report_factory, change):
    path = report_factory(signed=False)
    _edit(path, change)
    auditor.sign(path)
    _refused_registration(home, path, "audit-target-missing")


def test_stored_copy_edited_in_place_is_detected(home, report_factory):
    result = register_audit(home, Ledger(home), report_factory(**UNFAIR), "auditor")
    _refused_identify(home, "audit-fmr-ratio")
    stored = home.audits_dir / result["audit_id"] / "report.json"
    # make the stored copy pass: equal per-group rates
    _edit(stored, lambda r: r["targets"][0]["groups"][0]["fmr"].update(value=0.001))
    refusal = _refused_identify(home, "audit-record-mismatch")
    assert f"ledger event {result['seq']}" in refusal.detail
    stored.unlink()
    _refused_identify(home, "audit-record-mismatch")


def test_report_dropped_into_the_audits_folder_counts_for_nothing(home, auditor):
    dropped = write_report(home.ensure().audits_dir / "0123456789abcdef" / "report.json",
                           make_report())
    auditor.sign(dropped)
    _refused_identify(home, "no-audit")
    assert "no registered audit" in policy_status(home, BACKEND)["sentence"]


def test_passing_then_failing_registration_revokes_at_once(home, report_factory):
    register_audit(home, Ledger(home), report_factory(), "auditor")
    _identify(home)
    register_audit(home, Ledger(home), report_factory(**UNFAIR), "auditor")
    _refused_identify(home, "audit-fmr-ratio")
    status = policy_status(home, BACKEND)
    assert status["allowed"] is False and status["rule"] == "audit-fmr-ratio"


def test_newest_audit_expiring_revokes_even_if_an_older_one_passed(home, report_factory):
    now = datetime.now(UTC)
    register_audit(home, Ledger(home), report_factory(created_at=now - timedelta(days=1)),
                   "auditor")
    _identify(home, now=now + timedelta(days=300))
    _refused_identify(home, "stale-audit", now=now + timedelta(days=400))


def test_tightened_policy_applies_to_registered_audits_at_once(home, auditor, report_factory):
    register_audit(home, Ledger(home), report_factory(fmr={"female": 0.0018, "male": 0.001}),
                   "auditor")
    _identify(home)
    auditor.trust(home, "max_fmr_ratio = 1.5\n")
    _refused_identify(home, "audit-fmr-ratio")


def test_policy_rejects_a_malformed_trusted_key():
    from faceaudit.policy import PolicyError, parse_policy

    for entry in ("'ssh-ed25519 AAAA'", "'ed25519:not-base64!'", "'ed25519:AAAA'"):
        with pytest.raises(PolicyError, match="trusted_auditor_keys"):
            parse_policy(f"[bias_gate]\ntrusted_auditor_keys = [{entry}]\n".encode(),
                         source="t")
    with pytest.raises(PolicyError, match="allow_unsigned_audits"):
        parse_policy(b"[bias_gate]\nallow_unsigned_audits = 'yes'\n", source="t")
    policy = parse_policy(b"", source="t")
    assert policy.bias_gate.allow_unsigned_audits is False
    assert replace(policy.bias_gate).trusted_auditor_keys == ()


def test_swapping_the_model_file_after_registration_revokes(home, report_factory, tmp_path,
                                                            monkeypatch):
    register_audit(home, Ledger(home), report_factory(), "auditor")
    _identify(home)
    from faceaudit.engine.models import files

    swapped = tmp_path / "dlib_face_recognition_resnet_model_v1.dat"
    swapped.write_bytes(b"a different network")
    monkeypatch.setattr(files, "dlib_model_path", lambda name: swapped)
    refusal = _refused_identify(home, "audit-model-mismatch")
    assert "other than the one deployed" in refusal.detail


@pytest.mark.parametrize("change", [
    lambda r: r["targets"][0].update(groups=5),
    lambda r: r["targets"][0].update(groups={"female": 1}),
    lambda r: r["targets"][0]["groups"][0].update(fmr="0.001", impostor_pairs=True),
    lambda r: r["gate"].update(rules=7),
    lambda r: r.update(targets=[None, 3, "x"]),
])
def test_malformed_per_group_data_is_refused_or_fails_never_crashes(home, auditor,
                                                                      report_factory, change):
    path = report_factory(signed=False)
    _edit(path, change)
    auditor.sign(path)
    try:
        result = register_audit(home, Ledger(home), path, "auditor")
    except AuditRefusal as refusal:
        assert refusal.rule == "audit-target-missing"
    else:
        assert result["gate"]["passed"] is False
        _refused_identify(home, "audit-gate-failed")


def test_a_passing_audit_of_another_mode_cannot_bury_a_failing_one(home, report_factory):
    now = datetime.now(UTC)
    register_audit(home, Ledger(home),
                   report_factory(created_at=now - timedelta(days=2), **UNFAIR), "auditor")
    _refused_identify(home, "audit-fmr-ratio")
    # a newer, passing audit over a hand-picked pair list does not override the exhaustive one
    register_audit(home, Ledger(home),
                   report_factory(created_at=now - timedelta(days=1), protocol="pair-list"),
                   "auditor")
    _refused_identify(home, "audit-fmr-ratio")
    # a newer exhaustive audit does
    register_audit(home, Ledger(home), report_factory(created_at=now), "auditor")
    _identify(home)
    # and a failing pair-list audit revokes again
    register_audit(home, Ledger(home), report_factory(protocol="pair-list", **UNFAIR), "auditor")
    _refused_identify(home, "audit-fmr-ratio")


def test_an_expired_mode_does_not_block_a_fresh_passing_one(home, report_factory):
    now = datetime.now(UTC)
    register_audit(home, Ledger(home), report_factory(created_at=now - timedelta(days=300)),
                   "auditor")
    register_audit(home, Ledger(home),
                   report_factory(created_at=now - timedelta(days=10), protocol="pair-list"),
                   "auditor")
    _identify(home, now=now + timedelta(days=100))  # exhaustive expired, pair-list fresh
    _refused_identify(home, "stale-audit", now=now + timedelta(days=400))
