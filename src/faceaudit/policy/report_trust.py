"""Who signed an audit report, judged against the policy's trusted auditor keys.

One rule, used twice: when a report is registered (:mod:`faceaudit.policy.registration`) and
again at every gate evaluation (:mod:`faceaudit.policy.gate`), because an ``audit`` event in
the ledger proves only that *something* was registered; the authority to identify comes from
the auditor's signature over the stored bytes, re-checked each time it is used. Verdicts are
cached per (report SHA-256, signature bytes, trusted key set, unsigned allowed), never per event.
"""

from __future__ import annotations

import hashlib

from faceaudit.audit.signing import AuditSignatureError, parse_signature, signature_holds
from faceaudit.policy.errors import AuditRefusal
from faceaudit.policy.model import Policy

_CACHE_SIZE = 64
_verdicts: dict[tuple[str, str, frozenset[str], bool], str | None | AuditRefusal] = {}


def trusted_signer(policy: Policy, data: bytes, signature: bytes | None) -> str | None:
    """Return the trusted key id whose signature covers ``data``; None for an unsigned report
    the policy allows. Raises :class:`AuditRefusal` (rule ``audit-unsigned``,
    ``audit-signature-invalid`` or ``audit-untrusted-key``) otherwise."""
    gate = policy.bias_gate
    cache_key = (hashlib.sha256(data).hexdigest(),
                 hashlib.sha256(signature).hexdigest() if signature is not None else "",
                 frozenset(gate.trusted_auditor_keys), gate.allow_unsigned_audits)
    if cache_key not in _verdicts:
        try:
            verdict: str | None | AuditRefusal = _judge(policy, data, signature)
        except AuditRefusal as refusal:
            verdict = refusal
        if len(_verdicts) >= _CACHE_SIZE:
            _verdicts.pop(next(iter(_verdicts)))
        _verdicts[cache_key] = verdict
    verdict = _verdicts[cache_key]
    if isinstance(verdict, AuditRefusal):
        raise AuditRefusal(verdict.rule, verdict.detail)
    return verdict


def _judge(policy: Policy, data: bytes, signature: bytes | None) -> str | None:
    if signature is None:
        if policy.bias_gate.allow_unsigned_audits:
            return None
        raise AuditRefusal("audit-unsigned",
                           "the report is not signed, and the policy accepts only signed audits "
                           "(faceaudit audit … --sign KEY; bias_gate.trusted_auditor_keys)")
    try:
        sig = parse_signature(signature)
    except AuditSignatureError as exc:
        raise AuditRefusal("audit-signature-invalid", str(exc)) from None
    key = policy.bias_gate.trusted_keys().get(sig.key_id)
    if key is None:
        raise AuditRefusal("audit-untrusted-key",
                           f"the report is signed by key {sig.key_id}, which the policy does not "
                           "list in bias_gate.trusted_auditor_keys")
    if sig.report_sha256 != hashlib.sha256(data).hexdigest() \
            or not signature_holds(data, sig, key):
        raise AuditRefusal("audit-signature-invalid",
                           f"the signature of key {sig.key_id} does not match these bytes: the "
                           "report was altered after signing")
    return sig.key_id
