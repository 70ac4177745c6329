"""Trusting and untrusting an auditor key: a logged policy change, not a hand edit.

``faceaudit policy trust-key PUB`` / ``untrust-key PUB`` rewrite the policy in force with
``bias_gate.trusted_auditor_keys`` changed and install it through
:func:`~faceaudit.policy.enforce.install_policy` (staged, logged as ``policy_change``, then
moved into place), so the change is in the ledger like any other.
"""

from __future__ import annotations

import re
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from faceaudit.audit.signing import KEY_PREFIX, parse_public_key_entry, public_key_entry
from faceaudit.base.home import Home
from faceaudit.ledger import Ledger
from faceaudit.policy.enforce import install_policy
from faceaudit.policy.errors import PolicyError
from faceaudit.policy.model import Policy, load_policy, parse_policy

_KEYS_LINE = re.compile(r"^[ \t]*trusted_auditor_keys[ \t]*=[ \t]*\[[^\]]*\][ \t]*\n?", re.M)
_GATE_HEADER = re.compile(r"^[ \t]*\[bias_gate\][ \t]*(#.*)?\n?", re.M)


def key_entry(key: str) -> str:
    """The ``ed25519:<base64>`` policy entry for ``key``: such an entry itself, or the path of
    an auditor's public key file (``auditor.pub`` from ``faceaudit auditor keygen``).

    Raises :class:`PolicyError` naming the argument when it is neither.
    """
    if key.startswith(KEY_PREFIX):
        try:
            return public_key_entry(parse_public_key_entry(key))
        except ValueError as exc:
            raise PolicyError(f"not an auditor public key: {exc} ({key})") from None
    try:
        data = Path(key).read_bytes()
    except OSError as exc:
        raise PolicyError(f"cannot read public key file {key}: {exc.strerror}") from None
    try:
        public = serialization.load_pem_public_key(data)
    except ValueError:
        public = None
    if not isinstance(public, Ed25519PublicKey):
        raise PolicyError(f"not an Ed25519 public key file: {key} (expected auditor.pub from "
                          "`faceaudit auditor keygen`, or an 'ed25519:<base64>' entry)")
    return public_key_entry(public)


def with_trusted_keys(text: str, keys: list[str]) -> str:
    """``text`` (policy TOML) with ``bias_gate.trusted_auditor_keys`` set to ``keys``; every
    other line is kept as written."""
    text = _KEYS_LINE.sub("", text)
    line = "trusted_auditor_keys = [" + ", ".join(f'"{k}"' for k in keys) + "]\n"
    header = _GATE_HEADER.search(text)
    if header is None:
        return (text if not text or text.endswith("\n") else text + "\n") + "\n[bias_gate]\n" + line
    return text[: header.end()] + ("" if header.group(0).endswith("\n") else "\n") + line + \
        text[header.end():]


def change_trusted_key(home: Home, ledger: Ledger, key: str, actor: str, *,
                       trust: bool) -> Policy:
    """Add (``trust``) or remove ``key`` from the policy's trusted auditor keys and install the
    result as a logged policy change. Raises :class:`PolicyError` for a bad key, and when the
    change would change nothing (already trusted / not trusted)."""
    entry = key_entry(key)
    policy = load_policy(home)
    keys = list(policy.bias_gate.trusted_auditor_keys)
    if trust == (entry in keys):
        raise PolicyError(f"the policy {'already trusts' if trust else 'does not trust'} "
                          f"auditor key {entry} (bias_gate.trusted_auditor_keys)")
    keys = [*keys, entry] if trust else [k for k in keys if k != entry]
    path = home.policy_path
    text = path.read_text(encoding="utf-8") if policy.source != "default" else ""
    new = with_trusted_keys(text, keys)
    parse_policy(new.encode("utf-8"), source=str(path))  # the edit must itself be valid
    draft = path.with_suffix(".toml.edit")
    draft.write_text(new, encoding="utf-8")
    try:
        return install_policy(home, ledger, draft, actor)
    finally:
        draft.unlink(missing_ok=True)
