"""Any ArcFace-style ONNX model the user supplies (112×112, 5-point similarity alignment)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from faceaudit.base.errors import ModelError
from faceaudit.engine.models.base import ChipSpec, l2_normalise
from faceaudit.engine.models.onnx_runtime import open_session


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class OnnxArcFaceEmbedder:
    """An ArcFace-convention model: RGB input normalised as (pixel − 127.5) / 127.5.

    The input layout (NCHW or NHWC) and chip size are read from the model's input shape; the
    embedding size from its output. ``version`` is the first 12 hex digits of the file's
    SHA-256, so templates made by a different file are never mixed with these.
    """

    name = "onnx"

    def __init__(self, model_path: Path, threads: int | None = None) -> None:
        model_path = Path(model_path)
        if not model_path.is_file():
            raise ModelError(f"ONNX model not found: {model_path}")
        self._session = open_session(model_path, threads)
        inputs = self._session.get_inputs()
        if len(inputs) != 1 or len(inputs[0].shape) != 4:
            raise ModelError(f"{model_path}: expected one 4-D image input")
        self._input = inputs[0].name
        shape = inputs[0].shape
        self._channels_first = shape[1] == 3
        side = shape[2] if self._channels_first else shape[1]
        size = side if isinstance(side, int) else 112
        if not self._channels_first and shape[3] != 3:
            raise ModelError(f"{model_path}: input must have 3 channels, got shape {shape}")
        self.chip = ChipSpec(size=size, kind="arcface", padding=0.0)
        self.model_sha256 = file_sha256(model_path)
        self.version = self.model_sha256[:12]
        probe = self._run(np.zeros((1, size, size, 3), dtype=np.uint8))
        if probe.ndim != 2:
            raise ModelError(f"{model_path}: expected a 2-D (batch, dim) output, got {probe.shape}")
        self.dim = int(probe.shape[1])

    @property
    def backend_id(self) -> str:
        """``onnx:<sha256 prefix>``."""
        return f"{self.name}:{self.version}"

    def _run(self, chips: np.ndarray) -> np.ndarray:
        batch = (np.asarray(chips, dtype=np.float32) - 127.5) / 127.5
        if self._channels_first:
            batch = batch.transpose(0, 3, 1, 2)
        return self._session.run(None, {self._input: np.ascontiguousarray(batch)})[0]

    def embed(self, chips: np.ndarray) -> np.ndarray:
        """Unit-norm float32 embeddings of shape (N, dim)."""
        if len(chips) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        return l2_normalise(self._run(chips))
