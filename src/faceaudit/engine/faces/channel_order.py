"""A heuristic warning for an OpenCV (BGR) array passed as RGB.

A face's skin is redder than it is blue in virtually every lighting, so when every detected
face of a 3-channel array has a mean *first* channel below its mean *third* channel, the array
is most likely BGR (``cv2.imread``) passed without ``color="bgr"``: embeddings of such pixels
are poorer, silently. The call goes on; a :class:`BgrWarning` says so once per call.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np


class BgrWarning(UserWarning):
    """A 3-channel array given as RGB whose faces look BGR (pass ``color="bgr"``)."""


def looks_bgr(pixels: np.ndarray, faces: Sequence[Any]) -> bool:
    """True when every face box of ``pixels`` (RGB as given) is bluer than it is red."""
    if pixels.ndim != 3 or pixels.shape[2] != 3 or not faces:
        return False
    height, width = pixels.shape[:2]
    for face in faces:
        left, top, right, bottom = (int(v) for v in face.box)
        crop = pixels[max(top, 0):min(bottom, height), max(left, 0):min(right, width)]
        if crop.size == 0:
            return False
        means = crop.reshape(-1, 3).mean(axis=0)
        if not means[0] < means[2]:
            return False
    return True


def warn_if_bgr(image: object, color: str, pixels: np.ndarray, faces: Sequence[Any]) -> None:
    """Warn (:class:`BgrWarning`) when ``image`` is a 3-channel array given as ``rgb`` whose
    faces look BGR; files and PIL images know their channel order and are never warned of."""
    if isinstance(image, np.ndarray) and color == "rgb" and looks_bgr(pixels, faces):
        warnings.warn("the faces of this 3-channel array look BGR (blue above red), as from "
                      "OpenCV's cv2.imread; pass color=\"bgr\" if it is", BgrWarning,
                      stacklevel=3)
