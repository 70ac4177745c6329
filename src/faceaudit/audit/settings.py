"""The knobs of one audit (:class:`AuditSettings`), shared by the computing and presenting
steps; :mod:`faceaudit.audit.engine` re-exports it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from faceaudit.audit.estimates import MIN_IDENTITIES


@dataclass
class AuditSettings:
    """Knobs of one audit: target FMRs, bootstrap replicates, seed, α and interval level."""

    targets: Sequence[float] = (1e-2, 1e-3, 1e-4)
    reps: int = 1000
    seed: int = 0
    alpha: float = 0.5
    confidence: float = 0.95
    min_identities: int = MIN_IDENTITIES
    operating_points: bool = False  # the worst-group threshold grid (--operating-points)
