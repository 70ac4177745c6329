"""The ledger's genesis: the only way a deployment home comes to be (``faceaudit init``).

A home is a folder with its marker file and a ledger whose first event is ``init``; an
initialised home never has an empty ledger, so a deleted one shows. The marker and the folder are
the base layer's (:mod:`faceaudit.base.home`); the genesis event is the ledger's, so it is written
here.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

from faceaudit.base.home import HOME_FORMAT, Home, read_marker
from faceaudit.ledger.store import Ledger


def init_home(path: str | Path | Home, database_url: str | None = None) -> Home:
    """Create the deployment home at ``path`` (mode 0700) with its marker file and the
    ledger's genesis ``init`` event (which makes the home's signing key and first signed tree
    head); idempotent.

    The only function that makes a home; ``faceaudit init``, the tests and the service harness
    call it. ``database_url`` (a ``postgresql://`` URL) is kept in the home's config, so every
    later command on this home uses PostgreSQL for the gallery and the ledger.
    """
    home = path if isinstance(path, Home) else Home(Path(path).expanduser().resolve())
    if database_url:
        home = Home(home.root, database_url)
    home.ensure()
    existing = read_marker(home)
    if existing is None or (database_url and existing.get("database_url") != database_url):
        # a new home, or a corrected database URL for one whose first init failed to connect
        marker = existing or {"format": HOME_FORMAT,
                              "created_at": datetime.now(UTC).isoformat(timespec="seconds")}
        if database_url:
            marker["database_url"] = database_url
        tmp = home.marker_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(marker) + "\n")
        os.replace(tmp, home.marker_path)
    ledger = Ledger(home)
    if next(ledger.events(), None) is None:
        # the genesis event: an initialised home never has an empty ledger (so a deleted one
        # shows), and its first signed tree head is made with it
        ledger.append("faceaudit", "init", result={"format": HOME_FORMAT})
    return home
