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

from faceaudit.base.errors import (
    FaceIndexError,
    ImageInputError,
    NoFaceError,
    SeveralFacesError,
)
from faceaudit.engine.calibration import Calibration, load_calibration
from faceaudit.engine.embed_many import ImageEmbeddings, embed_many
from faceaudit.engine.faces.align import face_chips
from faceaudit.engine.faces.box import Box
from faceaudit.engine.faces.budget import check_time
from faceaudit.engine.faces.channel_order import BgrWarning, warn_if_bgr
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
from faceaudit.engine.faces.quality import quality_components, rounded
from faceaudit.engine.models.base import Embedder
from faceaudit.engine.models.registry import DEFAULT_BACKEND, get_embedder

__all__ = [
    "Box",
    "Calibration",
    "Color",
    "ImageInput",
    "ImageInputError",
    "SeveralFacesError",
    "BgrWarning",
    "NoFaceError",
    "FaceIndexError",
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
    "face_embeddings_and_quality",
    "probe_quality",
    "open_image",
    "read_image_file",
    "embed_faces",
    "embed_many",
    "ImageEmbeddings",
    "face_embeddings",
    "face_encodings",
    "matches",
    "get_embedder",
    "load_calibration",
    "load_image",
    "verify",
    "DEFAULT_BACKEND",
]

#: the default model's backend id (what :func:`matches` and :func:`verify` on embeddings assume)
DEFAULT_BACKEND_ID = "dlib-resnet:1"


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
    warn_if_bgr(image, color, decoded.pixels, faces)
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
    warn_if_bgr(image, color, decoded.pixels, faces)
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
    pick: str = "face",
) -> tuple[Face, np.ndarray]:
    """The one face of ``image`` and its embedding.

    With several faces, ``face`` picks one by index (faces are ordered best score first);
    without it the call refuses rather than guess, telling to pass ``pick`` (the name the
    caller knows the index by: ``face``, or ``face_a`` / ``face_b`` for :func:`verify`).

    Raises:
        NoFaceError: no face found, or ``face`` is past the last one.
        SeveralFacesError: several faces and no ``face`` given (``.count`` says how many).
    """
    decoded, faces, face = _one_face(image, face, detector=detector, upsample=upsample,
                                     color=color, label=label, pick=pick)
    embedding = embed_faces(decoded.pixels, faces[face : face + 1], embedder)[0]
    return _to_original(faces[face : face + 1], decoded)[0], embedding


def _one_face(image: ImageInput, face: int | None, *, detector: Detector | str,
              upsample: int | None, color: Color, label: str | None, pick: str = "face",
              ) -> tuple[DecodedImage, list[Face], int]:
    """Decode ``image``, detect, and pick the one face (the checks of :func:`face_embedding`)."""
    label = label or _label(image, "image")
    decoded = as_decoded(image, color, name=label if isinstance(image, str | Path) else None)
    faces = detect_in_pixels(decoded.pixels, detector=detector, upsample=upsample)
    if not faces:
        raise NoFaceError(f"{label}: no face found")
    warn_if_bgr(image, color, decoded.pixels, faces)
    if face is None:
        if len(faces) > 1:
            raise SeveralFacesError.needing_one(label, len(faces), pick)
        face = 0
    if not 0 <= face < len(faces):
        raise FaceIndexError(label, pick, face, len(faces))
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


def _quality_in_pixels(pixels: np.ndarray, faces: list[Face],
                       scale: float) -> list[dict[str, float]]:
    """Quality components of ``faces`` (in ``pixels``' coordinates), rounded; the inter-eye
    distance in the original image's pixels (``scale`` = pixels / original)."""
    out = []
    for face in faces:
        values = quality_components(pixels, face)
        values["inter_eye_distance_px"] /= scale
        out.append(rounded(values))
    return out


def probe_quality(decoded: DecodedImage, faces: list[Face]) -> list[dict[str, float]]:
    """The quality components (:mod:`faceaudit.engine.faces.quality`, rounded) of each of
    ``faces`` — in the ORIGINAL image's pixels, as :func:`detect_in` returns them — measured
    on the decoded working-size pixels; inter-eye distance in original pixels."""
    if decoded.scale != 1.0:
        height, width = decoded.pixels.shape[:2]
        faces = [face.scaled(decoded.scale, width, height) for face in faces]
    return _quality_in_pixels(decoded.pixels, faces, decoded.scale)


def face_embeddings_and_quality(
    src: str | Path | bytes,
    embedder: Embedder | None = None,
    detector: Detector | str = "hog",
    upsample: int | None = None,
) -> tuple[list[Face], np.ndarray, list[dict[str, float]]]:
    """:func:`face_embeddings_of` with each face's quality components (:func:`probe_quality`),
    from one decode."""
    decoded = open_image(src)
    faces, embeddings = face_embeddings(decoded.pixels, embedder, detector, upsample)
    quality = _quality_in_pixels(decoded.pixels, faces, decoded.scale)
    return _to_original(faces, decoded), embeddings, quality


