"""The bias gate for identification: a deployment may require a 1:N audit, judged at its own
threshold and a gallery at least as large as the one enrolled now, with FPIR and FNIR per probe
group recomputed from the report's counts — never from its stated ratios."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import numpy as np
import pytest
from audit_evidence import make_identification_report, make_report, write_report

from faceaudit.audit.engine import AuditSettings
from faceaudit.audit.identification_run import audit_identification
from faceaudit.audit.inputs import Attributes, Embeddings
from faceaudit.engine.models.identity import backend_model_sha256
from faceaudit.gallery.store import Consent, NewTemplate, open_gallery_store
from faceaudit.ledger import Ledger
from faceaudit.ledger.genesis import init_home
from faceaudit.policy import (
    AuditRefusal,
    PolicyRefusal,
    enforce,
    load_policy,
    policy_status,
    register_audit,
)

BACKEND = "dlib-resnet:1"
REQUIRE = "require_identification_audit = true\n"


def _operate(home, operation="identify"):
    enforce(load_policy(home), Ledger(home), home, operation=operation, actor="alice",
            purpose="theft", case="C-1", backend_id=BACKEND)


def _refused(home, rule, operation="identify"):
    with pytest.raises(PolicyRefusal) as info:
        _operate(home, operation)
    assert info.value.rule == rule, info.value
    return info.value


def _register(home, auditor, tmp_path, report, name, signed=True):
    path = write_report(tmp_path / name / "report.json", report)
    if signed:
        auditor.sign(path)
    return register_audit(home, Ledger(home), path, "auditor")


def _enrol(home, n):
    store = open_gallery_store(home)
    now = datetime.now(UTC)
    for i in range(n):
        store.enrol(f"s-{i}", display_name=None,
                    consent=Consent("explicit-consent", "form", now), backend_id=BACKEND,
                    templates=[NewTemplate(np.eye(128, dtype=np.float32)[i % 128])], images=[],
                    now=now)


@pytest.fixture
def home(tmp_path, database_url):
    """Every gate test on both state backends: the gallery size the gate judges at is read
    from the home's own gallery (SQLite file or PostgreSQL)."""
    return init_home(tmp_path / "home", database_url=database_url)


@pytest.fixture
def one_to_one(home, auditor, tmp_path):
    """A passing 1:1 audit, registered: without an identification requirement identify runs."""
    _register(home, auditor, tmp_path, make_report(), "one-to-one")


def test_required_identification_audit_absent_refuses_identify_not_verify(home, auditor,
                                                                          tmp_path, one_to_one):
    _operate(home)  # not required: the 1:1 audit suffices
    assert "No identification (1:N) audit" in policy_status(home, BACKEND)["sentence"]
    auditor.trust(home, REQUIRE)
    _refused(home, "no-identification-audit")
    _operate(home, "verify")  # verification is judged on 1:1 audits only


def test_passing_identification_audit_allows_and_status_names_it(home, auditor, tmp_path,
                                                                 one_to_one):
    auditor.trust(home, REQUIRE)
    result = _register(home, auditor, tmp_path, make_identification_report(), "ident")
    assert result["gate"]["passed"] is True
    assert result["gate"]["recomputed"]["fpir_ratio"] == pytest.approx(1.2)
    assert result["gate"]["recomputed"]["gallery_size"] == 2000
    _operate(home)
    status = policy_status(home, BACKEND)
    assert status["allowed"] and status["identification_audit_id"] == result["audit_id"]
    assert result["audit_id"] in status["sentence"] and "2,000 subjects" in status["sentence"]


def test_unfair_fpir_refuses_identify_even_when_not_required(home, auditor, tmp_path,
                                                            one_to_one):
    report = make_identification_report(fpir={"female": (300, 1000), "male": (100, 1000)})
    result = _register(home, auditor, tmp_path, report, "ident")
    assert result["gate"]["rule"] == "audit-fpir-ratio"
    refusal = _refused(home, "audit-fpir-ratio")
    assert "fpir_ratio 3" in refusal.detail
    _operate(home, "verify")


def test_unfair_fnir_refuses(home, auditor, tmp_path, one_to_one):
    report = make_identification_report(fnir={"female": (90, 1000), "male": (20, 1000)})
    _register(home, auditor, tmp_path, report, "ident")
    _refused(home, "audit-fnir-ratio")


def test_edited_ratio_and_values_are_recomputed_from_the_counts(home, auditor, tmp_path,
                                                                one_to_one):
    auditor.trust(home, "allow_unsigned_audits = true\n")
    report = make_identification_report(fpir={"female": (300, 1000), "male": (100, 1000)})
    point = report["identification"]["operating_points"][0]
    point["summaries"]["fpir_ratio"]["value"] = 1.1
    point["groups"][0]["fpir"]["value"] = 0.11  # the stated rate, not its counts
    report["gate"]["passed"] = True
    result = _register(home, auditor, tmp_path, report, "edited", signed=False)
    assert result["gate"]["rule"] == "audit-fpir-ratio"
    assert result["gate"]["recomputed"]["fpir_ratio"] == pytest.approx(3.0)
    _refused(home, "audit-fpir-ratio")


