"""Who signs the ledger's tree heads: the :class:`Signer` protocol, the file key
(:class:`FileSigner`) and :func:`resolve_signer`, which picks the deployment's signer.

A PKCS#11 token (``FACEAUDIT_PKCS11_MODULE``, :mod:`faceaudit.ledger.pkcs11_signer`) is the
production setting: its key cannot be copied by whoever holds the home. A file key — kept
outside the home (``FACEAUDIT_SIGNING_KEY``) or the home's own ``ledger-signing.key`` — works
everywhere; one inside the home is marked as not insider-proof. With no signer at all the
ledger refuses to append (:class:`~faceaudit.ledger.errors.LedgerNoSignerError`).
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import Any, Protocol

from faceaudit.base.errors import FaceAuditError
from faceaudit.base.home import Home
from faceaudit.ledger.signing import (
    SIGNING_KEY_ENV,
    fingerprint,
    load_private_key,
    load_public_key,
)

PKCS11_MODULE_ENV = "FACEAUDIT_PKCS11_MODULE"

#: how to give a process a signer, for error messages
HOW_TO_CONFIGURE = (
    f"set {PKCS11_MODULE_ENV} (with FACEAUDIT_PKCS11_TOKEN, FACEAUDIT_PKCS11_PIN and "
    f"FACEAUDIT_PKCS11_KEY) for a PKCS#11 token, or {SIGNING_KEY_ENV} to the path of the "
    "deployment's Ed25519 private key (docs/ledger.md, 'Signing keys')")


class Signer(Protocol):
    """Signs tree heads for one deployment."""

    kind: str  # "file" or "pkcs11"
    algorithm: str  # "ed25519" or "ecdsa-p256"
    insider_proof: bool  # False for a file key kept in the home; True for a PKCS#11 token

    def public_key(self) -> Any:
        """The public half (cryptography Ed25519PublicKey or SECP256R1 EllipticCurvePublicKey)."""
        ...

    def sign(self, message: bytes) -> bytes:
        """Raw signature bytes of ``message`` (Ed25519: 64 bytes; ECDSA: DER)."""
        ...

    def describe(self) -> str:
        """One line naming the key and whether it is insider-proof."""
        ...


class FileSigner:
    """An Ed25519 private key in a PEM file; ``in_home`` when the file lies inside the
    deployment home (readable by the insider the record binds: not insider-proof)."""

    kind = "file"
    algorithm = "ed25519"

    def __init__(self, path: Path, in_home: bool) -> None:
        self.path = Path(path)
        self.in_home = in_home
        self.insider_proof = False
        self._key = load_private_key(self.path)

    def public_key(self) -> Any:
        """The key's public half."""
        return self._key.public_key()

    def sign(self, message: bytes) -> bytes:
        """The raw 64-byte Ed25519 signature of ``message``."""
        return self._key.sign(message)

    def describe(self) -> str:
        """Where the key is, and that a file key is not insider-proof."""
        where = "in the home" if self.in_home else "outside the home"
        return (f"Ed25519 file key {self.path} ({where}: NOT insider-proof — a file can be "
                "copied by whoever can read it; use a PKCS#11 token)")


def resolve_signer(home: Home, key_path: Path | None = None) -> Signer | None:
    """The signer of ``home``'s ledger: a PKCS#11 token when ``FACEAUDIT_PKCS11_MODULE`` is
    set; else the file key ``key_path``, ``$FACEAUDIT_SIGNING_KEY`` or the home's own key file
    when present; else None (and then the ledger refuses to append)."""
    if os.environ.get(PKCS11_MODULE_ENV):
        # imported lazily, so that python-pkcs11 stays optional
        module = importlib.import_module("faceaudit.ledger.pkcs11_signer")
        signer: Signer = module.Pkcs11Signer.from_env()
        return signer
    env = os.environ.get(SIGNING_KEY_ENV)
    path = key_path or (Path(env) if env else None)
    if path is None:
        own = home.signing_key_path
        if not own.exists():
            return None
        path = own
    path = Path(path).expanduser()
    return FileSigner(path, in_home=_inside(path, home.root))


def _inside(path: Path, root: Path) -> bool:
    try:
        return path.resolve().is_relative_to(root.resolve())
    except OSError:
        return False


def signer_summary(home: Home) -> dict[str, Any]:
    """Which kind of key signs ``home``'s tree heads, for ``policy status``, the auditor page
    and the oversight report: ``{"kind", "algorithm", "key_id", "insider_proof",
    "description"}``. ``kind`` is ``pkcs11`` (a token: insider-proof), ``file`` (a key file
    outside the home), ``file-in-home`` (a private key inside the home: whoever holds the home
    can sign heads, so not insider-proof whatever else signs), ``none`` (this process has no
    signer and may not append) or ``unusable`` (configured but failing)."""
    public = home.public_key_path
    key_id = fingerprint(load_public_key(public)) if public.exists() else None
    if home.signing_key_path.exists():
        return {"kind": "file-in-home", "algorithm": "ed25519", "key_id": key_id,
                "insider_proof": False,
                "description": (f"a private key file inside the home ({home.signing_key_path}): "
                                "whoever holds the home's files can sign tree heads — NOT "
                                "insider-proof; use a PKCS#11 token (docs/ledger.md)")}
    try:
        signer = resolve_signer(home)
    except FaceAuditError as exc:
        return {"kind": "unusable", "algorithm": None, "key_id": key_id, "insider_proof": False,
                "description": f"the configured signer cannot be used: {exc}"}
    if signer is None:
        return {"kind": "none", "algorithm": None, "key_id": key_id, "insider_proof": False,
                "description": ("this process holds no signing key, so it may not append; "
                                f"{HOW_TO_CONFIGURE}")}
    return {"kind": signer.kind, "algorithm": signer.algorithm,
            "key_id": fingerprint(signer.public_key()), "insider_proof": signer.insider_proof,
            "description": signer.describe()}
