"""Pick an embedding backend by name; each is loaded lazily, once per process and thread count."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from faceaudit.base.errors import FaceAuditError
from faceaudit.engine.models.base import Embedder
from faceaudit.engine.models.threads import session_threads

BACKENDS: tuple[str, ...] = ("dlib-resnet", "dlib-native", "onnx")
DEFAULT_BACKEND = "dlib-resnet"
#: the backends run by onnxruntime, whose sessions take a thread count
ONNX_BACKENDS = ("dlib-resnet", "onnx")


@cache
def _load(name: str, model: Path | None, threads: int | None) -> Embedder:
    if name == "dlib-resnet":
        from faceaudit.engine.models.dlib_resnet import DlibResnetEmbedder

        return DlibResnetEmbedder(threads)
    if name == "dlib-native":
        from faceaudit.engine.models.dlib_native import DlibNativeEmbedder

        return DlibNativeEmbedder()
    from faceaudit.engine.models.onnx_model import OnnxArcFaceEmbedder

    if model is None:  # get_embedder refuses this first; kept for direct callers
        raise FaceAuditError("the onnx backend needs --model FILE (an ArcFace-style .onnx)")
    return OnnxArcFaceEmbedder(model, threads)


def get_embedder(name: str = DEFAULT_BACKEND, model: str | Path | None = None,
                 threads: int | None = None) -> Embedder:
    """Return the embedder called ``name`` (cached: the model is loaded once per process and
    thread count).

    ``model`` is the ONNX file for the ``onnx`` backend and must be omitted for the others.
    ``threads`` is the onnxruntime session's thread count (None: the user's
    ``FACEAUDIT_THREADS``, else every core; see :mod:`faceaudit.engine.models.threads`);
    ``dlib-native`` takes none.
    """
    if name not in BACKENDS:
        raise FaceAuditError(f"unknown backend {name!r}; choose one of {', '.join(BACKENDS)}")
    if name == "onnx" and model is None:
        raise FaceAuditError("the onnx backend needs --model FILE (an ArcFace-style .onnx)")
    if name != "onnx" and model is not None:
        raise FaceAuditError(f"--model applies only to the onnx backend, not {name}")
    count = session_threads(threads) if name in ONNX_BACKENDS else None
    return _load(name, Path(model).resolve() if model is not None else None, count)
