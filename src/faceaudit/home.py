"""Where one deployment keeps its state: the ``--home`` directory (``FACEAUDIT_HOME``)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Home:
    """All state of one deployment lives under ``root``.

    The private signing key may live elsewhere (``FACEAUDIT_SIGNING_KEY`` or an explicit path);
    only its public half is kept here.
    """

    root: Path

    @property
    def db_path(self) -> Path:
        """The gallery database (SQLite, WAL mode)."""
        return self.root / "gallery.db"

    @property
    def ledger_path(self) -> Path:
        """The append-only, hash-chained ledger of every operation."""
        return self.root / "ledger.jsonl"

    @property
    def policy_path(self) -> Path:
        """The deployment policy (TOML)."""
        return self.root / "policy.toml"

    @property
    def public_key_path(self) -> Path:
        """The public half of the ledger signing key (Ed25519, PEM)."""
        return self.root / "ledger-signing.pub"

    @property
    def keys_path(self) -> Path:
        """The service's API keys (hashed) and their roles."""
        return self.root / "keys.db"

    @property
    def audits_dir(self) -> Path:
        """Audit reports registered with this deployment (one folder per audit)."""
        return self.root / "audits"

    def ensure(self) -> Home:
        """Create the directory (mode 0700) if missing and return self."""
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        return self


def cache_dir() -> Path:
    """faceaudit's cache (ONNX conversions, embeddings): ``$FACEAUDIT_CACHE`` or the user cache."""
    from platformdirs import user_cache_dir

    return Path(os.environ.get("FACEAUDIT_CACHE") or user_cache_dir("faceaudit"))


def resolve_home(path: str | Path | None = None) -> Home:
    """Return the deployment home: ``path``, else ``$FACEAUDIT_HOME``, else ``~/.faceaudit``."""
    if path is None:
        path = os.environ.get("FACEAUDIT_HOME") or Path.home() / ".faceaudit"
    return Home(Path(path).expanduser().resolve())
