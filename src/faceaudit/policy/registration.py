"""Registering an audit report: check who signed it and what it is about, then record it.

A report is refused — a ``refused`` event in the ledger and :class:`AuditRefusal` (CLI exit 5,
HTTP 422) — when it is unsigned (unless the policy allows unsigned audits), signed by a key the
policy does not trust, altered after signing, dated in the future or already stale, not an
audit of a model, about another model file than the one this installation runs for the named
backend, or without a usable target at the policy's operating point (for an identification
audit: the policy's FMR, candidate list length and the deployment's threshold). An accepted
report is copied to ``audits/<id>/`` and recorded in an ``audit`` event holding its SHA-256;
the gate reads it only through that event and judges it by recomputing every rule from its
per-group numbers (:mod:`faceaudit.policy.recompute`, :mod:`faceaudit.policy.identification`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from faceaudit.audit.signing import signature_path
from faceaudit.base.home import Home
from faceaudit.engine.models.identity import SHA256_HEX, hash_matches_backend
from faceaudit.ledger import Ledger
from faceaudit.policy.audit_age import check_created
from faceaudit.policy.audits import parse_report, report_sha256, store_report
from faceaudit.policy.errors import AuditRefusal, AuditReportError
from faceaudit.policy.identification import (
    current_gallery_size,
    is_identification,
    judge_identification,
    usable_problem,
)
from faceaudit.policy.model import load_policy
from faceaudit.policy.pad import is_pad
from faceaudit.policy.pad_registration import register_pad_report
from faceaudit.policy.recompute import usable_target_problem
from faceaudit.policy.report_trust import trusted_signer
from faceaudit.policy.worst_group import adopts_worst_group, judge_for_policy

MODEL_INPUT_KINDS = frozenset({"dataset", "lfw", "embeddings"})
MAX_BACKEND_ID = 200


def register_audit(
    home: Home,
    ledger: Ledger,
    report_path: Path,
    actor: str,
    *,
    signature: Path | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Register ``report_path`` with its detached signature (default ``report_path`` +
    ``.sig``, used when present). See :func:`register_audit_bytes` for the result."""
    try:
        data = Path(report_path).read_bytes()
    except OSError as exc:
        raise AuditReportError(f"cannot read {report_path}: {exc.strerror}") from None
    sig_file = Path(signature) if signature is not None else signature_path(report_path)
    try:
        sig = sig_file.read_bytes() if signature is not None or sig_file.is_file() else None
    except OSError as exc:
        raise AuditReportError(f"cannot read signature {sig_file}: {exc.strerror}") from None
    return register_audit_bytes(home, ledger, data, sig, actor, source=str(report_path), now=now)


def register_audit_bytes(
    home: Home,
    ledger: Ledger,
    data: bytes,
    signature: bytes | None,
    actor: str,
    *,
    source: str = "report.json",
    now: datetime | None = None,
) -> dict[str, Any]:
    """Check and register one report given as bytes (and its signature file's bytes).

    Returns ``{"audit_id", "backend_id", "created_at", "report_sha256", "key_id", "path",
    "gate": {"passed", "rule", "detail", "recomputed"}, "seq"}``; ``gate`` is the report judged
    against the current policy from its per-group numbers. Raises :class:`AuditReportError`
    (nothing logged) for a file that is not an audit report at all, :class:`AuditRefusal`
    (logged as ``refused``) for a report that may not count.
    """
    report = parse_report(data, source)
    if is_pad(report):  # a vendor's PAD, registered under its NAME:VERSION
        return register_pad_report(home, ledger, data, report, signature, actor,
                                   source=source, now=now)
    prov = report["provenance"]
    backend = prov["backend_id"]
    if not backend or len(backend) > MAX_BACKEND_ID or not backend.isprintable():
        raise AuditReportError(f"{source}: provenance.backend_id is not a backend name")
    policy = load_policy(home)
    now = now or datetime.now(UTC)
    digest = report_sha256(data)
    try:
        key_id = trusted_signer(policy, data, signature)
        model = _model(prov, backend)
        created = check_created(policy, prov, now, source)
        identification = is_identification(report)
        problem = (usable_problem(report, policy, any_threshold=adopts_worst_group(policy))
                   if identification
                   else usable_target_problem(report, policy.fmr_target))
        if problem is not None:
            raise AuditRefusal("audit-target-missing", problem)
    except AuditRefusal as refusal:
        ledger.append(actor, "refused", backend_id=backend,
                      result={"rule": refusal.rule, "operation": refusal.operation,
                              "detail": refusal.detail[:1000], "report_sha256": digest})
        raise
    verdict = (judge_identification(policy, report, current_gallery_size(home, backend),
                                    any_threshold=adopts_worst_group(policy))
               if identification else judge_for_policy(policy, report))
    path = store_report(home, data, signature)
    event = ledger.append(
        actor,
        "audit",
        backend_id=backend,
        result={
            "audit_id": digest[:16],
            "report_sha256": digest,
            "created_at": created.isoformat(),
            "model_sha256": model,
            "input_kind": prov.get("input_kind"),
            "mode": audit_mode(prov),
            "key_id": key_id,
            "gate_passed": verdict.passed,
            "gate_rule": verdict.rule,
        },
    )
    return {
        "audit_id": digest[:16],
        "backend_id": backend,
        "created_at": created.isoformat(),
        "report_sha256": digest,
        "key_id": key_id,
        "path": str(path),
        "gate": verdict.to_dict(),
        "seq": event["seq"],
    }


def audit_mode(prov: dict[str, Any]) -> str:
    """The audit's mode: how its comparisons were chosen (``provenance.protocol``:
    ``exhaustive``, ``pair-list`` or ``identification``). The newest audit of each mode is
    judged."""
    protocol = prov.get("protocol")
    return protocol[:40] if isinstance(protocol, str) and protocol.isprintable() and protocol \
        else "exhaustive"


def _model(prov: dict[str, Any], backend: str) -> str:
    """The report's model-file hash, checked against this installation's file for ``backend``."""
    kind = prov.get("input_kind")
    if kind not in MODEL_INPUT_KINDS:
        raise AuditRefusal("audit-not-model",
                           f"a {kind!r} audit measures given scores or rates, not a model: it "
                           f"cannot stand for backend {backend}")
    model = prov.get("model_sha256")
    if not isinstance(model, str) or not SHA256_HEX.match(model):
        raise AuditRefusal("audit-model-unknown",
                           "the report does not name the model file it measured "
                           "(provenance.model_sha256)")
    matches = hash_matches_backend(backend, model)
    if matches is None:
        raise AuditRefusal("audit-model-unknown",
                           f"this installation has no model file for backend {backend} to check "
                           "the report's model hash against")
    if not matches:
        raise AuditRefusal("audit-model-mismatch",
                           f"the report measured model file {model[:16]}…, not the file this "
                           f"deployment runs as {backend}")
    return model
