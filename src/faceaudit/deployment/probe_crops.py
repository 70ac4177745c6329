"""The probe crops a reviewer's case view shows: each searched face cut out of the probe, kept
only for the review period the policy sets (``review.probe_crop_hours``; 0, the default: never
kept), then purged with a ``purge`` event.

Only the face (with a margin) is kept, as a JPEG, never the whole probe and never an embedding.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

from PIL import Image

from faceaudit.engine import api

#: the margin around a face box kept in its crop, as a share of the box's size
CROP_MARGIN = 0.3
#: the longest side a kept crop may have (pixels)
CROP_MAX_SIDE = 320
JPEG_QUALITY = 85


def face_crops(probe: bytes, boxes: Sequence[dict[str, int]]) -> list[bytes]:
    """One JPEG per box (``{left, top, right, bottom}`` in the probe's original pixels): the
    face with a margin, at most :data:`CROP_MAX_SIDE` pixels on its longest side."""
    decoded = api.open_image(probe)
    pixels, scale = decoded.pixels, decoded.scale
    height, width = pixels.shape[:2]
    crops = []
    for box in boxes:
        left, top = box["left"] * scale, box["top"] * scale
        right, bottom = (box["right"] + 1) * scale, (box["bottom"] + 1) * scale
        pad_x, pad_y = (right - left) * CROP_MARGIN, (bottom - top) * CROP_MARGIN
        x0, y0 = max(0, int(left - pad_x)), max(0, int(top - pad_y))
        x1, y1 = min(width, int(right + pad_x)), min(height, int(bottom + pad_y))
        image = Image.fromarray(pixels[y0:max(y1, y0 + 1), x0:max(x1, x0 + 1)])
        image.thumbnail((CROP_MAX_SIDE, CROP_MAX_SIDE))
        out = io.BytesIO()
        image.convert("RGB").save(out, format="JPEG", quality=JPEG_QUALITY)
        crops.append(out.getvalue())
    return crops
