"""Redaction styles, each irreversible by construction.

A mild Gaussian blur can be partly undone (deconvolution, or a network trained to deblur), so no
style here keeps more than a few numbers per box: ``blur`` and ``pixelate`` first average the box
down to a coarse grid (:data:`BLUR_GRID` / :data:`PIXEL_GRID` cells on its longer side, whatever
the box's size), and only then smooth (blur) or enlarge (pixelate) it; ``box`` fills it with one
colour. The grid sizes were chosen by re-running detection and embedding on redacted faces
(tests/footage/test_styles.py): a redacted face is neither detected nor matched to its own
template at the calibrated threshold.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageFilter

STYLES = ("blur", "pixelate", "box")
BLUR_GRID = 4
PIXEL_GRID = 6
BOX_COLOUR = (0, 0, 0)


def _grid_size(width: int, height: int, cells: int) -> tuple[int, int]:
    longer = max(width, height)
    return (max(1, round(width * cells / longer)), max(1, round(height * cells / longer)))


def redact_region(region: np.ndarray, style: str) -> np.ndarray:
    """Return the redacted version of one (h, w, 3) uint8 box."""
    height, width = region.shape[:2]
    if style == "box" or min(width, height) < 2:
        out = np.empty_like(region)
        out[...] = BOX_COLOUR
        return out
    image = Image.fromarray(region)
    if style == "pixelate":
        coarse = image.resize(_grid_size(width, height, PIXEL_GRID), Image.Resampling.BOX)
        return np.asarray(coarse.resize((width, height), Image.Resampling.NEAREST))
    if style == "blur":
        coarse = image.resize(_grid_size(width, height, BLUR_GRID), Image.Resampling.BOX)
        smooth = coarse.resize((width, height), Image.Resampling.BILINEAR)
        radius = max(1.0, max(width, height) / 10)
        return np.asarray(smooth.filter(ImageFilter.GaussianBlur(radius)))
    raise ValueError(f"unknown redaction style {style!r}; choose one of {', '.join(STYLES)}")


def redact_boxes(rgb: np.ndarray, boxes, style: str) -> np.ndarray:
    """Return a copy of ``rgb`` with every (x1, y1, x2, y2) box redacted in ``style``."""
    out = np.array(rgb, copy=True)
    for x1, y1, x2, y2 in boxes:
        if x2 > x1 and y2 > y1:
            out[y1:y2, x1:x2] = redact_region(out[y1:y2, x1:x2], style)
    return out
