"""faceaudit's flat library API: load, detect, align, embed, compare, verify.

Everything the CLI and the service do with faces goes through these functions::

    from faceaudit import api
    image = api.load_image("photo.jpg")
    faces, embeddings = api.face_embeddings(image)
    result = api.verify(image_a, image_b, fmr=1e-3)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from faceaudit.calibration import Calibration, load_calibration
from faceaudit.errors import NoFaceError
from faceaudit.faces.align import face_chips
from faceaudit.faces.detect import Detector, Face, detect_faces
from faceaudit.faces.image import load_image
from faceaudit.models.base import Embedder
from faceaudit.models.registry import DEFAULT_BACKEND, get_embedder

__all__ = [
    "Calibration",
    "Face",
    "VerifyResult",
    "compare",
    "detect_faces",
    "embed_faces",
    "face_embeddings",
    "get_embedder",
    "load_calibration",
    "load_image",
    "verify",
    "DEFAULT_BACKEND",
]


def embed_faces(
    image: np.ndarray, faces: list[Face], embedder: Embedder | None = None
) -> np.ndarray:
    """Align each face to the backend's chip spec and embed it: float32 (len(faces), dim)."""
    embedder = embedder or get_embedder()
    chips = face_chips(image, faces, embedder.chip)
    if len(chips) == 0:
        return np.zeros((0, embedder.dim), dtype=np.float32)
    return embedder.embed(chips)


def face_embeddings(
    image: np.ndarray,
    embedder: Embedder | None = None,
    detector: Detector = "hog",
    upsample: int = 1,
) -> tuple[list[Face], np.ndarray]:
    """Detect every face in ``image`` and embed each one."""
    faces = detect_faces(image, detector=detector, upsample=upsample)
    return faces, embed_faces(image, faces, embedder)


def compare(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cosine similarity between unit-norm embeddings (rows of ``a`` against rows of ``b``).

    For unit vectors the squared L2 distance that dlib uses is ``2 − 2·cos``, so dlib's usual
    0.6 distance threshold is a cosine of 0.82.
    """
    a = np.atleast_2d(np.asarray(a, dtype=np.float32))
    b = np.atleast_2d(np.asarray(b, dtype=np.float32))
    return a @ b.T


@dataclass(frozen=True)
class VerifyResult:
    """Outcome of a 1:1 comparison at a threshold calibrated for ``fmr_target``."""

    score: float
    threshold: float
    fmr_target: float
    match: bool
    backend_id: str

    def to_dict(self) -> dict:
        """JSON-ready form: score, threshold, fmr_target, match, backend_id."""
        return {
            "score": round(self.score, 6),
            "threshold": round(self.threshold, 6),
            "fmr_target": self.fmr_target,
            "match": self.match,
            "backend_id": self.backend_id,
        }


def best_face_embedding(
    image: np.ndarray, embedder: Embedder, detector: Detector = "hog", label: str = "image"
) -> np.ndarray:
    """Embedding of the highest-scoring face in ``image``; :class:`NoFaceError` if none."""
    faces = detect_faces(image, detector=detector)
    if not faces:
        raise NoFaceError(f"{label}: no face found")
    return embed_faces(image, faces[:1], embedder)[0]


def verify(
    image_a: np.ndarray,
    image_b: np.ndarray,
    fmr: float = 1e-3,
    calibration: Calibration | None = None,
    embedder: Embedder | None = None,
    detector: Detector = "hog",
) -> VerifyResult:
    """Compare the best face of each image at the threshold that gives ``fmr`` false matches."""
    embedder = embedder or get_embedder()
    calibration = calibration or load_calibration(backend_id=embedder.backend_id)
    threshold = calibration.threshold_for(fmr)
    emb_a = best_face_embedding(image_a, embedder, detector, "first image")
    emb_b = best_face_embedding(image_b, embedder, detector, "second image")
    score = float(emb_a @ emb_b)
    return VerifyResult(score, threshold, fmr, score >= threshold, embedder.backend_id)

