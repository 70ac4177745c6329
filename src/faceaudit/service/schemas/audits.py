"""Responses of ``/v1/audits``: jobs, reports, registration."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from faceaudit.service.schemas.common import Open


class AuditJob(Open):
    """An audit job: queued, running, done or failed."""

    job_id: str
    status: str = Field(description="queued, running, done or failed.")
    actor: str
    created_at: str
    started_at: str | None = None
    finished_at: str | None = None
    result: dict[str, Any] | None = Field(default=None, description="When done: "
                                          "{registered, refused}.")
    error: dict[str, Any] | None = Field(default=None, description="When failed: "
                                         "{code, detail}.")
    report: dict[str, Any] | None = Field(default=None, description="When done: report.json "
                                          "(docs/report-schema.md).")


class AuditReport(Open):
    """An audit's ``report.json`` (schema ``faceaudit.audit/2``, docs/report-schema.md)."""

    schema_: str = Field(alias="schema", description="faceaudit.audit/2")
    provenance: dict[str, Any]
    groups: list[str]
    targets: list[dict[str, Any]]
    gate: dict[str, Any]
    warnings: list[str]


class GateVerdict(Open):
    """How the bias gate judges a registered audit, its ratios recomputed."""

    passed: bool
    rule: str | None
    detail: str | None
    recomputed: dict[str, Any]


class Registration(Open):
    """A signed audit report registered with the deployment."""

    audit_id: str
    backend_id: str | None = Field(description="The backend a model audit measured; null for "
                                   "a PAD audit.")
    pad_system: str | None = Field(default=None, description="A PAD audit: the PAD system "
                                   "(NAME:VERSION) it measured and is registered under.")
    created_at: str
    report_sha256: str
    key_id: str | None
    gate: GateVerdict
    seq: int