def test_signed_report_with_an_edited_ratio_is_refused(home, auditor, tmp_path, one_to_one):
    path = write_report(tmp_path / "r" / "report.json", make_identification_report(
        fpir={"female": (300, 1000), "male": (100, 1000)}))
    auditor.sign(path)
    report = json.loads(path.read_text())
    report["identification"]["operating_points"][0]["groups"][0]["fpir"]["errors"] = 110
    path.write_text(json.dumps(report, indent=1))
    with pytest.raises(AuditRefusal) as info:
        register_audit(home, Ledger(home), path, "mallory")
    assert info.value.rule == "audit-signature-invalid"


def test_gallery_larger_than_audited_refuses_then_a_measured_size_counts(home, auditor,
                                                                          tmp_path, one_to_one):
    # FPIR is fair at 3 subjects but not at the audited 8
    report = make_identification_report(
        gallery_size=8, fpir={"female": (300, 1000), "male": (100, 1000)},
        sizes={3: {"female": (110, 1000), "male": (100, 1000)}})
    _register(home, auditor, tmp_path, report, "ident")
    _enrol(home, 2)
    _operate(home)  # judged at 3 subjects, the smallest measured size >= 2
    _enrol(home, 5)
    _refused(home, "audit-fpir-ratio")  # 5 subjects now: judged at the audited 8
    _enrol(home, 9)
    refusal = _refused(home, "audit-gallery-too-small")
    assert "at most 8" in refusal.detail and "holds 9" in refusal.detail


@pytest.mark.parametrize("change", [
    {"target_fmr": 0.01}, {"candidates": 5}, {"threshold": 0.5},
])
def test_other_operating_point_is_refused_at_registration(home, auditor, tmp_path, one_to_one,
                                                          change):
    path = write_report(tmp_path / "r" / "report.json", make_identification_report(**change))
    auditor.sign(path)
    with pytest.raises(AuditRefusal) as info:
        register_audit(home, Ledger(home), path, "auditor")
    assert info.value.rule == "audit-target-missing"


def test_own_identification_rule_is_recomputed(home, auditor, tmp_path, one_to_one):
    rule = {"expression": "fnir_ratio>1.05", "metric": "fnir_ratio", "op": ">", "limit": 1.05,
            "target_fmr": 0.001, "status": "pass"}
    result = _register(home, auditor, tmp_path, make_identification_report(rules=[rule]),
                       "ident")
    assert result["gate"]["rule"] == "audit-gate-failed"
    assert "fnir_ratio 1.1" in result["gate"]["detail"]


def test_a_report_the_audit_writes_is_judged_by_the_gate(home, auditor, tmp_path, one_to_one):
    """End to end: the identification report faceaudit audit writes registers and is judged."""
    rng = np.random.default_rng(0)
    n = 120
    ident = np.repeat(np.arange(n), 3)
    centres = rng.standard_normal((n, 128))
    emb = centres[ident] + 0.3 * rng.standard_normal((len(ident), 128))
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    emb = Embeddings(paths=[f"p{i}/{k}.jpg" for k, i in enumerate(ident)],
                     identities=[f"p{i}" for i in ident], matrix=emb.astype(np.float32),
                     backend_id=BACKEND, no_face_paths=[],
                     model_sha256=backend_model_sha256(BACKEND))
    attrs = Attributes("identity", {f"p{i}": {"sex": "female" if i % 2 else "male"}
                                    for i in range(n)}, ["sex"])
    report = audit_identification(emb, attrs, ["sex"], AuditSettings(targets=[1e-3], reps=50),
                                  candidates=10, repeats=3, gallery_templates="one",
                                  gallery_sizes=[], input_kind="embeddings", input_path="e")
    result = _register(home, auditor, tmp_path, report, "real")
    # the report measures the deployment's own threshold, so it is judged, not refused; its
    # identities are far apart: no search returns anyone, FPIR is 0 for both groups and the
    # ratio cannot be estimated, which the gate refuses rather than reads as fair
    assert result["gate"]["rule"] == "audit-fpir-ratio"
    assert "could not be estimated" in result["gate"]["detail"]
    fnir = [g["fnir"]["value"] for g in report["identification"]["operating_points"][0]["groups"]]
    assert result["gate"]["recomputed"]["fnir_ratio"] == pytest.approx(max(fnir) / min(fnir))
    assert result["gate"]["recomputed"]["gallery_size"] == 60


@pytest.mark.parametrize("line", [
    'require_identification_audit = "yes"', "max_fpir_ratio = 0.5", "max_fnir_ratio = true",
])
def test_identification_keys_are_validated(line):
    from faceaudit.policy import PolicyError
    from faceaudit.policy.model import parse_policy

    with pytest.raises(PolicyError):
        parse_policy(f"[bias_gate]\n{line}\n".encode(), source="p.toml")


def test_policy_show_lists_the_identification_gate(home, auditor):
    auditor.trust(home, REQUIRE + "max_fpir_ratio = 1.5\n")
    shown = load_policy(home).to_dict()["bias_gate"]
    assert shown["require_identification_audit"] is True and shown["max_fpir_ratio"] == 1.5
    assert shown["max_fnir_ratio"] == 2.0
