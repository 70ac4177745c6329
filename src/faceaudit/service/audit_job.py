"""One audit job: run the audit engine on uploaded inputs, write the report, try to register it.

The work is the audit dispatcher's (:mod:`faceaudit.audit.dispatch`: which inputs, which mode,
which audit), the same that ``faceaudit audit`` uses. The report goes through the same
registration as any other (:func:`faceaudit.policy.register_audit`): the service does not sign,
so by default a job's report is refused (``audit-unsigned``, logged) and the job's result says
so; the auditor can fetch its exact bytes (``GET /v1/audits/{job_id}/report.json``), sign them
and register them with ``POST /v1/audits/register``. Where the policy allows unsigned audits,
the report is registered and its recomputed gate verdict is the only verdict the result shows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from faceaudit.audit.dispatch import AuditRequest, run_audit
from faceaudit.audit.report import write_report
from faceaudit.base.home import Home
from faceaudit.ledger import Ledger
from faceaudit.policy import AuditRefusal, AuditReportError, register_audit


@dataclass(frozen=True)
class AuditJob:
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
    operating_points: bool = False  # the worst-group threshold grid
    pad_scores: str | None = None  # a PAD scores table (faceaudit audit --pad-scores)
    higher_is_attack: bool = False
    pad_system: str | None = None  # the PAD system measured, NAME:VERSION

    def request(self, job_dir: Path) -> AuditRequest:
        """The audit dispatcher's request: inputs read under ``job_dir``, recorded as saved."""
        return AuditRequest(
            root=job_dir,
            embeddings=None if self.embeddings is None else [Path(self.embeddings)],
            attributes=None if self.attributes is None else Path(self.attributes),
            scores=None if self.scores is None else [Path(self.scores)],
            by=list(self.by), fmr=list(self.targets), bootstrap=self.bootstrap, seed=self.seed,
            alpha=self.alpha, fail_if=list(self.fail_if),
            operating_points=self.operating_points,
            pad_scores=None if self.pad_scores is None else Path(self.pad_scores),
            higher_is_attack=self.higher_is_attack, pad_system=self.pad_system,
        )


def run_audit_job(home: Home, actor: str, job_dir: Path, request: AuditJob) -> dict[str, Any]:
    """Run the audit into ``job_dir/out`` and register it; return the job's result summary."""
    report = run_audit(request.request(job_dir))
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
