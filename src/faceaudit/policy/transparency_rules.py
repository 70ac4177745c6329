"""How the public transparency report protects small numbers: the smallest cell it prints.

A count of searches for a rare offence in one month can point at one person. The policy's
``[transparency]`` table sets ``k``: a published count ``0 < n < k`` is printed as ``"< k"``,
and enough other cells (or the total) are withheld too that no withheld count can be worked
out by subtraction (:mod:`faceaudit.ledger.suppression`)::

    [transparency]
    k = 5
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from faceaudit.policy.errors import PolicyError

#: the largest ``k`` a policy may set
MAX_K = 1000
_KEYS = {"k"}


@dataclass(frozen=True)
class TransparencyRules:
    """The policy's ``[transparency]`` table: counts ``0 < n < k`` are not published
    (``k = 1`` publishes every count)."""

    k: int = 5

    def to_dict(self) -> dict[str, Any]:
        """The table as plain data."""
        return {"k": self.k}


def parse_transparency_rules(value: Any) -> TransparencyRules:
    """The ``[transparency]`` table of a policy file, validated (:class:`PolicyError`
    otherwise)."""
    if not isinstance(value, dict):
        raise PolicyError("transparency must be a table")
    unknown = sorted(set(value) - _KEYS)
    if unknown:
        raise PolicyError(f"unknown policy key(s) "
                          f"{', '.join('transparency.' + k for k in unknown)}; "
                          f"allowed: {', '.join(sorted(_KEYS))}")
    k = value.get("k", TransparencyRules.k)
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_K:
        raise PolicyError(f"transparency.k must be an integer from 1 to {MAX_K}")
    return TransparencyRules(k=k)
