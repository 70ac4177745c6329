"""Embed one chunk of images: decode, detect, align, embed (one batched model call).

The work a local pool worker or a Dask task does (:mod:`faceaudit.engine.embed_files`,
:mod:`faceaudit.engine.embed_cluster`), with the settings that decide its result and the
per-image result it returns.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from faceaudit.base.errors import FaceAuditError
from faceaudit.engine.faces.quality import COMPONENTS, QUALITY_VERSION
from faceaudit.engine.models.registry import DEFAULT_BACKEND, get_embedder

STAGES = ("decode", "detect", "align", "embed")


@dataclass(frozen=True)
class EmbedSettings:
    """What decides an image's embeddings besides its bytes (part of the cache key)."""

    backend: str = DEFAULT_BACKEND
    model: str | None = None
    detector: str = "hog"
    upsample: int | None = None  # None: 0, then 1 where no face is found (faces/detect.py)
    no_face: str = "skip"
    primary_only: bool = True

    def key(self, sha256: str, backend_id: str) -> str:
        """Cache key for one file's bytes under these settings (and the version of the quality
        components' formulas, which the cached result holds too)."""
        mode = "primary" if self.primary_only else "all"
        upsample = "auto" if self.upsample is None else self.upsample
        return (f"{sha256}|{backend_id}|{self.detector}|{upsample}|{self.no_face}|{mode}"
                f"|q{QUALITY_VERSION}")


@dataclass
class ImageFaces:
    """What one image produced: boxes, detector scores, embeddings, each face's quality
    components (may be empty)."""

    boxes: np.ndarray  # (n, 4) int32
    scores: np.ndarray  # (n,) float32
    embeddings: np.ndarray  # (n, dim) float32
    face_indices: np.ndarray  # (n,) int32: index among the detector's faces (-1: centre crop)
    error: str | None = None
    error_code: str | None = None  # the typed error's code, e.g. "image-unreadable"
    # (n, len(COMPONENTS)) float32: faces/quality.py's components, in COMPONENTS order
    quality: np.ndarray | None = None

    def quality_matrix(self) -> np.ndarray:
        """The quality components, (n, len(COMPONENTS)) float32 (NaN where not measured)."""
        if self.quality is None:
            return np.full((len(self.scores), len(COMPONENTS)), np.nan, np.float32)
        return np.asarray(self.quality, np.float32).reshape(len(self.scores), len(COMPONENTS))

    @classmethod
    def refused(cls, dim: int, error: str, error_code: str) -> ImageFaces:
        """The result of an image refused with a typed error: no faces, ``dim``-wide."""
        return cls(
            boxes=np.zeros((0, 4), np.int32),
            scores=np.zeros(0, np.float32),
            embeddings=np.zeros((0, dim), np.float32),
            face_indices=np.zeros(0, np.int32),
            error=error,
            error_code=error_code,
            quality=np.zeros((0, len(COMPONENTS)), np.float32),
        )


def _primary(faces: list, image: np.ndarray) -> int:
    height, width = image.shape[:2]
    centre = np.array([width / 2, height / 2])
    dists = [
        np.linalg.norm(np.array([(f.box[0] + f.box[2]) / 2, (f.box[1] + f.box[3]) / 2]) - centre)
        for f in faces
    ]
    return int(np.argmin(dists))


def _in_original(quality: np.ndarray, scale: float) -> np.ndarray:
    """The quality rows with the inter-eye distance in the original image's pixels."""
    quality[:, COMPONENTS.index("inter_eye_distance_px")] /= scale
    return quality


def process_images(
    items: Sequence[tuple[str, bytes]], settings: EmbedSettings, threads: int | None = None
) -> tuple[list[ImageFaces], dict[str, float]]:
    """Decode, detect, align and embed a chunk of images (one batched model call).

    ``items`` are (label, file bytes). ``threads`` is the embedder's session thread count
    (None: :func:`~faceaudit.engine.models.registry.get_embedder`'s default). Returns one
    :class:`ImageFaces` per item and the seconds spent in each stage.
    """
    from faceaudit.engine.faces.align import face_chips
    from faceaudit.engine.faces.detect import centre_face, detect_faces
    from faceaudit.engine.faces.image import MAX_IMAGE_SIDE, decode_image
    from faceaudit.engine.faces.quality import quality_components

    embedder = get_embedder(settings.backend, settings.model, threads)
    seconds = dict.fromkeys(STAGES, 0.0)
    chips: list[np.ndarray] = []
    owners: list[int] = []
    per_image: list[ImageFaces] = []
    for position, (label, data) in enumerate(items):
        t0 = time.perf_counter()
        try:
            decoded = decode_image(data, max_side=MAX_IMAGE_SIDE, name=label)
        except FaceAuditError as exc:
            per_image.append(ImageFaces.refused(embedder.dim, str(exc), exc.code))
            continue
        image = decoded.pixels
        t1 = time.perf_counter()
        faces = detect_faces(image, detector=settings.detector, upsample=settings.upsample)
        indices = list(range(len(faces)))
        if faces and settings.primary_only:
            keep = _primary(faces, image)
            faces, indices = [faces[keep]], [keep]
        if not faces and settings.no_face == "centre":
            faces, indices = [centre_face(image)], [-1]
        t2 = time.perf_counter()
        image_chips = face_chips(image, faces, embedder.chip)
        quality = [[quality_components(image, f)[name] for name in COMPONENTS] for f in faces]
        t3 = time.perf_counter()
        seconds["decode"] += t1 - t0
        seconds["detect"] += t2 - t1
        seconds["align"] += t3 - t2
        chips.extend(image_chips)
        owners.extend([position] * len(faces))
        width, height = decoded.original_size
        boxes = [f.scaled(1.0 / decoded.scale, width, height).box for f in faces]
        per_image.append(
            ImageFaces(
                boxes=np.array(boxes, dtype=np.int32).reshape(-1, 4),
                scores=np.array([f.score for f in faces], dtype=np.float32),
                embeddings=np.zeros((len(faces), embedder.dim), dtype=np.float32),
                face_indices=np.array(indices, dtype=np.int32),
                quality=_in_original(np.array(quality, np.float32).reshape(-1, len(COMPONENTS)),
                                     decoded.scale),
            )
        )
    t4 = time.perf_counter()
    if chips:
        vectors = embedder.embed(np.stack(chips))
        owners_arr = np.array(owners)
        for position, result in enumerate(per_image):
            if result.error is None and len(result.scores):
                result.embeddings = vectors[owners_arr == position]
    seconds["embed"] += time.perf_counter() - t4
    return per_image, seconds
