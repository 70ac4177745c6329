"""Per-group metrics in fairlearn's ``MetricFrame`` shape: ``by_group``, ``overall``,
``ratio()``, ``difference()``, ``group_min()``, ``group_max()``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from faceaudit.base.errors import InputDataError


class GroupFrame:
    """Metric values per group (one array per metric, in ``groups`` order) plus overall values."""

    def __init__(
        self,
        groups: Sequence[str],
        by_group: Mapping[str, np.ndarray],
        overall: Mapping[str, float] | None = None,
    ) -> None:
        self.groups = list(groups)
        self._values = {k: np.asarray(v, dtype=np.float64) for k, v in by_group.items()}
        for name, values in self._values.items():
            if values.shape != (len(self.groups),):
                raise InputDataError(f"metric {name!r} needs one value per group")
        self.overall = dict(overall or {})

    @property
    def by_group(self) -> dict[str, dict[str, float]]:
        """``{group: {metric: value}}``."""
        return {
            g: {m: float(v[i]) for m, v in self._values.items()} for i, g in enumerate(self.groups)
        }

    def values(self, metric: str) -> np.ndarray:
        """The per-group array of one metric."""
        return self._values[metric]

    def group_max(self, metric: str) -> float:
        """Largest per-group value."""
        return float(np.max(self._values[metric]))

    def group_min(self, metric: str) -> float:
        """Smallest per-group value."""
        return float(np.min(self._values[metric]))

    def difference(self, metric: str) -> float:
        """max − min over groups (fairlearn ``method='between_groups'``)."""
        return self.group_max(metric) - self.group_min(metric)

    def ratio(self, metric: str) -> float:
        """max / min over groups (``inf`` if the minimum is 0); fairlearn's ratio() inverted."""
        low = self.group_min(metric)
        return (
            float("inf")
            if low == 0 and self.group_max(metric) > 0
            else (self.group_max(metric) / low if low else float("nan"))
        )
