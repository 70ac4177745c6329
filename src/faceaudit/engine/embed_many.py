"""Many images at once for library callers: the batch module's run, one result per input.

:func:`embed_many` runs :func:`faceaudit.engine.embed_files.embed_paths` (every core, the embedding
cache,
models loaded once per worker) and hands back, in the order given, one :class:`ImageEmbeddings`
per input: its boxes, detector scores and embeddings, or the typed error that refused it. Nothing
is raised for one bad file among many; a refused input says why, as the CLI's ``embed`` does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from faceaudit.base.errors import (
    ImageError,
    ImageInputError,
    ImageTooLargeError,
    InputDataError,
    TruncatedImageError,
    UnreadableImageError,
    UnsupportedImageError,
)
from faceaudit.engine.faces.box import Box

_ERRORS_BY_CODE: dict[str, type[ImageError]] = {
    cls.code: cls
    for cls in (ImageError, UnreadableImageError, TruncatedImageError, ImageTooLargeError,
                UnsupportedImageError, ImageInputError)
}


@dataclass(frozen=True)
class ImageEmbeddings:
    """What one input of :func:`embed_many` produced.

    ``boxes`` are in the image's own pixels, best detector score first, with their detector
    ``scores``; ``embeddings`` is float32 (len(boxes), dim), unit-norm, one row per box.
    ``quality`` holds each box's image quality components (docs/quality.md).
    ``error`` is the typed error (an :class:`~faceaudit.base.errors.ImageError`) when the input was
    refused; then there are no boxes. An image where no face was found has no boxes and no error
    (see :attr:`no_face`).
    """

    path: Path
    boxes: list[Box] = field(default_factory=list)
    scores: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    embeddings: np.ndarray = field(default_factory=lambda: np.zeros((0, 128), np.float32))
    error: ImageError | None = None
    #: one dict of image quality components per box (docs/quality.md), unrounded
    quality: list[dict[str, float]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when the input was read and searched for faces (found or not)."""
        return self.error is None

    @property
    def no_face(self) -> bool:
        """True when the input was read but holds no face the detector found."""
        return self.error is None and not self.boxes


def embed_many(
    paths: Sequence[str | Path],
    *,
    workers: int | None = None,
    backend: str | None = None,
    model: str | Path | None = None,
    detector: str = "hog",
    upsample: int | None = None,
    use_cache: bool = True,
    progress: bool = False,
) -> list[ImageEmbeddings]:
    """Detect and embed every face of every image file in ``paths``, one result per input.

    ``workers`` processes share the work (default: every core; 1 runs in this process). Results
    are cached like the CLI's ``embed`` (``use_cache=False`` to bypass), so a repeated call does
    no model work. ``backend``/``model``/``detector``/``upsample`` are those of
    :func:`faceaudit.engine.api.face_embeddings`.

    Raises:
        InputDataError: ``workers`` is below 1 or ``paths`` is a single string (not a list).
        FaceAuditError: an unknown backend or detector (nothing was run).
    """
    from faceaudit.engine.embed_files import (
        QUALITY_COLUMNS,
        EmbedSettings,
        embed_paths,
        embeddings_matrix,
    )
    from faceaudit.engine.faces.quality import COMPONENTS
    from faceaudit.engine.models.registry import DEFAULT_BACKEND

    if isinstance(paths, str | Path):
        raise InputDataError("embed_many takes a list of paths, not one path")
    if workers is not None and workers < 1:
        raise InputDataError(f"workers must be at least 1, got {workers}")
    files = [Path(p) for p in paths]
    if not files:
        return []
    settings = EmbedSettings(backend or DEFAULT_BACKEND, str(model) if model else None,
                             detector, upsample, "skip", primary_only=False)
    unique = list(dict.fromkeys(files))  # a file given twice is embedded once
    table, run = embed_paths(unique, None, settings, workers=workers, progress=progress,
                             use_cache=use_cache)
    vectors = embeddings_matrix(table)
    rows: dict[str, list[int]] = {}
    for row, label in enumerate(table.column("path").to_pylist()):
        rows.setdefault(label, []).append(row)
    boxes = np.asarray(table.column("box").to_pylist(), dtype=np.int64).reshape(-1, 4)
    scores = table.column("det_score").to_numpy()
    quality = {name: table.column(column).to_numpy()
               for name, column in zip(COMPONENTS, QUALITY_COLUMNS, strict=True)}
    results = []
    for path in files:
        label = str(path)
        if label in run.errors:
            cls = _ERRORS_BY_CODE.get(run.error_codes.get(label, ""), ImageError)
            results.append(ImageEmbeddings(path, error=cls(run.errors[label]),
                                           embeddings=np.zeros((0, vectors.shape[1]),
                                                               np.float32)))
            continue
        mine = rows.get(label, [])
        results.append(ImageEmbeddings(
            path,
            boxes=[Box(*(int(v) for v in boxes[r])) for r in mine],
            scores=scores[mine].astype(np.float32),
            embeddings=vectors[mine],
            quality=[{name: float(values[r]) for name, values in quality.items()} for r in mine],
        ))
    return results
