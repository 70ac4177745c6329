"""Tamper-evident ledger: every operation of a deployment as a hash-chained, signed event log."""

from faceaudit.ledger.errors import LedgerError, LedgerEventError, LedgerTamperedError
from faceaudit.ledger.schema import ACTIONS
from faceaudit.ledger.store import Ledger
from faceaudit.ledger.verify import VerifyReport

__all__ = [
    "ACTIONS", "Ledger", "LedgerError", "LedgerEventError", "LedgerTamperedError", "VerifyReport",
]
