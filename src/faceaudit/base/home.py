"""Where one deployment keeps its state: the ``--home`` directory (``FACEAUDIT_HOME``)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from faceaudit.base.errors import FaceAuditError

HOME_MARKER = "faceaudit-home.json"
HOME_FORMAT = "faceaudit.home/1"
DATABASE_URL_ENV = "FACEAUDIT_DATABASE_URL"


class HomeMissingError(FaceAuditError):
    """The deployment home does not exist; only ``faceaudit init`` creates one."""

    code = "home-missing"
    http_status = 500


@dataclass(frozen=True)
class Home:
    """All state of one deployment lives under ``root``.

    The private signing key lives here (``signing_key_path``, created with the first event)
    unless one outside the home is configured (``FACEAUDIT_SIGNING_KEY`` or an explicit path);
    see docs/ledger.md for what a stolen key allows.
    """

    root: Path
    #: an explicit PostgreSQL URL (``--database-url``); see :meth:`database_url_in_force`
    database_url: str | None = None

    def database_url_in_force(self) -> str | None:
        """The PostgreSQL URL that holds this deployment's gallery and ledger, or None for the
        embedded SQLite/file home: ``database_url`` (``--database-url``), else
        ``$FACEAUDIT_DATABASE_URL``, else ``database_url`` in the home's config (the marker
        file ``faceaudit init --database-url`` writes)."""
        url = self.database_url or os.environ.get(DATABASE_URL_ENV)
        if not url:
            try:
                url = json.loads(self.marker_path.read_text()).get("database_url")
            except (OSError, ValueError, AttributeError):
                url = None
        return url or None

    @property
    def db_path(self) -> Path:
        """The gallery database (SQLite, WAL mode)."""
        return self.root / "gallery.db"

    @property
    def index_path(self) -> Path:
        """The gallery's saved FAISS HNSW search graph (large galleries only; rebuilt from the
        database whenever it does not match it)."""
        return self.root / "gallery.hnsw"

    @property
    def ledger_path(self) -> Path:
        """The append-only, hash-chained ledger of every operation."""
        return self.root / "ledger.jsonl"

    @property
    def policy_path(self) -> Path:
        """The deployment policy (TOML)."""
        return self.root / "policy.toml"

    def policy_archive_path(self, sha256: str) -> Path:
        """Where the text of every policy ever installed is kept, under its SHA-256 (the hash
        its ``policy_change`` event records): the evidence of what was in force when."""
        return self.root / "policies" / f"{sha256}.toml"

    @property
    def public_key_path(self) -> Path:
        """The public half of the ledger signing key (Ed25519, PEM)."""
        return self.root / "ledger-signing.pub"

    @property
    def signing_key_path(self) -> Path:
        """The deployment's own signing key (Ed25519, PEM, mode 0600), used for signed tree
        heads when no key outside the home is configured (``FACEAUDIT_SIGNING_KEY``)."""
        return self.root / "ledger-signing.key"

    @property
    def keys_path(self) -> Path:
        """The service's API keys (hashed) and their roles."""
        return self.root / "keys.db"

    @property
    def audits_dir(self) -> Path:
        """Audit reports registered with this deployment (one folder per audit)."""
        return self.root / "audits"

    @property
    def marker_path(self) -> Path:
        """The file ``faceaudit init`` writes: what makes a folder a deployment home."""
        return self.root / HOME_MARKER

    def is_initialised(self) -> bool:
        """True when ``faceaudit init`` made this home (or it holds a ledger from before init)."""
        return self.marker_path.is_file() or self.ledger_path.is_file()

    def require(self) -> Home:
        """Return self if the home exists, else raise :class:`HomeMissingError` naming the path.

        Every operation calls this instead of creating the home, so a mistyped ``--home``
        never starts a new deployment with an empty ledger.
        """
        if not self.is_initialised():
            raise HomeMissingError(
                f"no deployment home at {self.root}; create one with "
                f"`faceaudit init --home {self.root}`"
            )
        return self

    def ensure(self) -> Home:
        """Create the directory (mode 0700) if missing and return self (a low-level helper:
        it does not make a deployment home — :func:`init_home` does)."""
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        return self


def read_marker(home: Home) -> dict | None:
    """The home's config (its marker file), or None when there is none yet."""
    try:
        marker = json.loads(home.marker_path.read_text())
    except FileNotFoundError:
        return None
    except ValueError:
        return {"format": HOME_FORMAT}
    return marker if isinstance(marker, dict) else {"format": HOME_FORMAT}


def cache_dir() -> Path:
    """faceaudit's cache (ONNX conversions, embeddings): ``$FACEAUDIT_CACHE`` or the user cache."""
    from platformdirs import user_cache_dir

    return Path(os.environ.get("FACEAUDIT_CACHE") or user_cache_dir("faceaudit"))


def resolve_home(path: str | Path | None = None) -> Home:
    """Return the deployment home: ``path``, else ``$FACEAUDIT_HOME``, else ``~/.faceaudit``."""
    if path is None:
        path = os.environ.get("FACEAUDIT_HOME") or Path.home() / ".faceaudit"
    return Home(Path(path).expanduser().resolve())
