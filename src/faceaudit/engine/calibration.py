"""Thresholds for a target false-match rate, and the FMR a given score corresponds to.

A calibration is the impostor score distribution of one backend summarised as a monotone curve
of (threshold, FMR) points: FMR(t) = share of impostor comparisons with score ≥ t. The package
ships one for the default backend, made by ``scripts/calibrate.py`` from every cross-identity
pair of LFW; ``faceaudit audit`` writes one for the user's own data, which ``--calibration``
accepts.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np

from faceaudit.base.errors import CalibrationError
from faceaudit.engine.rule_of_three import lowest_supported_fmr

SCHEMA = "faceaudit.calibration/1"
# Log-spaced FMR levels at which the curve is stored (1 down to 1e-9, 20 per decade); computed
# one by one so that the decades (1e-2, 1e-3, …) are exactly the floats users type.
CURVE_FMRS = np.array([10.0 ** (-i / 20) for i in range(181)])


@dataclass(frozen=True)
class Calibration:
    """A backend's impostor score curve: ``fmr[i]`` is the FMR at threshold ``threshold[i]``.

    ``threshold`` increases and ``fmr`` decreases along the curve. ``n_impostor`` is the number of
    impostor comparisons behind it; targets below ``3 / n_impostor`` (rule of three) are refused.
    """

    backend_id: str
    threshold: np.ndarray
    fmr: np.ndarray
    n_impostor: int
    source: str = ""
    method: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def min_fmr(self) -> float:
        """Smallest FMR this calibration can support (rule of three)."""
        return lowest_supported_fmr(self.n_impostor)

    def threshold_for(self, fmr: float) -> float:
        """Score threshold whose FMR on the calibration data is at most ``fmr``."""
        if not 0 < fmr < 1:
            raise CalibrationError(f"target FMR must be between 0 and 1, got {fmr}")
        if fmr < self.min_fmr:
            raise CalibrationError(
                f"target FMR {fmr:g} is below what {self.n_impostor} impostor comparisons can "
                f"support (rule of three: ≥ {self.min_fmr:.2g})"
            )
        # A step function, never an interpolation: the lowest stored threshold whose measured
        # FMR is at most the target. Between two stored points the FMR of an intermediate score
        # is unknown, so the answer is the next point up (conservative, never above target).
        ok = np.flatnonzero(self.fmr <= fmr)
        if ok.size == 0:
            raise CalibrationError(
                f"target FMR {fmr:g}: no point of this calibration reaches it "
                f"(lowest stored FMR {float(self.fmr.min()):.3g})"
            )
        return float(self.threshold[ok[0]])

    def fmr_at(self, score: float | np.ndarray) -> float | np.ndarray:
        """FMR that a threshold at ``score`` would have: how often impostors score this high.

        Scores above the top of the curve get the smallest FMR measured (an upper bound).
        """
        log_fmr = np.log10(np.clip(self.fmr, 1e-300, None))
        out = 10 ** np.interp(score, self.threshold, log_fmr)
        return float(out) if np.ndim(out) == 0 else out

    def to_dict(self) -> dict:
        """JSON-ready form (see docs/calibration.md)."""
        return {
            "schema": SCHEMA,
            "backend_id": self.backend_id,
            "source": self.source,
            "method": self.method,
            "n_impostor": int(self.n_impostor),
            "curve": {
                # full precision: a rounded threshold or FMR could overshoot a target
                "fmr": [float(v) for v in self.fmr],
                "threshold": [float(v) for v in self.threshold],
            },
            **self.extra,
        }

    def save(self, path: Path) -> Path:
        """Write the calibration as JSON and return the path."""
        path = Path(path)
        path.write_text(json.dumps(self.to_dict(), indent=1) + "\n")
        return path


def from_impostor_histogram(
    counts: np.ndarray,
    edges: np.ndarray,
    backend_id: str,
    source: str,
    method: str = "impostor histogram, every cross-identity pair",
    extra: dict | None = None,
) -> Calibration:
    """Build a calibration from an impostor score histogram (``len(edges) == len(counts) + 1``).

    The threshold for each stored FMR level is the lower edge of the first bin from which the
    upper tail holds at most that share of impostors (``count <= level · total``, compared in
    counts), and the FMR stored with it is the share actually measured there.
    """
    counts = np.asarray(counts, dtype=np.int64)
    edges = np.asarray(edges, dtype=np.float64)
    if counts.ndim != 1 or len(edges) != len(counts) + 1:
        raise CalibrationError("edges must be one longer than counts")
    total = int(counts.sum())
    if total == 0:
        raise CalibrationError("no impostor comparisons to calibrate on")
    tail = np.r_[np.cumsum(counts[::-1])[::-1], 0]  # tail[i] = impostors with score ≥ edges[i]
    levels = CURVE_FMRS[CURVE_FMRS >= 1.0 / total]
    thresholds, fmrs = [], []
    for level in levels:
        idx = int(np.argmax(tail <= level * total))
        thresholds.append(edges[idx])
        fmrs.append(tail[idx] / total)
    return from_points(
        np.asarray(thresholds), np.asarray(fmrs), total, backend_id, source, method, extra
    )


def from_points(
    thresholds: np.ndarray,
    fmrs: np.ndarray,
    n_impostor: int,
    backend_id: str,
    source: str,
    method: str = "",
    extra: dict | None = None,
) -> Calibration:
    """A calibration from measured ``(threshold, FMR)`` points, in any order.

    Each FMR must be the one measured at its threshold; the points are sorted by threshold and
    duplicates dropped (keeping the first).
    """
    order = np.argsort(thresholds, kind="stable")
    threshold = np.asarray(thresholds, dtype=np.float64)[order]
    fmr = np.minimum.accumulate(np.asarray(fmrs, dtype=np.float64)[order])
    keep = np.concatenate([[True], np.diff(threshold) > 0])
    return Calibration(
        backend_id=backend_id,
        threshold=threshold[keep],
        fmr=fmr[keep],
        n_impostor=int(n_impostor),
        source=source,
        method=method,
        extra=extra or {},
    )


def _parse(data: dict, origin: str) -> Calibration:
    try:
        if data.get("schema") != SCHEMA:
            raise CalibrationError(f"{origin}: not a {SCHEMA} file")
        curve = data["curve"]
        threshold = np.asarray(curve["threshold"], dtype=np.float64)
        fmr = np.asarray(curve["fmr"], dtype=np.float64)
        n_impostor = int(data["n_impostor"])
    except (KeyError, TypeError, ValueError) as exc:
        raise CalibrationError(f"{origin}: malformed calibration ({exc})") from None
    if len(threshold) < 2 or len(threshold) != len(fmr) or np.any(np.diff(threshold) <= 0):
        raise CalibrationError(f"{origin}: the curve must have ≥ 2 increasing thresholds")
    if n_impostor <= 0:
        raise CalibrationError(f"{origin}: n_impostor must be positive")
    known = {"schema", "backend_id", "source", "method", "n_impostor", "curve"}
    return Calibration(
        backend_id=str(data.get("backend_id", "")),
        threshold=threshold,
        fmr=fmr,
        n_impostor=n_impostor,
        source=str(data.get("source", "")),
        method=str(data.get("method", "")),
        extra={k: v for k, v in data.items() if k not in known},
    )


def shipped_calibration_name(backend_id: str) -> str:
    """File name of the calibration shipped for ``backend_id`` (``dlib-native`` shares dlib's)."""
    model = backend_id.replace("dlib-native", "dlib-resnet")
    return "calibration-" + model.replace(":", "-") + ".json"


def load_calibration(path: Path | None = None, backend_id: str = "dlib-resnet:1") -> Calibration:
    """Load ``path``, or the calibration shipped with the package for ``backend_id``.

    ``path`` is a ``faceaudit.calibration/1`` file (``calibration.json`` from an audit or
    ``scripts/calibrate.py``) or an audit's ``report.json``, whose calibration section is used.

    A user file made for another backend is refused: thresholds do not transfer between models.
    """
    if path is None:
        name = shipped_calibration_name(backend_id)
        resource = resources.files("faceaudit") / "data" / name
        if not resource.is_file():
            raise CalibrationError(
                f"no calibration ships for backend {backend_id}; pass --calibration FILE "
                "(faceaudit audit writes one)"
            )
        return _parse(json.loads(resource.read_text()), name)
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise CalibrationError(f"{path}: cannot read calibration ({exc})") from None
    if not isinstance(data, dict):
        raise CalibrationError(f"{path}: not a calibration file")
    # an audit report carries its calibration
    if data.get("schema") in ("faceaudit.audit/1", "faceaudit.audit/2"):
        if not isinstance(data.get("calibration"), dict):
            raise CalibrationError(f"{path}: this audit report has no calibration section")
        data = data["calibration"]
    calibration = _parse(data, str(path))
    same_model = shipped_calibration_name(calibration.backend_id) == shipped_calibration_name(
        backend_id
    )
    if calibration.backend_id and not same_model:
        raise CalibrationError(
            f"{path} calibrates {calibration.backend_id}, not the backend in use ({backend_id})"
        )
    return calibration
