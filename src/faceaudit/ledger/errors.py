"""Errors raised by the ledger."""

from __future__ import annotations

from faceaudit.base.errors import FaceAuditError


class LedgerError(FaceAuditError):
    """The ledger cannot be used: bad event, unreadable or tampered file, unusable key."""

    code = "ledger-error"
    http_status = 500


class LedgerEventError(LedgerError):
    """An event given to ``Ledger.append`` is invalid (unknown action, biometric payload, …)."""

    code = "ledger-bad-event"


class LedgerRangeError(LedgerError):
    """A proof was asked for an event or tree size the log does not have."""

    code = "ledger-range"
    http_status = 400


class LedgerTamperedError(LedgerError):
    """The ledger on disk fails its integrity checks (an edited, truncated or rolled-back file,
    or a Merkle tree or head that disagrees with it): nothing may be appended until
    ``faceaudit ledger verify`` has been run and the damage explained."""

    code = "ledger-tampered"
    http_status = 503
    exit_code = 4


class LedgerNoSignerError(LedgerError):
    """This process has no key to sign tree heads with, so it may not append: an event no
    signed head covers could be dropped or edited by whoever holds the files."""

    code = "ledger-no-signer"
    http_status = 503
    exit_code = 4
