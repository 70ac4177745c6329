"""One audit job: run the audit engine on uploaded inputs, write the report, register it.

The work is the audit engine's public functions (the same ones ``faceaudit audit`` uses); a
report that names its embedding backend is registered with the deployment
(:func:`faceaudit.policy.register_audit`, which logs the ``audit`` event and makes the report
count for the bias gate); any other report (a scores table names no backend) is logged as an
``audit`` event with ``registered: false``.
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
from faceaudit.home import Home
from faceaudit.ledger import Ledger
from faceaudit.policy import register_audit


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
    ledger = Ledger(home)
    if isinstance(report["provenance"].get("backend_id"), str):
        registered = register_audit(home, ledger, out / "report.json", actor)
        registered.pop("path", None)
    else:
        ledger.append(actor, "audit", result={"job_id": job_dir.name, "registered": False})
        registered = None
    return {"gate_passed": report["gate"]["passed"], "registered": registered}
