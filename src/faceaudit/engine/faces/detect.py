"""Find every face in an image, with its 5 landmarks (dlib HOG or CNN, or CenterFace).

Detection has a work budget: the image the detector scans (after upsampling) is at most
:data:`MAX_DETECTOR_SIDE` pixels on its longer side; a larger image is scaled down for detection
and the boxes are mapped back. Faces smaller than :func:`detection_limits` ``min_face_px`` cannot
be found in it, and callers report that number rather than miss them silently.

Detection does only the work it needs unless told otherwise (``upsample=None``, the default): a
first pass scans the image at its own size (no upsampling, at most :data:`FIRST_PASS_SIDE` px),
which finds every face of 80 px or more in a quarter of the time of an upsampled scan; only an
image where it finds nothing is scanned again at upsample :data:`RETRY_UPSAMPLE` (faces down to
40 px). The limits returned with the faces are those of the pass that produced them. An explicit
``upsample=N`` scans once at N, for callers that must find every small face (redaction).

dlib objects are not documented as thread-safe, so no instance is shared by two threads at once:
each model lives in a small pool of instances, created lazily when every existing one is in use
(so there are as many as the peak number of concurrent detections, one in the CLI). Concurrent
requests never wait on one global lock.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal

import dlib
import numpy as np
from PIL import Image

from faceaudit.base.errors import FaceAuditError
from faceaudit.engine.faces.box import Box
from faceaudit.engine.faces.budget import check_time
from faceaudit.engine.faces.centerface import DEFAULT_THRESHOLD, centerface_detect
from faceaudit.engine.faces.hog_model import frontal_face_detector
from faceaudit.engine.models.files import MMOD_DETECTOR, SHAPE_5, dlib_model_path

Detector = Literal["hog", "cnn", "centerface"]
DETECTORS: tuple[str, ...] = ("hog", "cnn", "centerface")

#: Longest side, in pixels, of the image the detector scans after upsampling (1280 px of input
#: at the default upsample of 1); larger inputs are scaled down for detection.
MAX_DETECTOR_SIDE = 2560
#: Smallest face (box side, in the pixels the detector scans) dlib's detectors are trained for.
DETECTOR_MIN_FACE = 80
#: The same for each detector (CenterFace: see faces/centerface.py).
MIN_FACE_BY_DETECTOR = {"hog": DETECTOR_MIN_FACE, "cnn": DETECTOR_MIN_FACE, "centerface": 12}
#: Longest side, in pixels, of the first pass's scan (no upsampling) when upsample is left to the
#: engine: a larger image is scanned on a scaled-down copy first (faces of 80 px there).
FIRST_PASS_SIDE = 1280
#: Upsampling of the second pass, run only where the first pass finds no face.
RETRY_UPSAMPLE = 1
#: dlib's 5 landmarks in order, named by the side of the image they are on (the "right" eye is on
#: the image's right: the person's own left eye), as face_recognition names this model's points.
LANDMARK_NAMES = ("right_eye_outer", "right_eye_inner", "left_eye_outer", "left_eye_inner",
                  "nose_base")


class _ModelPool:
    """Instances of one dlib model, each lent to one thread at a time, made when none is free."""

    def __init__(self, load: Callable[[], object]) -> None:
        self._load = load
        self._free: list[object] = []
        self._lock = threading.Lock()

    @contextmanager
    def borrow(self) -> Iterator:
        """A model instance no other thread is using, for the duration of the block."""
        with self._lock:
            model = self._free.pop() if self._free else None
        if model is None:
            model = self._load()
        try:
            yield model
        finally:
            with self._lock:
                self._free.append(model)


@dataclass(frozen=True)
class Face:
    """One detected face.

    ``box`` is a :class:`~faceaudit.engine.faces.box.Box` (left, top, right, bottom) in pixels,
    clipped to the image; ``score`` is the
    detector's confidence (HOG: SVM margin, CNN: mmod confidence); ``landmarks`` is a (5, 2)
    float array of x, y: the outer and inner corner of the eye on the image's right, the same on
    the image's left, and the base of the nose (dlib's 5-point order, :data:`LANDMARK_NAMES`).
    """

    box: Box
    score: float
    landmarks: np.ndarray

    def __post_init__(self) -> None:
        if not isinstance(self.box, Box):
            object.__setattr__(self, "box", Box(*(int(v) for v in self.box)))

    def to_dict(self) -> dict:
        """JSON-ready form with named fields: ``box`` ``{left, top, right, bottom}``, ``score``,
        ``landmarks`` ``{name: {x, y}}`` for each of :data:`LANDMARK_NAMES`."""
        points = np.round(self.landmarks.astype(np.float64), 1).tolist()
        return {
            "box": self.box.to_dict(),
            "score": round(float(self.score), 4),
            "landmarks": {name: {"x": x, "y": y}
                          for name, (x, y) in zip(LANDMARK_NAMES, points, strict=True)},
        }

    def scaled(self, factor: float, width: int, height: int) -> Face:
        """This face with box and landmarks multiplied by ``factor``, clipped to width × height."""
        left, top, right, bottom = (v * factor for v in self.box)
        box = Box(
            max(0, int(round(left))),
            max(0, int(round(top))),
            min(width - 1, int(round(right))),
            min(height - 1, int(round(bottom))),
        )
        return Face(box=box, score=self.score, landmarks=self.landmarks * np.float32(factor))


@dataclass(frozen=True)
class DetectionLimits:
    """What the work budget did to one detection: the scale used and the smallest findable face.

    ``scale`` is detector pixels / input pixels before upsampling (1.0: not scaled down);
    ``min_face_px`` is the smallest face side, in input pixels, the detector can find at that
    scale and upsampling.
    """

    scale: float
    upsample: int
    min_face_px: int
    max_detector_side: int = MAX_DETECTOR_SIDE
    detector_min_face: int = DETECTOR_MIN_FACE

    def in_original(self, image_scale: float) -> DetectionLimits:
        """The same limits for an input that was itself scaled by ``image_scale`` when decoded."""
        scale = self.scale * image_scale
        return DetectionLimits(scale, self.upsample,
                               _min_face(scale, self.upsample, self.detector_min_face),
                               self.max_detector_side, self.detector_min_face)

    def to_dict(self) -> dict:
        """JSON-ready form: scale, upsample, min_face_px, max_detector_side."""
        return {
            "scale": round(self.scale, 6),
            "upsample": self.upsample,
            "min_face_px": self.min_face_px,
            "max_detector_side": self.max_detector_side,
        }


def _min_face(scale: float, upsample: int, smallest: int = DETECTOR_MIN_FACE) -> int:
    return math.ceil(smallest / (2**upsample) / scale)


def detection_scale(width: int, height: int, upsample: int = 1,
                    max_side: int = MAX_DETECTOR_SIDE) -> float:
    """Factor (≤ 1) that keeps the detector's scan of a width × height image within budget."""
    scanned = max(width, height) * 2**upsample
    return 1.0 if scanned <= max_side else max_side / scanned


