"""One audit job: run the audit engine on uploaded inputs, write the report, try to register it.

The work is the audit engine's public functions (the same ones ``faceaudit audit`` uses). The
report goes through the same registration as any other
(:func:`faceaudit.policy.register_audit`): the service does not sign, so by default a job's
report is refused (``audit-unsigned``, logged) and the job's result says so; the auditor can
fetch its exact bytes (``GET /v1/audits/{job_id}/report.json``), sign them and register them
with ``POST /v1/audits/register``. Where the policy allows unsigned audits, the report is
registered and its recomputed gate verdict is the only verdict the result shows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from faceaudit.audit import inputs
from faceaudit.audit.engine import AuditSettings
from faceaudit.audit.gate import parse_rule
from faceaudit.audit.report import write_report
from faceaudit.audit.run import audit_embeddings, audit_scores
from faceaudit.base.home import Home
from faceaudit.ledger import Ledger
from faceaudit.policy import AuditRefusal, AuditReportError, register_audit


@dataclass(frozen=True)
class AuditRequest:
    """What to audit: saved input files (relative to the job folder) and the audit settings."""

    embeddings: str | None
    attributes: str | None
    scores: str | None
    by: Sequence[str]
    targets: Sequence[float]
    bootstrap: int
    seed: int
    alpha: float
    fail_if: Sequence[str]


def run_audit_job(home: Home, actor: str, job_dir: Path, request: AuditRequest) -> dict[str, Any]:
    """Run the audit into ``job_dir/out`` and register it; return the job's result summary."""
    settings = AuditSettings(targets=tuple(request.targets), reps=request.bootstrap,
                             seed=request.seed, alpha=request.alpha)
    rules = [parse_rule(rule) for rule in request.fail_if]
    if request.scores is not None:
        report = audit_scores(inputs.read_scores(job_dir / request.scores), settings,
                              input_path=request.scores, rules=rules)
    else:
        assert request.embeddings is not None and request.attributes is not None
        report = audit_embeddings(
            inputs.read_embeddings(job_dir / request.embeddings),
            inputs.read_attributes(job_dir / request.attributes),
            request.by, settings, input_kind="embeddings", input_path=request.embeddings,
            attributes_path=request.attributes, rules=rules,
        )
    out = job_dir / "out"
    write_report(report, out)
    return register_job_report(home, actor, out / "report.json", job_dir.name)


def register_job_report(home: Home, actor: str, report: Path, job_id: str) -> dict[str, Any]:
    """Register a job's report; return ``{"registered": {…, "gate"} | None, "refused":
    {"rule", "detail"} | None}`` — the registration's recomputed verdict is the one truth."""
    ledger = Ledger(home)
    try:
        registered = register_audit(home, ledger, report, actor)
    except AuditRefusal as exc:
        return {"registered": None, "refused": {"rule": exc.rule, "detail": exc.detail}}
    except AuditReportError as exc:  # e.g. a scores table names no backend
        detail = str(exc)[:1000]
        ledger.append(actor, "refused", result={"rule": "audit-not-model",
                                                "operation": "register-audit",
                                                "detail": detail, "job_id": job_id})
        return {"registered": None, "refused": {"rule": "audit-not-model", "detail": detail}}
    registered.pop("path", None)
    return {"registered": registered, "refused": None}
