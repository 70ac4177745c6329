"""Audit reports registered with a deployment: ``home.audits_dir/<audit_id>/report.json``."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from faceaudit.home import Home
from faceaudit.policy.errors import AuditReportError

REPORT_SCHEMA = "faceaudit.audit/2"
READABLE_SCHEMAS = ("faceaudit.audit/1", REPORT_SCHEMA)


@dataclass(frozen=True)
class AuditRecord:
    """One registered audit: its id, backend, creation time and parsed report."""

    audit_id: str
    backend_id: str
    created_at: datetime
    path: Path
    report: dict[str, Any]


def parse_report(data: bytes, source: str) -> dict[str, Any]:
    """Parse ``report.json`` bytes and check the fields the bias gate relies on."""
    try:
        report = json.loads(data)
    except (UnicodeDecodeError, ValueError):
        raise AuditReportError(f"{source}: not a JSON document") from None
    if not isinstance(report, dict) or report.get("schema") not in READABLE_SCHEMAS:
        raise AuditReportError(f"{source}: not a {REPORT_SCHEMA} report")
    prov = report.get("provenance")
    if not isinstance(prov, dict) or not isinstance(prov.get("backend_id"), str):
        raise AuditReportError(
            f"{source}: the report names no backend (provenance.backend_id); only audits of an "
            "embedding backend can be registered"
        )
    _created_at(prov.get("created_at"), source)
    if not isinstance(report.get("groups"), list) or not isinstance(report.get("targets"), list):
        raise AuditReportError(f"{source}: the report has no groups/targets")
    for target in report["targets"]:
        if not isinstance(target, dict) or not isinstance(target.get("summaries"), dict):
            raise AuditReportError(f"{source}: malformed targets entry")
    return report


def _created_at(value: Any, source: str) -> datetime:
    try:
        when = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise AuditReportError(f"{source}: provenance.created_at is not an ISO-8601 time") from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def store_report(home: Home, report_path: Path) -> AuditRecord:
    """Validate ``report_path`` and copy it to ``audits_dir/<id>/report.json`` (id = content
    hash, so registering the same report twice keeps one copy)."""
    try:
        data = Path(report_path).read_bytes()
    except OSError as exc:
        raise AuditReportError(f"cannot read {report_path}: {exc.strerror}") from None
    report = parse_report(data, str(report_path))
    audit_id = hashlib.sha256(data).hexdigest()[:16]
    dest = home.ensure().audits_dir / audit_id / "report.json"
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_suffix(".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, dest)
    return _record(audit_id, dest, report)


def _record(audit_id: str, path: Path, report: dict[str, Any]) -> AuditRecord:
    prov = report["provenance"]
    return AuditRecord(
        audit_id, prov["backend_id"], _created_at(prov["created_at"], str(path)), path, report
    )


def list_audits(home: Home, backend_id: str | None = None) -> list[AuditRecord]:
    """Return the registered audits (of ``backend_id`` if given), newest first.

    Unreadable or malformed reports in the folder are skipped: they can never pass the gate.
    """
    records = []
    if home.audits_dir.is_dir():
        for path in sorted(home.audits_dir.glob("*/report.json")):
            try:
                record = _record(path.parent.name, path, parse_report(path.read_bytes(), str(path)))
            except (OSError, AuditReportError):
                continue
            if backend_id is None or record.backend_id == backend_id:
                records.append(record)
    return sorted(records, key=lambda r: r.created_at, reverse=True)
