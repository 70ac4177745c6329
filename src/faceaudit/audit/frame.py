"""Per-group metrics in fairlearn's ``MetricFrame`` shape: ``by_group``, ``overall``,
``ratio()``, ``difference()``, ``group_min()``, ``group_max()``.

Groups lie on the last axis of every metric, as in :mod:`faceaudit.audit.fairness`: a frame
of point estimates holds ``(G,)`` per metric, a frame of bootstrap replicates ``(R, G)``, and
the same methods summarise both.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from faceaudit.audit import fairness
from faceaudit.base.errors import InputDataError


class GroupFrame:
    """Metric values per group (one array per metric, groups on the last axis, in ``groups``
    order) plus overall values."""

    def __init__(
        self,
        groups: Sequence[str],
        by_group: Mapping[str, np.ndarray | Sequence[float]],
        overall: Mapping[str, float] | None = None,
    ) -> None:
        self.groups = list(groups)
        self._values = {k: np.asarray(v, dtype=np.float64) for k, v in by_group.items()}
        for name, values in self._values.items():
            if values.ndim == 0 or values.shape[-1] != len(self.groups):
                raise InputDataError(f"metric {name!r} needs one value per group")
        self.overall = dict(overall or {})

    @property
    def metrics(self) -> list[str]:
        """The metrics held, in the order given."""
        return list(self._values)

    @property
    def by_group(self) -> dict[str, dict[str, Any]]:
        """``{group: {metric: value}}`` (a float; a list over the leading axes where the frame
        has some)."""
        return {
            g: {m: v[..., i].tolist() for m, v in self._values.items()}
            for i, g in enumerate(self.groups)
        }

    def values(self, metric: str) -> np.ndarray:
        """The per-group array of one metric."""
        return self._values[metric]

    def select(self, members: Sequence[int]) -> GroupFrame:
        """The frame over the groups at positions ``members`` (in that order; without
        ``overall``, which is over every group)."""
        index = np.asarray(members, dtype=np.intp)
        return GroupFrame(
            [self.groups[i] for i in index], {m: v[..., index] for m, v in self._values.items()}
        )

    def only(self, metrics: Sequence[str]) -> GroupFrame:
        """The frame with only these metrics."""
        overall = {m: v for m, v in self.overall.items() if m in metrics}
        return GroupFrame(self.groups, {m: self._values[m] for m in metrics}, overall)

    def group_max(self, metric: str) -> np.ndarray:
        """Largest per-group value."""
        return np.max(self._values[metric], axis=-1)

    def group_min(self, metric: str) -> np.ndarray:
        """Smallest per-group value."""
        return np.min(self._values[metric], axis=-1)

    def difference(self, metric: str) -> np.ndarray:
        """max − min over groups (fairlearn ``method='between_groups'``)."""
        return fairness.max_min_difference(self._values[metric])

    def ratio(self, metric: str) -> np.ndarray:
        """max / min over groups (``inf`` if the minimum is 0); fairlearn's ratio() inverted."""
        return fairness.max_min_ratio(self._values[metric])

    def summaries(self, alpha: float) -> dict[str, np.ndarray]:
        """The fairness summaries its ``fmr``/``fnmr``/``accuracy`` metrics allow
        (:func:`faceaudit.audit.fairness.summaries`)."""
        fmr, fnmr, accuracy = (self._values.get(m) for m in ("fmr", "fnmr", "accuracy"))
        return fairness.summaries(fmr, fnmr, accuracy, alpha)
