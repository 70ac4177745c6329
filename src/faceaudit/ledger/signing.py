"""Ed25519 keys for signed tree heads and (legacy) checkpoints (``cryptography``).

The private key is the home's own (``home.signing_key_path``, made with the first event) or one
kept outside the home (``FACEAUDIT_SIGNING_KEY`` or an explicit path); the public half is
stored in ``home.public_key_path``.
"""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from faceaudit.ledger.errors import LedgerError

SIGNING_KEY_ENV = "FACEAUDIT_SIGNING_KEY"


def checkpoint_message(covers_seq: int, covers_hash: str) -> bytes:
    """Return the bytes a checkpoint signs: the sequence number and hash of the chain head."""
    return f"faceaudit-ledger-checkpoint:{covers_seq}:{covers_hash}".encode("ascii")


PublicKey = Ed25519PublicKey | ec.EllipticCurvePublicKey


def fingerprint(public_key: PublicKey) -> str:
    """Return a short stable identifier of a public key: the first 16 hex digits of the SHA-256
    of its raw bytes (Ed25519) or of its X9.62 uncompressed point (ECDSA P-256)."""
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        raw = public_key.public_bytes(serialization.Encoding.X962,
                                      serialization.PublicFormat.UncompressedPoint)
    else:
        raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def generate_keypair(private_path: Path, public_path: Path) -> str:
    """Write a new Ed25519 private key (PEM, mode 0600) and its public half; return the fingerprint.

    Refuses to overwrite an existing private key.
    """
    private_path = Path(private_path)
    if private_path.exists():
        raise LedgerError(f"{private_path} already exists; refusing to overwrite a signing key")
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    private_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    write_public_key(key.public_key(), public_path)
    return fingerprint(key.public_key())


def write_public_key(public_key: PublicKey, path: Path) -> None:
    """Write ``public_key`` as PEM to ``path`` (creating its folder)."""
    pem = public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_bytes(pem)


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """Load an Ed25519 private key from a PEM file, raising :class:`LedgerError` if unusable."""
    try:
        key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise LedgerError(f"cannot read signing key {path}: {exc}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise LedgerError(f"{path} is not an Ed25519 private key")
    return key


def load_public_key(path: Path) -> PublicKey:
    """Load an Ed25519 or ECDSA P-256 public key from a PEM file, raising
    :class:`LedgerError` if unusable."""
    try:
        key = serialization.load_pem_public_key(Path(path).read_bytes())
    except (OSError, ValueError) as exc:
        raise LedgerError(f"cannot read public key {path}: {exc}") from None
    if isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1):
        return key
    if not isinstance(key, Ed25519PublicKey):
        raise LedgerError(f"{path} is not an Ed25519 or ECDSA P-256 public key")
    return key


def sign(key: Ed25519PrivateKey, message: bytes) -> str:
    """Return the base64 Ed25519 signature of ``message``."""
    return base64.b64encode(key.sign(message)).decode("ascii")


def signature_valid(public_key: PublicKey, message: bytes, signature: str) -> bool:
    """Return whether ``signature`` (base64) is a valid signature of ``message``: Ed25519, or
    ECDSA over SHA-256 (DER) for a P-256 key — the one check for heads of either algorithm."""
    try:
        raw = base64.b64decode(signature, validate=True)
        if isinstance(public_key, ec.EllipticCurvePublicKey):
            public_key.verify(raw, message, ec.ECDSA(hashes.SHA256()))
        else:
            public_key.verify(raw, message)
    except (InvalidSignature, ValueError):
        return False
    return True
