"""One place that opens onnxruntime sessions, with the thread count the machine allows."""

from __future__ import annotations

import os
from pathlib import Path

import onnxruntime as ort

from faceaudit.base.errors import ModelError


def default_threads() -> int:
    """Threads per session: ``FACEAUDIT_THREADS`` or every core this process may use."""
    env = os.environ.get("FACEAUDIT_THREADS")
    if env:
        return max(1, int(env))
    return max(1, len(os.sched_getaffinity(0)))


def open_session(model_path: Path, threads: int | None = None) -> ort.InferenceSession:
    """Open ``model_path`` on the CPU; a malformed file raises :class:`ModelError`."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or default_threads()
    options.inter_op_num_threads = 1
    try:
        return ort.InferenceSession(
            str(model_path), sess_options=options, providers=["CPUExecutionProvider"]
        )
    except Exception as exc:  # onnxruntime raises its own untyped errors for bad files
        raise ModelError(f"cannot load ONNX model {model_path}: {exc}") from None
