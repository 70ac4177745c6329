"""A ledger signer whose private key lives in a PKCS#11 token (an HSM, a cloud KMS's PKCS#11
module, SoftHSM2 in tests): the key is generated on the token, marked sensitive and not
extractable, so whoever holds the deployment home — and every file in it — cannot copy it.

Configured by the environment (docs/ledger.md, "Signing keys"):

- ``FACEAUDIT_PKCS11_MODULE``: path of the token's PKCS#11 library (e.g.
  ``/usr/lib/softhsm/libsofthsm2.so``);
- ``FACEAUDIT_PKCS11_TOKEN``: the token's label;
- ``FACEAUDIT_PKCS11_PIN``: the user PIN (give it through the service manager's secret store);
- ``FACEAUDIT_PKCS11_KEY``: the label of the key pair (default ``faceaudit-ledger``).

Ed25519 (``CKM_EDDSA``) where the token supports it, else ECDSA P-256 (``CKM_ECDSA`` over a
SHA-256 digest, the raw ``r || s`` re-encoded as DER) — both verified by the same code as file
keys (:func:`faceaudit.ledger.signing.signature_valid`). The library is loaded and the session
opened once per process, lazily; signing is serialised (one PKCS#11 session is not shared
between threads at once).
"""

from __future__ import annotations

import hashlib
import os
import threading
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from faceaudit.ledger.errors import LedgerError

MODULE_ENV = "FACEAUDIT_PKCS11_MODULE"
TOKEN_ENV = "FACEAUDIT_PKCS11_TOKEN"
PIN_ENV = "FACEAUDIT_PKCS11_PIN"
KEY_ENV = "FACEAUDIT_PKCS11_KEY"
DEFAULT_KEY_LABEL = "faceaudit-ledger"

ED25519_OID = "1.3.101.112"
P256_OID = "1.2.840.10045.3.1.7"


class Pkcs11SignerError(LedgerError):
    """The PKCS#11 token cannot be used: library, token, PIN or key missing or unusable."""

    code = "ledger-pkcs11"
    http_status = 503
    exit_code = 4


@dataclass(frozen=True)
class TokenSettings:
    """Where the signing key is: library path, token label, user PIN and key label."""

    module: str
    token: str
    pin: str
    key_label: str = DEFAULT_KEY_LABEL

    @classmethod
    def from_env(cls) -> TokenSettings:
        """Read the settings from ``FACEAUDIT_PKCS11_*``, naming the first one missing."""
        values = {name: os.environ.get(name, "") for name in (MODULE_ENV, TOKEN_ENV, PIN_ENV)}
        missing = [name for name, value in values.items() if not value]
        if missing:
            raise Pkcs11SignerError(
                f"a PKCS#11 signer needs {', '.join(missing)} (docs/ledger.md, 'Signing keys')")
        return cls(values[MODULE_ENV], values[TOKEN_ENV], values[PIN_ENV],
                   os.environ.get(KEY_ENV) or DEFAULT_KEY_LABEL)


def _pkcs11() -> Any:
    try:
        import pkcs11
    except ImportError:
        raise Pkcs11SignerError(
            "PKCS#11 signing needs python-pkcs11: pip install 'faceaudit[hsm]'") from None
    return pkcs11


_SESSIONS: dict[tuple[str, str, str], Any] = {}
_SIGNERS: dict[TokenSettings, Pkcs11Signer] = {}
_LOCK = threading.RLock()


def _session(settings: TokenSettings) -> Any:
    """The process's logged-in read-write session on the configured token, opened once (a
    PKCS#11 login holds for the whole process, so a second login would be refused)."""
    pkcs11 = _pkcs11()
    key = (settings.module, settings.token, settings.pin)
    with _LOCK:
        session = _SESSIONS.get(key)
        if session is not None:
            return session
        try:
            token = pkcs11.lib(settings.module).get_token(token_label=settings.token)
            session = _SESSIONS[key] = token.open(user_pin=settings.pin, rw=True)
        except pkcs11.exceptions.NoSuchToken:
            raise Pkcs11SignerError(f"no PKCS#11 token labelled {settings.token!r}") from None
        except pkcs11.exceptions.PinIncorrect:
            raise Pkcs11SignerError(f"the PIN for token {settings.token!r} is wrong") from None
        except (pkcs11.exceptions.PKCS11Error, RuntimeError, OSError) as exc:
            raise Pkcs11SignerError(
                f"cannot open PKCS#11 token {settings.token!r} with {settings.module}: "
                f"{type(exc).__name__} {exc}") from None
        return session


