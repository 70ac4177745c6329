"""Which ground-truth faces a redaction left uncovered: frame-level coverage against a truth file.

Compute only (arrays and plain tuples in, arrays out). A ground-truth file is what
``scripts/make_redaction_clip.py`` writes beside a labelled clip (``CLIP.truth.json``, format in
docs/footage.md): per frame and face the face's box, the share of it left visible and the
rectangles hiding the rest. A redaction is a list of shapes per frame — rectangles (faceaudit's
boxes, from its log) or ellipses (what ``deface`` blurs). A face-frame counts when at least
``min_visible`` of the face is in view, and is *covered* when at least ``min_covered`` of its
visible part lies under the redaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from faceaudit.base.errors import InputDataError

#: A redacted region: ("rect" | "ellipse", (x1, y1, x2, y2)); an ellipse is inscribed in the box.
Shape = tuple[str, tuple[float, float, float, float]]
SHAPE_KINDS = ("rect", "ellipse")
MIN_VISIBLE = 0.5
MIN_COVERED = 0.9


@dataclass(frozen=True)
class Coverage:
    """One row per scored ground-truth face-frame."""

    frame: np.ndarray  # (n,) int: frame index
    face: np.ndarray  # (n,) int: face id of the truth file
    covered: np.ndarray  # (n,) bool: visible part covered ≥ min_covered
    share: np.ndarray  # (n,) float: share of the visible part covered

    @property
    def missed(self) -> np.ndarray:
        """(n,) bool: face-frames left (partly) visible."""
        return ~self.covered

    def per_face(self, faces: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """Per face of ``faces`` (in that order): missed face-frames and scored face-frames."""
        index = {int(f): i for i, f in enumerate(faces)}
        if not set(np.unique(self.face).tolist()) <= set(index):
            raise InputDataError("the coverage rows name a face the truth file does not list")
        rows = np.array([index[int(f)] for f in self.face], dtype=np.int64)
        missed = np.bincount(rows, weights=self.missed, minlength=len(faces))
        scored = np.bincount(rows, minlength=len(faces)).astype(np.float64)
        return missed, scored

    def frames_with_a_miss(self, faces: Iterable[int] | None = None) -> int:
        """Frames in which at least one scored face (of ``faces``, default all) is uncovered."""
        keep = self.missed if faces is None else self.missed & np.isin(self.face, list(faces))
        return int(np.unique(self.frame[keep]).size)


def visible_mask(box: Sequence[float], hiders: Iterable[Sequence[float]],
                 step: float = 1.0) -> np.ndarray:
    """Boolean grid over ``box`` (one sample per ``step`` px): True where no hider covers it."""
    gx, gy = _grid(box, step)
    free = np.ones(gx.shape, bool)
    for hx1, hy1, hx2, hy2 in hiders:
        free &= ~((gx >= hx1) & (gx < hx2) & (gy >= hy1) & (gy < hy2))
    return free


def _grid(box: Sequence[float], step: float) -> tuple[np.ndarray, np.ndarray]:
    x1, y1, x2, y2 = box
    return np.meshgrid(np.arange(x1 + step / 2, x2, step), np.arange(y1 + step / 2, y2, step))


def _inside(shape: Shape, gx: np.ndarray, gy: np.ndarray) -> np.ndarray:
    kind, (x1, y1, x2, y2) = shape
    if kind == "rect":
        return (gx >= x1) & (gx < x2) & (gy >= y1) & (gy < y2)
    if kind != "ellipse":
        raise InputDataError(f"unknown redaction shape {kind!r} (expected rect or ellipse)")
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    rx, ry = max((x2 - x1) / 2, 1e-6), max((y2 - y1) / 2, 1e-6)
    return ((gx - cx) / rx) ** 2 + ((gy - cy) / ry) ** 2 <= 1.0


_LOG_BOX_FIELDS = ("frame", "left", "top", "right", "bottom")


def shapes_from_log(log: Mapping) -> dict[int, list[Shape]]:
    """The rectangles a faceaudit redaction log says were redacted, per frame.

    Kept tracks (``--keep``: a consented subject left visible on purpose) are not redactions.
    """
    shapes: dict[int, list[Shape]] = {}
    try:
        for track in log["tracks"]:
            if track.get("kept_subject"):
                continue
            for row in track["boxes"]:
                if isinstance(row, Mapping):  # {frame, left, top, right, bottom, why}
                    frame, x1, y1, x2, y2 = (row[k] for k in _LOG_BOX_FIELDS)
                else:  # logs written before boxes had named fields: [frame, x1, y1, x2, y2, why]
                    frame, x1, y1, x2, y2, _why = row
                shapes.setdefault(int(frame), []).append(
                    ("rect", (float(x1), float(y1), float(x2), float(y2))))
    except (KeyError, TypeError, ValueError) as exc:
        raise InputDataError(f"not a faceaudit redaction log (tracks/boxes: {exc})") from None
    return shapes


def coverage(truth: Mapping, shapes: Mapping[int, Sequence[Shape]],
             min_visible: float = MIN_VISIBLE, min_covered: float = MIN_COVERED) -> Coverage:
    """Score every ground-truth face-frame at least ``min_visible`` in view against ``shapes``."""
    frames, faces, shares = [], [], []
    try:
        rows = truth["boxes"]
    except (KeyError, TypeError):
        raise InputDataError("not a ground-truth file: no 'boxes' rows") from None
    for row in rows:
        try:
            frame, face, x1, y1, x2, y2, visible, hiders = row
        except (TypeError, ValueError):
            raise InputDataError(f"ground-truth row {row!r} is not "
                                 "[frame, face, x1, y1, x2, y2, visible, hiders]") from None
        if visible < min_visible:
            continue
        box = (x1, y1, x2, y2)
        free = visible_mask(box, hiders)
        gx, gy = _grid(box, 1.0)
        hit = np.zeros(gx.shape, bool)
        for shape in shapes.get(int(frame), ()):
            hit |= _inside(shape, gx, gy)
        shares.append(float((hit & free).sum() / max(1, free.sum())))
        frames.append(int(frame))
        faces.append(int(face))
    share = np.asarray(shares, dtype=np.float64)
    return Coverage(np.asarray(frames, dtype=np.int64), np.asarray(faces, dtype=np.int64),
                    share >= min_covered, share)
