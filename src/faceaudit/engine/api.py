"""faceaudit's flat library API: load, detect, align, embed, compare, verify.

Everything the CLI and the service do with faces goes through these functions::

    from faceaudit import api
    faces, embeddings = api.face_embeddings("photo.jpg")
    result = api.verify("a.jpg", "b.jpg", fmr=1e-3)
    for item in api.embed_many(paths, workers=2):  # many files: every core, cached
        print(item.path, item.error or len(item.boxes))

Every function that takes an image accepts a path, bytes, a PIL image or a uint8 numpy array
(gray, RGB or RGBA; ``color="bgr"`` for OpenCV's BGR/BGRA), see
:mod:`faceaudit.engine.faces.inputs`.
Files always go through the guarded decoder. Boxes are :class:`Box` (left, top, right, bottom) in
the input's own pixels. A function that needs one face refuses an image with several
(:class:`SeveralFacesError`, naming the count) unless ``face=`` picks one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from faceaudit.base.errors import ImageInputError, NoFaceError, SeveralFacesError
from faceaudit.engine.calibration import Calibration, load_calibration
from faceaudit.engine.embed_many import ImageEmbeddings, embed_many
from faceaudit.engine.faces.align import face_chips
from faceaudit.engine.faces.box import Box
from faceaudit.engine.faces.budget import check_time
from faceaudit.engine.faces.detect import (
    DetectionLimits,
    Detector,
    Face,
    find_faces,
)
from faceaudit.engine.faces.detect import detect_faces as detect_in_pixels
from faceaudit.engine.faces.image import (
    MAX_IMAGE_SIDE,
    SUPPORTED_FORMATS,
    DecodedImage,
    decode_image,
    load_image,
    read_image_file,
)
from faceaudit.engine.faces.inputs import Color, ImageInput, as_decoded
from faceaudit.engine.models.base import Embedder
from faceaudit.engine.models.registry import DEFAULT_BACKEND, get_embedder

__all__ = [
    "Box",
    "Calibration",
    "Color",
    "ImageInput",
    "ImageInputError",
    "SeveralFacesError",
    "NoFaceError",
    "face_embedding",
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
    "embed_many",
    "ImageEmbeddings",
    "face_embeddings",
    "get_embedder",
    "load_calibration",
    "load_image",
    "verify",
    "DEFAULT_BACKEND",
]


def embed_faces(
    image: ImageInput,
    faces: list[Face],
    embedder: Embedder | None = None,
    *,
    color: Color = "rgb",
) -> np.ndarray:
    """Align each face to the backend's chip spec and embed it: float32 (len(faces), dim).

    ``faces`` are in ``image``'s own pixels (as :func:`detect_faces` returns them).
    """
    embedder = embedder or get_embedder()
    decoded = as_decoded(image, color)
    if decoded.scale != 1.0:
        height, width = decoded.pixels.shape[:2]
        faces = [face.scaled(decoded.scale, width, height) for face in faces]
    check_time("embedding")
    chips = face_chips(decoded.pixels, faces, embedder.chip)
    if len(chips) == 0:
        return np.zeros((0, embedder.dim), dtype=np.float32)
    return embedder.embed(chips)


def detect_faces(
    image: ImageInput,
    detector: Detector | str = "hog",
    upsample: int | None = None,
    *,
    color: Color = "rgb",
) -> list[Face]:
    """Every face in ``image``, best score first, boxes and landmarks in its own pixels.

    ``image`` is a path, bytes, a PIL image or a uint8 array (``color="bgr"`` for OpenCV).
    """
    decoded = as_decoded(image, color)
    faces = detect_in_pixels(decoded.pixels, detector=detector, upsample=upsample)
    return _to_original(faces, decoded)


def face_embeddings(
    image: ImageInput,
    embedder: Embedder | None = None,
    detector: Detector | str = "hog",
    upsample: int | None = None,
    *,
    color: Color = "rgb",
) -> tuple[list[Face], np.ndarray]:
    """Detect every face in ``image`` and embed each one (faces in the input's own pixels)."""
    decoded = as_decoded(image, color)
    faces = detect_in_pixels(decoded.pixels, detector=detector, upsample=upsample)
    embeddings = embed_faces(decoded.pixels, faces, embedder)
    return _to_original(faces, decoded), embeddings


def _label(image: ImageInput, default: str) -> str:
    return str(image) if isinstance(image, str | Path) else default


def face_embedding(
    image: ImageInput,
    face: int | None = None,
    *,
    embedder: Embedder | None = None,
    detector: Detector | str = "hog",
    upsample: int | None = None,
    color: Color = "rgb",
    label: str | None = None,
) -> tuple[Face, np.ndarray]:
    """The one face of ``image`` and its embedding.

    With several faces, ``face`` picks one by index (faces are ordered best score first);
    without it the call refuses rather than guess.

    Raises:
        NoFaceError: no face found, or ``face`` is past the last one.
        SeveralFacesError: several faces and no ``face`` given (``.count`` says how many).
    """
    decoded, faces, face = _one_face(image, face, detector=detector, upsample=upsample,
                                     color=color, label=label)
    embedding = embed_faces(decoded.pixels, faces[face : face + 1], embedder)[0]
    return _to_original(faces[face : face + 1], decoded)[0], embedding


def _one_face(image: ImageInput, face: int | None, *, detector: Detector | str,
              upsample: int | None, color: Color, label: str | None,
              ) -> tuple[DecodedImage, list[Face], int]:
    """Decode ``image``, detect, and pick the one face (the checks of :func:`face_embedding`)."""
    label = label or _label(image, "image")
    decoded = as_decoded(image, color, name=label if isinstance(image, str | Path) else None)
    faces = detect_in_pixels(decoded.pixels, detector=detector, upsample=upsample)
    if not faces:
        raise NoFaceError(f"{label}: no face found")
    if face is None:
        if len(faces) > 1:
            raise SeveralFacesError(
                f"{label}: {len(faces)} faces found where one is needed; pick one with"
                f" face=0..{len(faces) - 1} (best score first)",
                count=len(faces),
            )
        face = 0
    if not 0 <= face < len(faces):
        raise NoFaceError(f"{label}: face={face} asked for, but {len(faces)} face(s) found")
    return decoded, faces, face


def open_image(src: str | Path | bytes, *, name: str | None = None) -> DecodedImage:
    """Decode ``src`` through the guarded path at the engine's working size (≤ MAX_IMAGE_SIDE).

    A large JPEG is decoded at reduced size (DCT scaling), never at full size; ``scale`` on the
    result maps boxes back to the original pixels.
    """
    return decode_image(src, max_side=MAX_IMAGE_SIDE, name=name)


def detect_in(
    decoded: DecodedImage, detector: Detector | str = "hog", upsample: int | None = None
) -> tuple[list[Face], DetectionLimits]:
    """Every face of a decoded image, in its ORIGINAL pixels, and the limits detection ran under.

    The limits' ``min_face_px`` is the smallest face (in original pixels) the detector could
    find at the scale the work budget imposed and the upsampling of the pass that found the faces
    (``upsample=None``: without upsampling, then at 1 where nothing was found): smaller faces
    are not found, and are reported so.
    """
    faces, limits = find_faces(decoded.pixels, detector=detector, upsample=upsample)
    return _to_original(faces, decoded), limits.in_original(decoded.scale)


def _to_original(faces: list[Face], decoded: DecodedImage) -> list[Face]:
    if decoded.scale == 1.0:
        return faces
    width, height = decoded.original_size
    return [face.scaled(1.0 / decoded.scale, width, height) for face in faces]


def face_embeddings_of(
    src: str | Path | bytes,
    embedder: Embedder | None = None,
    detector: Detector | str = "hog",
    upsample: int | None = None,
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


def verify(
    image_a: ImageInput,
    image_b: ImageInput,
    fmr: float = 1e-3,
    calibration: Calibration | None = None,
    embedder: Embedder | None = None,
    detector: Detector | str = "hog",
    *,
    color: Color = "rgb",
    face_a: int | None = None,
    face_b: int | None = None,
) -> VerifyResult:
    """Compare the face of each image at the threshold that gives ``fmr`` false matches.

    Each image must hold one face, or ``face_a`` / ``face_b`` must pick one (index, best score
    first): an image with several faces is refused with :class:`SeveralFacesError`, never
    silently reduced to one.
    """
    embedder = embedder or get_embedder()
    calibration = calibration or load_calibration(backend_id=embedder.backend_id)
    threshold = calibration.threshold_for(fmr)
    # both faces are found before either is embedded: an image without one costs no embedding
    picked = [_one_face(image, face, detector=detector, upsample=None, color=color,
                        label=_label(image, which))
              for image, face, which in ((image_a, face_a, "first image"),
                                         (image_b, face_b, "second image"))]
    emb_a, emb_b = (embed_faces(decoded.pixels, faces[face : face + 1], embedder)[0]
                    for decoded, faces, face in picked)
    score = float(emb_a @ emb_b)
    return VerifyResult(score, threshold, fmr, score >= threshold, embedder.backend_id)
