"""faceaudit's flat library API: load, detect, align, embed, compare, verify.

Everything the CLI and the service do with faces goes through these functions::

    from faceaudit import api
    image = api.load_image("photo.jpg")
    faces, embeddings = api.face_embeddings(image)
    result = api.verify(image_a, image_b, fmr=1e-3)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from faceaudit.calibration import Calibration, load_calibration
from faceaudit.errors import NoFaceError
from faceaudit.faces.align import face_chips
from faceaudit.faces.budget import check_time
from faceaudit.faces.detect import (
    DetectionLimits,
    Detector,
    Face,
    detect_faces,
    detection_limits,
)
from faceaudit.faces.image import (
    MAX_IMAGE_SIDE,
    SUPPORTED_FORMATS,
    DecodedImage,
    decode_image,
    load_image,
    read_image_file,
)
from faceaudit.models.base import Embedder
from faceaudit.models.registry import DEFAULT_BACKEND, get_embedder

__all__ = [
    "Calibration",
    "DecodedImage",
    "DetectionLimits",
    "Face",
    "MAX_IMAGE_SIDE",
    "SUPPORTED_FORMATS",
    "VerifyResult",
    "compare",
    "decode_image",
    "detect_faces",
    "detect_in",
    "face_embeddings_of",
    "open_image",
    "read_image_file",
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
    check_time("embedding")
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


def open_image(src: str | Path | bytes, *, name: str | None = None) -> DecodedImage:
    """Decode ``src`` through the guarded path at the engine's working size (≤ MAX_IMAGE_SIDE).

    A large JPEG is decoded at reduced size (DCT scaling), never at full size; ``scale`` on the
    result maps boxes back to the original pixels.
    """
    return decode_image(src, max_side=MAX_IMAGE_SIDE, name=name)


def detect_in(
    decoded: DecodedImage, detector: Detector = "hog", upsample: int = 1
) -> tuple[list[Face], DetectionLimits]:
    """Every face of a decoded image, in its ORIGINAL pixels, and the limits detection ran under.

    The limits' ``min_face_px`` is the smallest face (in original pixels) the detector could
    find at the scale the work budget imposed: smaller faces are not found, and are reported so.
    """
    height, width = decoded.pixels.shape[:2]
    faces = detect_faces(decoded.pixels, detector=detector, upsample=upsample)
    limits = detection_limits(width, height, upsample).in_original(decoded.scale)
    return _to_original(faces, decoded), limits


def _to_original(faces: list[Face], decoded: DecodedImage) -> list[Face]:
    if decoded.scale == 1.0:
        return faces
    width, height = decoded.original_size
    return [face.scaled(1.0 / decoded.scale, width, height) for face in faces]


def face_embeddings_of(
    src: str | Path | bytes,
    embedder: Embedder | None = None,
    detector: Detector = "hog",
    upsample: int = 1,
) -> tuple[list[Face], np.ndarray]:
    """Decode ``src`` (guarded, working size), detect and embed every face.

    Faces are in the original image's pixels; embeddings come from the working-size pixels.
    """
    decoded = open_image(src)
    faces, embeddings = face_embeddings(decoded.pixels, embedder, detector, upsample)
    return _to_original(faces, decoded), embeddings


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