class Pkcs11Signer:
    """Signs tree heads with a private key that never leaves a PKCS#11 token."""

    kind = "pkcs11"
    insider_proof = True

    def __init__(self, settings: TokenSettings) -> None:
        pkcs11 = _pkcs11()
        self.settings = settings
        self._session = _session(settings)
        try:
            self._private = self._session.get_key(object_class=pkcs11.ObjectClass.PRIVATE_KEY,
                                                  label=settings.key_label)
            public = self._session.get_key(object_class=pkcs11.ObjectClass.PUBLIC_KEY,
                                           label=settings.key_label)
        except (pkcs11.exceptions.NoSuchKey, pkcs11.exceptions.MultipleObjectsReturned):
            raise Pkcs11SignerError(
                f"token {settings.token!r} holds no single key pair labelled "
                f"{settings.key_label!r}; create it with `faceaudit ledger keygen --pkcs11`"
            ) from None
        self.algorithm, self._public = _public_key(public)

    @classmethod
    def from_env(cls) -> Pkcs11Signer:
        """The process's signer for the token the environment names (opened once)."""
        settings = TokenSettings.from_env()
        with _LOCK:
            signer = _SIGNERS.get(settings)
            if signer is None:
                signer = _SIGNERS[settings] = cls(settings)
            return signer

    def public_key(self) -> Any:
        """The key pair's public half, as a ``cryptography`` public key."""
        return self._public

    def sign(self, message: bytes) -> bytes:
        """The signature of ``message``: raw Ed25519 (64 bytes) or DER-encoded ECDSA."""
        pkcs11 = _pkcs11()
        from pkcs11.util.ec import encode_ecdsa_signature

        try:
            with _LOCK:
                if self.algorithm == "ed25519":
                    return bytes(self._private.sign(message, mechanism=pkcs11.Mechanism.EDDSA))
                digest = hashlib.sha256(message).digest()
                raw = self._private.sign(digest, mechanism=pkcs11.Mechanism.ECDSA)
        except pkcs11.exceptions.PKCS11Error as exc:
            raise Pkcs11SignerError(
                f"token {self.settings.token!r} refused to sign: {type(exc).__name__}") from None
        return bytes(encode_ecdsa_signature(raw))

    def describe(self) -> str:
        """Which token and key sign; a token key cannot be copied from the home."""
        return (f"PKCS#11 token {self.settings.token!r} key {self.settings.key_label!r} "
                f"({self.algorithm}, insider-proof: not extractable from the token)")


def _public_key(public: Any) -> tuple[str, Any]:
    """The algorithm name and the ``cryptography`` public key of a token's public key object."""
    pkcs11 = _pkcs11()
    from asn1crypto.core import OctetString
    from pkcs11.util.ec import encode_ec_public_key

    if public.key_type == pkcs11.KeyType.EC_EDWARDS:
        point = OctetString.load(public[pkcs11.Attribute.EC_POINT]).native
        return "ed25519", Ed25519PublicKey.from_public_bytes(point)
    if public.key_type == pkcs11.KeyType.EC:
        key = serialization.load_der_public_key(encode_ec_public_key(public))
        curve = getattr(key, "curve", None)
        if curve is not None and curve.name == "secp256r1":
            return "ecdsa-p256", key
    raise Pkcs11SignerError(
        f"the token's key is {public.key_type.name}; faceaudit signs with Ed25519 or ECDSA P-256")


def generate_token_key(settings: TokenSettings) -> Any:
    """Generate the deployment's key pair on the token (Ed25519 where the token offers it, else
    ECDSA P-256), sensitive and not extractable; return its public half. Refused when a key
    with that label already exists (replacing it would orphan every head signed with it)."""
    pkcs11 = _pkcs11()
    from pkcs11.util.ec import encode_named_curve_parameters

    session = _session(settings)
    with _LOCK:
        existing = list(session.get_objects({pkcs11.Attribute.LABEL: settings.key_label}))
        if existing:
            raise Pkcs11SignerError(
                f"token {settings.token!r} already holds a key labelled {settings.key_label!r}")
        mechanisms = set(session.token.slot.get_mechanisms())
        template = {pkcs11.Attribute.SENSITIVE: True, pkcs11.Attribute.EXTRACTABLE: False}
        if pkcs11.Mechanism.EC_EDWARDS_KEY_PAIR_GEN in mechanisms:
            key_type, oid = pkcs11.KeyType.EC_EDWARDS, ED25519_OID
            mechanism = pkcs11.Mechanism.EC_EDWARDS_KEY_PAIR_GEN
        else:
            key_type, oid = pkcs11.KeyType.EC, P256_OID
            mechanism = pkcs11.Mechanism.EC_KEY_PAIR_GEN
        try:
            params = session.create_domain_parameters(
                key_type, {pkcs11.Attribute.EC_PARAMS: encode_named_curve_parameters(oid)},
                local=True)
            public, _private = params.generate_keypair(
                store=True, label=settings.key_label, mechanism=mechanism,
                private_template=template)
        except pkcs11.exceptions.PKCS11Error as exc:
            raise Pkcs11SignerError(
                f"token {settings.token!r} could not generate a key: {type(exc).__name__}"
            ) from None
        return _public_key(public)[1]
