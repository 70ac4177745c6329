"""A disclosure bundle for one case (issue 23): what a defence expert needs to check, offline,
what the system did in a case — every search of the case (those without candidates too), the
stored candidate lists with rank and score, every review decision, action and outcome, the
authorisations, the audit each search relied on (its report) and the policy text in force —
each event with its receipt (inclusion proof under a signed tree head), so
:mod:`faceaudit.deployment.case_verify` can check it with nothing but the deployment's public
key. Nothing about other cases; candidates appear by their pseudonymous subject ids, never their
display names. The export is itself a logged event (``case_export``) recording what it holds.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from faceaudit import __version__
from faceaudit.base.errors import FaceAuditError
from faceaudit.base.home import Home
from faceaudit.engine.models.identity import backend_model_sha256
from faceaudit.ledger import Ledger

FORMAT = "faceaudit-case/1"


class UnknownCaseError(FaceAuditError):
    """No event in the ledger names this case: there is nothing to disclose (and nothing is
    logged, so a mistyped case id leaves no empty export behind)."""

    code = "unknown-case"
    http_status = 404


def case_is_known(ledger: Ledger, case: str) -> bool:
    """Whether any recorded event (not a bare intent) names ``case``."""
    return any(e.get("case") == case and e["action"] != "intent" for e in ledger.events())


def _case_events(ledger: Ledger, case: str) -> list[dict[str, Any]]:
    return [e for e in ledger.events() if e.get("case") == case and e["action"] != "intent"]


def _context_events(ledger: Ledger, searches: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The audit events the case's searches relied on, and the policy changes in force while
    they ran (the latest before the first search, and every one until the last)."""
    if not searches:
        return []
    wanted = set()
    for search in searches:
        gate = (search.get("result") or {}).get("gate")
        if isinstance(gate, dict) and isinstance(gate.get("audit_seq"), int):
            wanted.add(gate["audit_seq"])
    first, last = min(s["seq"] for s in searches), max(s["seq"] for s in searches)
    out, before = [], None
    for event in ledger.events():
        if event["seq"] in wanted:
            out.append(event)
        if event["action"] == "policy_change":
            if event["seq"] < first:
                before = event
            elif event["seq"] < last:
                out.append(event)
    return out + ([before] if before is not None else [])


def build_case_bundle(home: Home, ledger: Ledger, store: Any, case: str,
                      results: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The bundle of ``case`` (JSON-ready): ``results`` are the stored results of the case's
    searches by result id (already checked against the record by the caller)."""
    events = _case_events(ledger, case)
    searches = [e for e in events if e["action"] == "identify"]
    context = _context_events(ledger, searches)
    policies = {}
    for event in context:
        if event["action"] == "policy_change":
            sha = (event.get("result") or {}).get("sha256")
            path = home.policy_archive_path(sha) if sha else None
            if path is not None and path.exists():
                policies[sha] = path.read_text(encoding="utf-8")
    audits = {}
    for event in context:
        if event["action"] == "audit":
            result = event.get("result") or {}
            path = home.audits_dir / str(result.get("audit_id")) / "report.json"
            if path.exists():
                audits[str(result.get("report_sha256"))] = path.read_text(encoding="utf-8")
    backends = sorted({e["backend_id"] for e in searches if e.get("backend_id")})
    return {
        "format": FORMAT,
        "case": case,
        "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "system": {"name": "faceaudit", "version": __version__,
                   "backends": {b: backend_model_sha256(b) for b in backends}},
        "public_key_pem": home.public_key_path.read_text(encoding="ascii")
        if home.public_key_path.exists() else None,
        "events": [{"event": e, "receipt": ledger.receipt(e["seq"])}
                   for e in sorted([*events, *context], key=lambda e: e["seq"])],
        "results": results,
        "policies": policies,
        "audits": audits,
    }


def bundle_digest(events: list[dict[str, Any]]) -> str:
    """What the ``case_export`` event records of a bundle: the SHA-256 of its events' hashes
    in ledger order (:mod:`faceaudit.deployment.case_verify` recomputes it)."""
    hashes = ",".join(e["hash"] for e in sorted(events, key=lambda e: e["seq"]))
    return hashlib.sha256(hashes.encode("ascii")).hexdigest()
