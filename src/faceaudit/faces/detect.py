"""Find every face in an image, with its 5 landmarks (dlib HOG or CNN detector)."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import cache
from typing import Literal

import dlib
import numpy as np

from faceaudit.errors import FaceAuditError
from faceaudit.models.files import MMOD_DETECTOR, SHAPE_5, dlib_model_path

Detector = Literal["hog", "cnn"]
DETECTORS: tuple[str, ...] = ("hog", "cnn")

# dlib objects are not documented as thread-safe; one lock per model keeps the service safe.
_LOCK = threading.Lock()


@dataclass(frozen=True)
class Face:
    """One detected face.

    ``box`` is (left, top, right, bottom) in pixels, clipped to the image; ``score`` is the
    detector's confidence (HOG: SVM margin, CNN: mmod confidence); ``landmarks`` is a (5, 2)
    float array of x, y: the outer and inner corner of each eye and the base of the nose, in
    dlib's 5-point order.
    """

    box: tuple[int, int, int, int]
    score: float
    landmarks: np.ndarray

    def to_dict(self) -> dict:
        """JSON-ready form: box, score and landmarks as plain lists."""
        return {
            "box": list(self.box),
            "score": round(float(self.score), 4),
            "landmarks": np.round(self.landmarks, 1).tolist(),
        }


@cache
def _hog_detector() -> dlib.fhog_object_detector:
    return dlib.get_frontal_face_detector()


@cache
def _cnn_detector() -> dlib.cnn_face_detection_model_v1:
    return dlib.cnn_face_detection_model_v1(str(dlib_model_path(MMOD_DETECTOR)))


@cache
def _shape_predictor() -> dlib.shape_predictor:
    return dlib.shape_predictor(str(dlib_model_path(SHAPE_5)))


def _clip_box(rect: dlib.rectangle, width: int, height: int) -> tuple[int, int, int, int]:
    return (
        max(0, rect.left()),
        max(0, rect.top()),
        min(width - 1, rect.right()),
        min(height - 1, rect.bottom()),
    )


def landmarks_for_box(image: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """Run the 5-point shape predictor inside ``box`` and return a (5, 2) float array."""
    rect = dlib.rectangle(*(int(v) for v in box))
    with _LOCK:
        shape = _shape_predictor()(image, rect)
    return np.array([[p.x, p.y] for p in shape.parts()], dtype=np.float32)


def detect_faces(image: np.ndarray, detector: Detector = "hog", upsample: int = 1) -> list[Face]:
    """Return every face in ``image`` (an (H, W, 3) RGB uint8 array), best score first.

    ``detector`` is ``"hog"`` (dlib's frontal HOG detector, fast, the default) or ``"cnn"``
    (dlib's mmod CNN, slower on CPU, better on small or rotated faces). ``upsample`` doubles the
    image that many times before detecting, to find smaller faces.
    """
    if detector not in DETECTORS:
        raise FaceAuditError(f"unknown detector {detector!r}; choose one of {', '.join(DETECTORS)}")
    if not 0 <= upsample <= 3:
        raise FaceAuditError(f"upsample must be between 0 and 3, got {upsample}")
    height, width = image.shape[:2]
    with _LOCK:
        if detector == "hog":
            rects, scores, _ = _hog_detector().run(image, upsample, 0.0)
            found = list(zip(rects, scores, strict=True))
        else:
            found = [(d.rect, d.confidence) for d in _cnn_detector()(image, upsample)]
    faces = []
    for rect, score in found:
        box = _clip_box(rect, width, height)
        if box[2] <= box[0] or box[3] <= box[1]:
            continue
        faces.append(Face(box=box, score=float(score), landmarks=landmarks_for_box(image, box)))
    faces.sort(key=lambda f: f.score, reverse=True)
    return faces


def centre_face(image: np.ndarray) -> Face:
    """A face assumed at the image centre, for benchmark images where detection fails.

    This is what LFW benchmarks do for the few images the detector misses: the faces there are
    centred by construction. The box covers the middle 44 % of the image; landmarks come from
    the shape predictor inside that box. The score is 0.
    """
    height, width = image.shape[:2]
    box = (int(width * 0.28), int(height * 0.28), int(width * 0.72), int(height * 0.72))
    return Face(box=box, score=0.0, landmarks=landmarks_for_box(image, box))
