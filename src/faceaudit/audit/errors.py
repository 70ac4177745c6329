"""The audit's input error, in a module of its own so that light modules (the policy's checks of
a PAD system's name) can raise it without importing the table readers (numpy, pyarrow)."""

from __future__ import annotations

from faceaudit.base.errors import InputDataError


class AuditInputError(InputDataError):
    """An audit input (attributes, scores, rates, embeddings, LFW) is missing or malformed."""

    code = "audit-input-error"
