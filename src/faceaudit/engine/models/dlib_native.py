"""dlib's own runtime for its face ResNet: the reference the ONNX path is tested against."""

from __future__ import annotations

import threading

import dlib
import numpy as np

from faceaudit.engine.models.base import ChipSpec, l2_normalise
from faceaudit.engine.models.files import FACE_RESNET, dlib_model_path

DLIB_CHIP = ChipSpec(size=150, kind="dlib", padding=0.25)


class DlibNativeEmbedder:
    """dlib-bin's ``face_recognition_model_v1`` (about 70 ms per face on one core here)."""

    name = "dlib-native"
    version = "1"
    dim = 128
    chip = DLIB_CHIP

    def __init__(self) -> None:
        self._model = dlib.face_recognition_model_v1(str(dlib_model_path(FACE_RESNET)))
        self._lock = threading.Lock()

    @property
    def backend_id(self) -> str:
        """``dlib-native:1``."""
        return f"{self.name}:{self.version}"

    def raw_descriptors(self, chips: np.ndarray) -> np.ndarray:
        """dlib's un-normalised 128-D descriptors for aligned 150×150 RGB chips."""
        with self._lock:
            rows = [np.asarray(self._model.compute_face_descriptor(c)) for c in chips]
        return np.asarray(rows, dtype=np.float32).reshape(len(chips), self.dim)

    def embed(self, chips: np.ndarray) -> np.ndarray:
        """Unit-norm float32 embeddings of shape (N, 128)."""
        return l2_normalise(self.raw_descriptors(chips))
