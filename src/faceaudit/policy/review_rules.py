"""How a search's candidates are reviewed: by how many independent people, and blind or not.

EU AI Act Art. 14(5) forbids any action or decision on a remote biometric identification
unless it has been separately verified and confirmed by at least two natural persons. The
policy's ``[review]`` table sets how many reviewers must confirm a candidate before it is a
*confirmed lead*, and whether they review blind (no score, no rank, candidates shuffled)::

    [review]
    required_reviewers = 2
    blind = true
    probe_crop_hours = 72   # keep each searched face's crop for the reviewers this long

Probe crops are not kept by default (``probe_crop_hours = 0``); when kept, they are purged,
with a ``purge`` event, once the review period has passed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from faceaudit.policy.errors import PolicyError

#: at most this many reviewers may be required for one candidate
MAX_REQUIRED_REVIEWERS = 10
#: at most this many hours a probe crop may be kept for review
MAX_PROBE_CROP_HOURS = 24 * 90
_KEYS = {"required_reviewers", "blind", "probe_crop_hours"}


@dataclass(frozen=True)
class ReviewRules:
    """The policy's ``[review]`` table: ``required_reviewers`` independent confirmations make
    a candidate a confirmed lead; ``blind`` hides score and rank and shuffles candidates;
    ``probe_crop_hours`` (0: never) is how long each searched face's crop is kept for the
    reviewers' case view."""

    required_reviewers: int = 2
    blind: bool = True
    probe_crop_hours: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """The table as plain data."""
        return {"required_reviewers": self.required_reviewers, "blind": self.blind,
                "probe_crop_hours": self.probe_crop_hours}


def parse_review_rules(value: Any) -> ReviewRules:
    """The ``[review]`` table of a policy file, validated (:class:`PolicyError` otherwise)."""
    if not isinstance(value, dict):
        raise PolicyError("review must be a table")
    unknown = sorted(set(value) - _KEYS)
    if unknown:
        raise PolicyError(f"unknown policy key(s) {', '.join('review.' + k for k in unknown)}; "
                          f"allowed: {', '.join(sorted(_KEYS))}")
    default = ReviewRules()
    required = value.get("required_reviewers", default.required_reviewers)
    if isinstance(required, bool) or not isinstance(required, int) or not (
            1 <= required <= MAX_REQUIRED_REVIEWERS):
        raise PolicyError(f"review.required_reviewers must be an integer from 1 to "
                          f"{MAX_REQUIRED_REVIEWERS}")
    blind = value.get("blind", default.blind)
    if not isinstance(blind, bool):
        raise PolicyError("review.blind must be true or false")
    hours = value.get("probe_crop_hours", default.probe_crop_hours)
    if isinstance(hours, bool) or not isinstance(hours, int | float) or not (
            0 <= hours <= MAX_PROBE_CROP_HOURS):
        raise PolicyError(f"review.probe_crop_hours must be a number of hours from 0 to "
                          f"{MAX_PROBE_CROP_HOURS}")
    return ReviewRules(required_reviewers=required, blind=blind, probe_crop_hours=float(hours))
