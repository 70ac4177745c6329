"""Cut each face out of its image as an aligned chip, the way each backend expects it."""

from __future__ import annotations

import dlib
import numpy as np
from PIL import Image

from faceaudit.engine.faces.detect import Face
from faceaudit.engine.models.base import ChipSpec

# ArcFace's 112×112 reference positions (insightface): left eye, right eye, nose tip.
ARCFACE_EYES_NOSE = np.array(
    [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366]], dtype=np.float64
)


def _dlib_shape(face: Face) -> dlib.full_object_detection:
    rect = dlib.rectangle(*(int(v) for v in face.box))
    points = [dlib.point(int(round(x)), int(round(y))) for x, y in face.landmarks]
    return dlib.full_object_detection(rect, points)


def _dlib_chips(image: np.ndarray, faces: list[Face], spec: ChipSpec) -> np.ndarray:
    """Every face's chip in one ``dlib.get_face_chips`` call (same pixels as one at a time)."""
    shapes = dlib.full_object_detections()
    shapes.extend(_dlib_shape(face) for face in faces)
    chips = dlib.get_face_chips(image, shapes, size=spec.size, padding=spec.padding)
    return np.stack([np.asarray(chip) for chip in chips])


def similarity_transform(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity transform (Umeyama 1991) mapping ``src`` points onto ``dst``.

    Returns the 2×3 matrix ``M`` with ``dst ≈ M @ [x, y, 1]``.
    """
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    src_mean, dst_mean = src.mean(axis=0), dst.mean(axis=0)
    src_c, dst_c = src - src_mean, dst - dst_mean
    cov = dst_c.T @ src_c / len(src)
    u, s, vt = np.linalg.svd(cov)
    d = np.ones(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        d[-1] = -1
    rotation = u @ np.diag(d) @ vt
    scale = (s * d).sum() / src_c.var(axis=0).sum()
    matrix = np.zeros((2, 3))
    matrix[:, :2] = scale * rotation
    matrix[:, 2] = dst_mean - matrix[:, :2] @ src_mean
    return matrix


def arcface_points(landmarks: np.ndarray) -> np.ndarray:
    """Eye centres (image-left first) and nose base from dlib's 5 landmarks, as a (3, 2) array."""
    eye_a = landmarks[0:2].mean(axis=0)
    eye_b = landmarks[2:4].mean(axis=0)
    left, right = (eye_a, eye_b) if eye_a[0] <= eye_b[0] else (eye_b, eye_a)
    return np.stack([left, right, landmarks[4]])


def _arcface_chip(image: np.ndarray, face: Face, spec: ChipSpec) -> np.ndarray:
    reference = ARCFACE_EYES_NOSE * (spec.size / 112.0)
    forward = similarity_transform(arcface_points(face.landmarks), reference)
    inverse = np.linalg.inv(np.vstack([forward, [0.0, 0.0, 1.0]]))[:2]
    chip = Image.fromarray(image).transform(
        (spec.size, spec.size), Image.Transform.AFFINE, inverse.ravel().tolist(),
        resample=Image.Resampling.BILINEAR,
    )
    return np.asarray(chip, dtype=np.uint8)


def face_chips(image: np.ndarray, faces: list[Face], spec: ChipSpec) -> np.ndarray:
    """Return aligned chips for ``faces`` as uint8 (N, size, size, 3) RGB.

    ``spec.kind == "dlib"`` uses dlib's ``get_face_chip`` (what dlib's ResNet was trained on);
    ``"arcface"`` maps eye centres and nose base onto ArcFace's reference points with a
    similarity transform (dlib's 5-point model has no mouth corners, so three of ArcFace's five
    points are used).
    """
    if not faces:
        return np.zeros((0, spec.size, spec.size, 3), dtype=np.uint8)
    if spec.kind == "dlib":
        return _dlib_chips(image, faces, spec)
    return np.stack([_arcface_chip(image, face, spec) for face in faces])
