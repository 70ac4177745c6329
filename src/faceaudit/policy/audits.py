"""Audit reports as the deployment knows them: through ``audit`` events in the ledger.

Registration (:mod:`faceaudit.policy.registration`) copies a report to
``home.audits_dir/<audit_id>/report.json`` and logs an ``audit`` event holding the SHA-256 of
those bytes. The gate reads audits only through those events: a file dropped into ``audits/``
without an event is never seen, and a stored copy whose bytes no longer hash to the recorded
value is refused (:class:`AuditRecordError`).
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from faceaudit.base.home import Home
from faceaudit.ledger import Ledger, LedgerError
from faceaudit.policy.errors import AuditReportError

REPORT_SCHEMA = "faceaudit.audit/2"
READABLE_SCHEMAS = ("faceaudit.audit/1", REPORT_SCHEMA)
REPORT_SCHEMAS = READABLE_SCHEMAS


class AuditRecordError(LedgerError):
    """A registered audit's stored copy is missing or differs from its ledger record."""

    code = "audit-record-mismatch"


@dataclass(frozen=True)
class AuditEvent:
    """One ``audit`` event: what was registered, when, and the hash of the stored bytes."""

    seq: int
    registered_at: datetime
    actor: str
    backend_id: str
    audit_id: str
    report_sha256: str
    created_at: datetime
    model_sha256: str | None
    key_id: str | None
    mode: str = "exhaustive"
    pad_system: str | None = None  # a PAD audit's NAME:VERSION (backend_id is then "")


@dataclass(frozen=True)
class AuditRecord:
    """A registered audit whose stored copy matched its ledger event when it was read."""

    audit_id: str
    backend_id: str
    created_at: datetime
    path: Path
    report: dict[str, Any]
    event: AuditEvent | None = None
    data: bytes = b""


def parse_time(value: Any, source: str) -> datetime:
    """Parse an ISO-8601 time (naive = UTC); raise :class:`AuditReportError` if it is not one."""
    try:
        when = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise AuditReportError(f"{source}: provenance.created_at is not an ISO-8601 time") from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def parse_report(data: bytes, source: str) -> dict[str, Any]:
    """Parse ``report.json`` bytes; check it is a faceaudit audit report with a provenance
    naming a backend and a creation time, and a list of targets."""
    try:
        report = json.loads(data)
    except (UnicodeDecodeError, ValueError):
        raise AuditReportError(f"{source}: not a JSON document") from None
    if not isinstance(report, dict) or report.get("schema") not in REPORT_SCHEMAS:
        raise AuditReportError(f"{source}: not a {' or '.join(REPORT_SCHEMAS)} report")
    prov = report.get("provenance")
    pad = isinstance(prov, dict) and prov.get("input_kind") == "pad"  # names a PAD system
    if not isinstance(prov, dict) or not (pad or isinstance(prov.get("backend_id"), str)):
        raise AuditReportError(
            f"{source}: the report names no backend (provenance.backend_id); only audits of an "
            "embedding backend can be registered"
        )
    parse_time(prov.get("created_at"), source)
    if not isinstance(report.get("targets"), list):
        raise AuditReportError(f"{source}: the report has no targets")
    return report


def report_sha256(data: bytes) -> str:
    """SHA-256 hex of a report's bytes; its first 16 digits are the audit id."""
    return hashlib.sha256(data).hexdigest()


def store_report(home: Home, data: bytes, signature: bytes | None) -> Path:
    """Write ``data`` (and its signature) to ``audits_dir/<id>/``; return the report path."""
    audit_id = report_sha256(data)[:16]
    dest = home.ensure().audits_dir / audit_id / "report.json"
    dest.parent.mkdir(parents=True, exist_ok=True)
    for path, content in ((dest, data), (dest.with_name("report.json.sig"), signature)):
        if content is None:
            continue
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(content)
        os.replace(tmp, path)
    return dest


def event_from_ledger(event: dict[str, Any]) -> AuditEvent | None:
    """The :class:`AuditEvent` of a ledger ``audit`` event, or None for one that registered
    nothing (older events without a report hash never count)."""
    result = event.get("result") or {}
    digest, audit_id = result.get("report_sha256"), result.get("audit_id")
    pad = result.get("pad_system") if result.get("mode") == "pad" else None
    if not (isinstance(digest, str) and isinstance(audit_id, str)
            and (isinstance(event.get("backend_id"), str) or isinstance(pad, str))):
        return None
    try:
        created = parse_time(result.get("created_at"), "ledger")
        registered = parse_time(event.get("time"), "ledger")
    except AuditReportError:
        return None
    key = result.get("key_id")
    model = result.get("model_sha256")
    mode = result.get("mode")
    return AuditEvent(
        seq=int(event.get("seq", 0)), registered_at=registered, actor=str(event.get("actor")),
        backend_id=event.get("backend_id") or "", audit_id=audit_id, report_sha256=digest,
        created_at=created, model_sha256=model if isinstance(model, str) else None,
        key_id=key if isinstance(key, str) else None,
        mode=mode if isinstance(mode, str) and mode else "exhaustive",
        pad_system=pad if isinstance(pad, str) else None,
    )


