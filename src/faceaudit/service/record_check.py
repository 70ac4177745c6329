"""The deployment's record checked whole — the one path behind ``faceaudit ledger verify``,
``GET /v1/ledger/verify`` and the auditor's page: the ledger (hash chain, head witness, signed
checkpoints and tree heads), then every row of the stores bound to it (gallery, API keys)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from faceaudit.base.home import Home
from faceaudit.ledger.store import Ledger
from faceaudit.ledger.verify import VerifyReport


@dataclass(frozen=True)
class RecordCheck:
    """The ledger's verification and the store rows that disagree with it (``stores``: one
    line each; checked only when the ledger is intact)."""

    report: VerifyReport
    stores: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether the ledger is intact and every bound store agrees with it."""
        return self.report.ok and not self.stores

    def summary(self) -> str:
        """The ledger's one-line summary (``ledger intact: N events, M signed tree heads
        verified …``), as ``faceaudit ledger verify`` prints it."""
        return self.report.summary()

    def to_dict(self) -> dict[str, Any]:
        """The report's fields, ``summary`` and ``stores`` (JSON-ready)."""
        return asdict(self.report) | {"summary": self.summary(), "stores": list(self.stores)}


def check_record(home: Home, public_key: Path | None = None) -> RecordCheck:
    """Verify ``home``'s ledger (against ``public_key``, default the home's), then, when it is
    intact, the stores bound to it."""
    report = Ledger(home).verify(public_key)
    return RecordCheck(report, store_problems(home) if report.ok else [])


def store_problems(home: Home) -> list[str]:
    """Every row of a store bound to the ledger that disagrees with it: the gallery (subjects,
    templates, consent records) and the API keys."""
    problems = []
    if home.database_url_in_force() or home.db_path.exists():
        # imported only when there is a gallery: a home without one verifies light
        from faceaudit.deployment.gallery_record import GalleryRecord, gallery_problems
        from faceaudit.gallery.store import open_gallery_store

        store = open_gallery_store(home)
        if store.exists():
            problems += gallery_problems(store, GalleryRecord(Ledger(home)))
    if home.keys_path.exists():
        from faceaudit.service.keys import KeyStore

        problems += KeyStore(home).check()
    return problems