def detection_limits(width: int, height: int, upsample: int = 1,
                     max_side: int = MAX_DETECTOR_SIDE, detector: str = "hog") -> DetectionLimits:
    """The scale and the smallest findable face for detecting in a width × height image."""
    if detector == "centerface":
        upsample = 0  # CenterFace scans the image at its own size (see detect_faces)
    scale = detection_scale(width, height, upsample, max_side)
    smallest = MIN_FACE_BY_DETECTOR.get(detector, DETECTOR_MIN_FACE)
    return DetectionLimits(scale, upsample, _min_face(scale, upsample, smallest), max_side,
                           smallest)


_HOG = _ModelPool(frontal_face_detector)
_CNN = _ModelPool(lambda: dlib.cnn_face_detection_model_v1(str(dlib_model_path(MMOD_DETECTOR))))
_SHAPE_5 = _ModelPool(lambda: dlib.shape_predictor(str(dlib_model_path(SHAPE_5))))


def _clip_box(rect: dlib.rectangle, width: int, height: int) -> tuple[int, int, int, int]:
    return (
        max(0, rect.left()),
        max(0, rect.top()),
        min(width - 1, rect.right()),
        min(height - 1, rect.bottom()),
    )


def landmarks_for_box(image: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """Run the 5-point shape predictor inside ``box`` and return a (5, 2) float array."""
    return landmarks_for_boxes(image, [box])[0]


def landmarks_for_boxes(image: np.ndarray,
                        boxes: list[tuple[int, int, int, int]]) -> list[np.ndarray]:
    """The 5 landmarks inside each box, one (5, 2) float32 array per box (one predictor loan)."""
    if not boxes:
        return []
    with _SHAPE_5.borrow() as predictor:
        shapes = [predictor(image, dlib.rectangle(*(int(v) for v in box))) for box in boxes]
    return [np.array([[p.x, p.y] for p in shape.parts()], dtype=np.float32) for shape in shapes]


def detect_faces(
    image: np.ndarray,
    detector: Detector | str = "hog",
    upsample: int | None = None,
    max_side: int = MAX_DETECTOR_SIDE,
) -> list[Face]:
    """Return every face in ``image`` (an (H, W, 3) RGB uint8 array), best score first.

    The faces of :func:`find_faces`, without its limits.
    """
    return find_faces(image, detector, upsample, max_side)[0]


def find_faces(
    image: np.ndarray,
    detector: Detector | str = "hog",
    upsample: int | None = None,
    max_side: int = MAX_DETECTOR_SIDE,
) -> tuple[list[Face], DetectionLimits]:
    """Every face in ``image`` (an (H, W, 3) RGB uint8 array), best score first, and the limits
    of the scan that found them.

    ``detector`` is ``"hog"`` (dlib's frontal HOG detector, fast, the default) or ``"cnn"``
    (dlib's mmod CNN, slower on CPU, better on small or rotated faces) or ``"centerface"`` (a
    small CNN run by onnxruntime, see :mod:`faceaudit.engine.faces.centerface`). ``upsample``
    doubles the
    image that many times before detecting, to find smaller faces (dlib only); ``None`` (the
    default) scans without upsampling first and at :data:`RETRY_UPSAMPLE` only if that finds no
    face (see the module's docstring). The scan is at most ``max_side`` pixels on its longer side
    after upsampling: a larger image is scaled down for detection (see :func:`detection_limits`);
    boxes and landmarks are always in ``image``'s pixels.
    """
    if detector not in DETECTORS:
        raise FaceAuditError(f"unknown detector {detector!r}; choose one of {', '.join(DETECTORS)}")
    if upsample is not None and not 0 <= upsample <= 3:
        raise FaceAuditError(f"upsample must be between 0 and 3, got {upsample}")
    height, width = image.shape[:2]
    if detector == "centerface":  # finds small faces at the image's own size: no upsampling
        limits = detection_limits(width, height, 0, max_side, detector)
        return detect_centerface(image, detection_scale(width, height, 0, max_side)), limits
    if upsample is not None:
        return _scan(image, detector, upsample, max_side)
    copies: dict[tuple[int, int], np.ndarray] = {}  # both passes often scan the same copy
    faces, limits = _scan(image, detector, 0, min(max_side, FIRST_PASS_SIDE), copies)
    if faces:
        return faces, limits
    return _scan(image, detector, RETRY_UPSAMPLE, max_side, copies)


def detect_centerface(image: np.ndarray, scale: float = 1.0,
                      threshold: float = DEFAULT_THRESHOLD) -> list[Face]:
    """Every face CenterFace finds in ``image`` as a :class:`Face`, best score first.

    ``scale`` and ``threshold`` are :func:`~faceaudit.engine.faces.centerface.centerface_detect`'s.
    Boxes are CenterFace's, rounded and clipped; ``landmarks`` are dlib's 5 points (what the
    aligners expect) from dlib's shape predictor run inside CenterFace's box.
    """
    check_time("face detection")
    found = centerface_detect(image, threshold=threshold, scale=scale)
    check_time("landmarks")
    height, width = image.shape[:2]
    faces = []
    for box, score in zip(found.boxes, found.scores, strict=True):
        left, top = max(0, int(round(box[0]))), max(0, int(round(box[1])))
        right, bottom = min(width - 1, int(round(box[2]))), min(height - 1, int(round(box[3])))
        if right <= left or bottom <= top:
            continue
        clipped = Box(left, top, right, bottom)
        faces.append(Face(box=clipped, score=float(score),
                          landmarks=landmarks_for_box(image, clipped)))
    return faces


def _scan(image: np.ndarray, detector: str, upsample: int, max_side: int,
          copies: dict[tuple[int, int], np.ndarray] | None = None,
          ) -> tuple[list[Face], DetectionLimits]:
    """One dlib detector pass at ``upsample`` within ``max_side``, landmarks at full size.

    ``copies`` keeps the scaled-down copies of ``image`` by size, for the next pass to reuse.
    """
    height, width = image.shape[:2]
    limits = detection_limits(width, height, upsample, max_side, detector)
    scale = limits.scale
    scanned = image
    if scale < 1.0:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        copies = {} if copies is None else copies
        if size not in copies:
            copies[size] = np.asarray(
                Image.fromarray(image).resize(size, Image.Resampling.BILINEAR))
        scanned = copies[size]
    check_time("face detection")
    if detector == "hog":
        with _HOG.borrow() as hog:
            rects, scores, _ = hog.run(scanned, upsample, 0.0)
        found = list(zip(rects, scores, strict=True))
    else:
        with _CNN.borrow() as cnn:
            found = [(d.rect, d.confidence) for d in cnn(scanned, upsample)]
    check_time("landmarks")
    boxes, kept_scores = [], []
    for rect, score in found:
        box = _clip_box(rect, scanned.shape[1], scanned.shape[0])
        if scale < 1.0:
            box = _clip_box(dlib.rectangle(*(int(round(v / scale)) for v in box)), width, height)
        if box[2] <= box[0] or box[3] <= box[1]:
            continue
        boxes.append(box)
        kept_scores.append(float(score))
    faces = [Face(box=Box(*box), score=score, landmarks=points) for box, score, points
             in zip(boxes, kept_scores, landmarks_for_boxes(image, boxes), strict=True)]
    faces.sort(key=lambda f: f.score, reverse=True)
    return faces, limits


def centre_face(image: np.ndarray) -> Face:
    """A face assumed at the image centre, for benchmark images where detection fails.

    This is what LFW benchmarks do for the few images the detector misses: the faces there are
    centred by construction. The box covers the middle 44 % of the image; landmarks come from
    the shape predictor inside that box. The score is 0.
    """
    height, width = image.shape[:2]
    box = Box(int(width * 0.28), int(height * 0.28), int(width * 0.72), int(height * 0.72))
    return Face(box=box, score=0.0, landmarks=landmarks_for_box(image, box))
