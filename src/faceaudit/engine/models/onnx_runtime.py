"""One place that opens onnxruntime sessions, with the thread count the caller asks for."""

from __future__ import annotations

from pathlib import Path

import onnxruntime as ort

from faceaudit.base.errors import ModelError
from faceaudit.engine.models.threads import session_threads


def open_session(model_path: Path, threads: int | None = None) -> ort.InferenceSession:
    """Open ``model_path`` on the CPU with ``threads`` intra-op threads (None: the default of
    :func:`~faceaudit.engine.models.threads.session_threads`); a malformed file raises
    :class:`ModelError`."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = session_threads(threads)
    options.inter_op_num_threads = 1
    try:
        return ort.InferenceSession(
            str(model_path), sess_options=options, providers=["CPUExecutionProvider"]
        )
    except Exception as exc:  # onnxruntime raises its own untyped errors for bad files
        raise ModelError(f"cannot load ONNX model {model_path}: {exc}") from None