class _AuditIndex:
    """The ``audit`` events of one ledger file, read incrementally (appends only add lines)."""

    def __init__(self) -> None:
        self.inode: int | None = None
        self.offset = 0
        self.events: list[AuditEvent] = []

    def refresh(self, path: Path) -> list[AuditEvent]:
        try:
            fh = open(path, "rb")
        except FileNotFoundError:
            self.inode, self.offset, self.events = None, 0, []
            return []
        with fh:
            stat = os.fstat(fh.fileno())
            if stat.st_ino != self.inode or stat.st_size < self.offset:
                self.inode, self.offset, self.events = stat.st_ino, 0, []
            fh.seek(self.offset)
            chunk = fh.read()
        end = chunk.rfind(b"\n") + 1  # an interrupted final append is not an event
        for line in chunk[:end].splitlines():
            if b'"action":"audit"' not in line:
                continue
            try:
                event = json.loads(line)
            except ValueError:
                raise LedgerError(f"{path}: a malformed audit event") from None
            parsed = event_from_ledger(event) if isinstance(event, dict) else None
            if parsed is not None:
                self.events.append(parsed)
        self.offset += end
        return list(self.events)


def _audit_events(lines: Iterable[bytes]) -> list[AuditEvent]:
    """The registrations among ``lines`` (each an ``audit`` event's line)."""
    events = []
    for line in lines:
        try:
            event = json.loads(line)
        except ValueError:
            raise LedgerError("a malformed audit event in the ledger") from None
        parsed = event_from_ledger(event) if isinstance(event, dict) else None
        if parsed is not None:
            events.append(parsed)
    return events


_indexes: dict[str, _AuditIndex] = {}
_index_lock = threading.Lock()


def registered_audits(ledger: Ledger, backend_id: str | None = None) -> list[AuditEvent]:
    """The ledger's audit registrations of a model (of ``backend_id`` if given), newest
    evidence first: by the report's ``created_at``, then by registration order. PAD audits
    are not among them (:func:`registered_pad_audits`).

    The ledger is read incrementally and cached per process, so the cost per call is the new
    events only. Raises :class:`LedgerError` for an unreadable audit event.
    """
    chosen = [e for e in _all_audits(ledger) if e.pad_system is None
              and (backend_id is None or e.backend_id == backend_id)]
    return sorted(chosen, key=lambda e: (e.created_at, e.seq), reverse=True)


def registered_pad_audits(ledger: Ledger, pad_system: str | None = None) -> list[AuditEvent]:
    """The ledger's PAD audit registrations (of ``pad_system`` if given), newest evidence
    first, as :func:`registered_audits`."""
    chosen = [e for e in _all_audits(ledger) if e.pad_system is not None
              and (pad_system is None or e.pad_system == pad_system)]
    return sorted(chosen, key=lambda e: (e.created_at, e.seq), reverse=True)


def _all_audits(ledger: Ledger) -> list[AuditEvent]:
    """Every registration in the ledger, in ledger order."""
    if ledger.home.database_url_in_force():  # PostgreSQL: the lines, with the same filter
        return _audit_events(line for line in ledger.log.lines()
                             if b'"action":"audit"' in line)
    with _index_lock:
        index = _indexes.setdefault(str(ledger.path), _AuditIndex())
        return index.refresh(ledger.path)


def load_registered(home: Home, event: AuditEvent) -> AuditRecord:
    """Read the stored copy of a registered audit and check it against its ledger event.

    Raises :class:`AuditRecordError` when the copy is missing, edited or replaced.
    """
    path = home.audits_dir / event.audit_id / "report.json"
    try:
        data = path.read_bytes()
    except OSError:
        raise AuditRecordError(
            f"the stored copy of audit {event.audit_id} is missing ({path})"
        ) from None
    if report_sha256(data) != event.report_sha256:
        raise AuditRecordError(
            f"the stored copy of audit {event.audit_id} differs from the one registered in "
            f"ledger event {event.seq} (SHA-256 mismatch)"
        )
    report = _parsed(event.report_sha256, data, str(path))
    return AuditRecord(event.audit_id, event.backend_id, event.created_at, path, report, event,
                       data)


def stored_signature(report_path: Path) -> bytes | None:
    """The bytes of the detached signature stored beside a registered report, or None."""
    try:
        return report_path.with_name("report.json.sig").read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise AuditRecordError(f"cannot read the signature of {report_path}: {exc.strerror}") \
            from None


_parsed_cache: dict[str, dict[str, Any]] = {}


def _parsed(digest: str, data: bytes, source: str) -> dict[str, Any]:
    report = _parsed_cache.get(digest)
    if report is None:
        report = parse_report(data, source)
        if len(_parsed_cache) >= 16:
            _parsed_cache.pop(next(iter(_parsed_cache)))
        _parsed_cache[digest] = report
    return report


def list_audits(home: Home, backend_id: str | None = None) -> list[AuditRecord]:
    """The registered audits (of ``backend_id`` if given), newest evidence first, read through
    their ledger events; a stored copy that fails its hash check is left out."""
    records = []
    for event in registered_audits(Ledger(home), backend_id):
        try:
            records.append(load_registered(home, event))
        except (AuditRecordError, AuditReportError):
            continue
    return records


def list_pad_audits(home: Home) -> list[AuditRecord]:
    """The registered PAD audits, newest evidence first, as :func:`list_audits`."""
    records = []
    for event in registered_pad_audits(Ledger(home)):
        try:
            records.append(load_registered(home, event))
        except (AuditRecordError, AuditReportError):
            continue
    return records
