"""The default backend: dlib's face ResNet converted to ONNX and run by onnxruntime.

The onnxruntime session opens on the first embedding, not when the embedder is made: a command
that finds no face to embed (a blank upload, a photo without a face) never pays for loading the
network (issue 21's pixel budget).
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from faceaudit.engine.models.base import l2_normalise
from faceaudit.engine.models.dlib_native import DLIB_CHIP


class DlibResnetEmbedder:
    """dlib_face_recognition_resnet_model_v1 in onnxruntime (same numbers as dlib, ~20× faster)."""

    name = "dlib-resnet"
    version = "1"
    dim = 128
    chip = DLIB_CHIP

    def __init__(self, threads: int | None = None) -> None:
        self._threads = threads
        self._session: Any = None  # an onnxruntime.InferenceSession once opened
        self._input = ""
        self._lock = threading.Lock()

    @property
    def loaded(self) -> bool:
        """Whether the network has been loaded (it is, on the first embedding)."""
        return self._session is not None

    def session(self) -> Any:
        """The onnxruntime session, opened now if it is not yet."""
        return self._session or self._open()

    def _open(self) -> Any:
        with self._lock:
            if self._session is None:
                from faceaudit.engine.models.dlib_onnx_cache import dlib_resnet_onnx
                from faceaudit.engine.models.onnx_runtime import open_session

                session = open_session(dlib_resnet_onnx(), self._threads)
                self._input = session.get_inputs()[0].name
                self._session = session
            return self._session

    @property
    def backend_id(self) -> str:
        """``dlib-resnet:1``."""
        return f"{self.name}:{self.version}"

    def raw_descriptors(self, chips: np.ndarray) -> np.ndarray:
        """The network's un-normalised 128-D output, as dlib would return it."""
        batch = np.ascontiguousarray(chips, dtype=np.float32)
        if len(batch) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        return self.session().run(None, {self._input: batch})[0]

    def embed(self, chips: np.ndarray) -> np.ndarray:
        """Unit-norm float32 embeddings of shape (N, 128)."""
        return l2_normalise(self.raw_descriptors(chips))
