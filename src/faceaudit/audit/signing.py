"""Auditor keys and detached Ed25519 signatures over audit reports.

An auditor makes a key pair once (``faceaudit auditor keygen``) and signs each ``report.json``
it stands behind (``faceaudit audit … --sign KEY`` or ``faceaudit auditor sign``). The signature
lives beside the report as ``report.json.sig``::

    {"schema": "faceaudit.audit-signature/1", "algorithm": "ed25519", "key_id": "…",
     "report_sha256": "…", "signature": "<base64>"}

It signs ``faceaudit.audit-signature/1\\n`` followed by the report's exact bytes, so changing
one byte of the report (even whitespace) breaks it. A deployment's policy lists the public keys
it trusts (``bias_gate.trusted_auditor_keys``, entries ``ed25519:<base64 raw key>``). The key
id is the ledger's key fingerprint: the first 16 hex digits of SHA-256 of the raw public key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from faceaudit.base.errors import FaceAuditError
from faceaudit.ledger.signing import (
    fingerprint,
    generate_keypair,
    load_private_key,
    load_public_key,
    sign,
    signature_valid,
)

SIGNATURE_SCHEMA = "faceaudit.audit-signature/1"
ALGORITHM = "ed25519"
KEY_PREFIX = "ed25519:"
SIGNATURE_SUFFIX = ".sig"


class AuditSignatureError(FaceAuditError):
    """A signature file or an auditor key cannot be read or used."""

    code = "audit-signature-invalid"
    http_status = 422


@dataclass(frozen=True)
class ReportSignature:
    """A parsed ``report.json.sig``: which key signed, and the base64 signature."""

    key_id: str
    report_sha256: str
    signature: str


def signed_message(report: bytes) -> bytes:
    """The bytes an auditor signs: a domain-separation line, then the report's exact bytes."""
    return SIGNATURE_SCHEMA.encode("ascii") + b"\n" + report


def key_id(public_key: Ed25519PublicKey) -> str:
    """The key id: first 16 hex digits of SHA-256 of the raw public key."""
    return fingerprint(public_key)


def public_key_entry(public_key: Ed25519PublicKey) -> str:
    """The policy's spelling of a trusted key: ``ed25519:<base64 of the 32 raw bytes>``."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return KEY_PREFIX + base64.b64encode(raw).decode("ascii")


def parse_public_key_entry(entry: str) -> Ed25519PublicKey:
    """Parse ``ed25519:<base64>``; raise :class:`ValueError` when it is not such a key."""
    if not isinstance(entry, str) or not entry.startswith(KEY_PREFIX):
        raise ValueError(f"expected '{KEY_PREFIX}<base64 key>'")
    try:
        raw = base64.b64decode(entry[len(KEY_PREFIX):], validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("the key is not base64") from None
    if len(raw) != 32:
        raise ValueError("an Ed25519 public key has 32 bytes")
    return Ed25519PublicKey.from_public_bytes(raw)


def generate_auditor_key(out_dir: Path) -> dict[str, str]:
    """Write ``auditor.key`` (PEM, mode 0600) and ``auditor.pub`` into ``out_dir``.

    Returns ``{"key_id", "private_key", "public_key", "policy_entry"}``; refuses to overwrite an
    existing private key.
    """
    out_dir = Path(out_dir)
    private, public = out_dir / "auditor.key", out_dir / "auditor.pub"
    try:
        kid = generate_keypair(private, public)
    except OSError as exc:
        raise AuditSignatureError(f"cannot write the key into {out_dir}: {exc.strerror}") from None
    public_key = load_public_key(public)
    assert isinstance(public_key, Ed25519PublicKey)  # generate_keypair makes Ed25519 keys
    return {"key_id": kid, "private_key": str(private), "public_key": str(public),
            "policy_entry": public_key_entry(public_key)}


def signature_path(report_path: Path) -> Path:
    """Where a report's detached signature lives: ``report.json.sig`` beside it."""
    report_path = Path(report_path)
    return report_path.with_name(report_path.name + SIGNATURE_SUFFIX)


def load_auditor_key(private_key_path: Path) -> Ed25519PrivateKey:
    """Load an auditor's private key; raise :class:`AuditSignatureError` when unusable."""
    try:
        return load_private_key(Path(private_key_path))
    except FaceAuditError as exc:
        raise AuditSignatureError(str(exc)) from None


def sign_report(report_path: Path, private_key_path: Path) -> Path:
    """Sign ``report_path``'s exact bytes with an auditor key; write and return the ``.sig``."""
    key = load_auditor_key(private_key_path)
    try:
        data = Path(report_path).read_bytes()
    except OSError as exc:
        raise AuditSignatureError(f"cannot read {report_path}: {exc.strerror}") from None
    document = {
        "schema": SIGNATURE_SCHEMA,
        "algorithm": ALGORITHM,
        "key_id": key_id(key.public_key()),
        "report_sha256": hashlib.sha256(data).hexdigest(),
        "signature": sign(key, signed_message(data)),
    }
    path = signature_path(report_path)
    path.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
    return path


def parse_signature(data: bytes) -> ReportSignature:
    """Parse a ``.sig`` file; raise :class:`AuditSignatureError` when it is not one."""
    try:
        doc = json.loads(data)
    except (UnicodeDecodeError, ValueError):
        raise AuditSignatureError("the signature file is not JSON") from None
    if not isinstance(doc, dict) or doc.get("schema") != SIGNATURE_SCHEMA:
        raise AuditSignatureError(f"the signature file is not a {SIGNATURE_SCHEMA} document")
    if doc.get("algorithm") != ALGORITHM:
        raise AuditSignatureError(f"unsupported signature algorithm {doc.get('algorithm')!r}")
    fields = [doc.get(k) for k in ("key_id", "report_sha256", "signature")]
    texts = [f for f in fields if isinstance(f, str) and f]
    if len(texts) < len(fields) or len(texts[0]) > 64:
        raise AuditSignatureError("the signature file lacks key_id, report_sha256 or signature")
    return ReportSignature(*texts)


def signature_holds(report: bytes, signature: ReportSignature, key: Ed25519PublicKey) -> bool:
    """Whether ``signature`` is ``key``'s valid signature of exactly ``report``."""
    return signature_valid(key, signed_message(report), signature.signature)