def compare(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cosine similarity between unit-norm embeddings: higher is closer (face_recognition's
    ``face_distance`` is a distance: lower is closer).

    Two matrices give the (len(a), len(b)) matrix of every pair. When either side is one
    vector the result is flat, one score per row of the other, as ``face_distance`` returns:

    >>> scores = api.compare(known, candidate)   # known (n, 128), candidate (128,) -> (n,)

    For unit vectors the squared L2 distance that dlib uses is ``2 − 2·cos``, so dlib's usual
    0.6 distance threshold is a cosine of 0.82.
    """
    a_arr = np.asarray(a, dtype=np.float32)
    b_arr = np.asarray(b, dtype=np.float32)
    scores = np.atleast_2d(a_arr) @ np.atleast_2d(b_arr).T
    return scores.ravel() if a_arr.ndim == 1 or b_arr.ndim == 1 else scores


def face_encodings(
    image: ImageInput,
    embedder: Embedder | None = None,
    detector: Detector | str = "hog",
    upsample: int | None = None,
    *,
    color: Color = "rgb",
) -> np.ndarray:
    """The embedding of every face in ``image``, best score first — the vectors alone, as
    face_recognition's ``face_encodings`` returns them: float32 (faces, dim), unit-norm,
    ``(0, dim)`` when there is none. :func:`face_embeddings` gives the faces too.

    >>> known = api.face_encodings("obama.jpg")[0]
    >>> api.matches(known, api.face_encodings("group.jpg"))   # one bool per face
    """
    return face_embeddings(image, embedder, detector, upsample, color=color)[1]


def matches(
    known: np.ndarray,
    candidates: np.ndarray,
    fmr: float = 1e-3,
    calibration: Calibration | None = None,
    backend_id: str = DEFAULT_BACKEND_ID,
) -> np.ndarray:
    """Which comparisons match at the threshold calibrated for a false-match rate of ``fmr``
    — face_recognition's ``compare_faces``, without a hand-picked tolerance.

    ``known`` and ``candidates`` are embeddings (one vector or rows of vectors) of
    ``backend_id`` (the default model's unless said); the answer has :func:`compare`'s shape
    (flat when either side is one vector), ``True`` where the score reaches the threshold.
    """
    calibration = calibration or load_calibration(backend_id=backend_id)
    return compare(known, candidates) >= calibration.threshold_for(fmr)


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
    image_a: ImageInput | np.ndarray,
    image_b: ImageInput | np.ndarray,
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

    Either side may also be an embedding already made — one vector of shape ``(dim,)`` (a
    row of :func:`face_encodings`) or the ``(face, vector)`` pair :func:`face_embedding`
    returns — which is compared as it is, without a model::

        >>> e1, e2 = api.face_encodings("a.jpg")[0], api.face_encodings("b.jpg")[0]
        >>> api.verify(e1, e2).match

    Rows of several embeddings are refused (:class:`ImageInputError`): compare many with
    :func:`matches`.
    """
    given = [_embedding_given(image, which)
             for image, which in ((image_a, "first image"), (image_b, "second image"))]
    if embedder is None and all(v is not None for v in given):
        # nothing to embed: no model is loaded; the calibration is the default backend's
        backend_id = calibration.backend_id if calibration is not None else DEFAULT_BACKEND_ID
    else:
        embedder = embedder or get_embedder()
        backend_id = embedder.backend_id
    calibration = calibration or load_calibration(backend_id=backend_id)
    threshold = calibration.threshold_for(fmr)
    # both faces are found before either is embedded: an image without one costs no embedding
    picked = [None if vector is not None else
              _one_face(image, face, detector=detector, upsample=None, color=color,
                        label=_label(image, which), pick=pick)
              for image, vector, face, which, pick in (
                  (image_a, given[0], face_a, "first image", "face_a"),
                  (image_b, given[1], face_b, "second image", "face_b"))]
    emb_a, emb_b = (_vector_of(vector, found, embedder)
                    for vector, found in zip(given, picked, strict=True))
    if emb_a.shape != emb_b.shape:
        raise ImageInputError(
            f"the embeddings differ in length ({emb_a.shape[0]} and {emb_b.shape[0]}): "
            "they come from different models")
    score = float(emb_a @ emb_b)
    return VerifyResult(score, threshold, fmr, score >= threshold, backend_id)


def _vector_of(vector: np.ndarray | None, found: tuple[DecodedImage, list[Face], int] | None,
               embedder: Embedder | None) -> np.ndarray:
    """The given embedding, or the embedding of the face picked in an image."""
    if vector is not None:
        return vector
    assert found is not None  # an image where no embedding was given
    decoded, faces, face = found
    return embed_faces(decoded.pixels, faces[face : face + 1], embedder)[0]


def _embedding_given(value: object, which: str) -> np.ndarray | None:
    """``value`` as a unit-length float32 vector when it is an embedding — a 1-D array or
    :func:`face_embedding`'s ``(face, vector)`` pair — else None (an image).

    Raises:
        ImageInputError: rows of embeddings (use :func:`matches`), or a vector that is not
            finite, or of length zero.
    """
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], Face):
        value = value[1]
    if not isinstance(value, np.ndarray):
        return None
    if value.ndim == 1 or (value.ndim == 2 and value.dtype.kind == "f"):
        if value.ndim == 2:
            raise ImageInputError(
                f"{which}: a float array of shape {value.shape} is rows of embeddings (or a "
                "float image: pass uint8 pixels); verify compares two faces — compare many "
                "with api.matches(known, candidates) or api.compare")
        if value.dtype.kind not in "fiu" or value.size == 0:
            raise ImageInputError(f"{which}: a {value.dtype} vector of length {value.size} "
                                  "is not an embedding")
        vector = value.astype(np.float32)
        norm = float(np.linalg.norm(vector))
        if not np.isfinite(norm) or norm == 0.0:
            raise ImageInputError(f"{which}: the embedding is not finite or is all zeros")
        return vector / norm
    return None
