"""Who acts: the name every ledger event records for an operation."""

from __future__ import annotations

import getpass
import os


def default_actor(actor: str | None) -> str:
    """Return ``actor``, else ``$FACEAUDIT_ACTOR``, else the OS user name."""
    return actor or os.environ.get("FACEAUDIT_ACTOR") or getpass.getuser()
