"""The one interface every embedding backend implements."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

import numpy as np


@dataclass(frozen=True)
class ChipSpec:
    """How a face must be cropped and aligned before a backend can embed it.

    ``kind`` names the alignment: ``"dlib"`` is dlib's ``get_face_chip`` (5-point landmarks,
    ``padding`` around the face), ``"arcface"`` a similarity transform of the eye centres and
    nose tip onto the ArcFace 112×112 reference points.
    """

    size: int
    kind: Literal["dlib", "arcface"]
    padding: float = 0.25


@runtime_checkable
class Embedder(Protocol):
    """A face embedding model: aligned RGB chips in, L2-normalised float32 vectors out."""

    name: str
    version: str
    dim: int
    chip: ChipSpec

    @property
    def backend_id(self) -> str:
        """Stable identifier ``name:version`` stored with every template and audit."""
        ...

    def embed(self, chips: np.ndarray) -> np.ndarray:
        """Embed a batch of chips.

        ``chips`` is uint8 of shape (N, size, size, 3), RGB. Returns float32 (N, dim), each row
        of unit L2 norm.
        """
        ...


def l2_normalise(vectors: np.ndarray) -> np.ndarray:
    """Return ``vectors`` as float32 rows of unit L2 norm (zero rows stay zero)."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return (vectors / norms).astype(np.float32)
