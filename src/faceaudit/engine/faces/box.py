"""A face box with named corners, and the conversions other libraries' users expect."""

from __future__ import annotations

from typing import NamedTuple


class Box(NamedTuple):
    """A face box in pixels: ``left, top, right, bottom`` (faceaudit's and dlib's order).

    It is a tuple, so ``left, top, right, bottom = box`` and ``list(box)`` work as before.
    ``right`` and ``bottom`` are the last column and row of the box, as in dlib.
    """

    left: int
    top: int
    right: int
    bottom: int

    @property
    def width(self) -> int:
        """right − left."""
        return self.right - self.left

    @property
    def height(self) -> int:
        """bottom − top."""
        return self.bottom - self.top

    def to_trbl(self) -> tuple[int, int, int, int]:
        """face_recognition's order: ``(top, right, bottom, left)`` ("css")."""
        return (self.top, self.right, self.bottom, self.left)

    def to_xywh(self) -> tuple[int, int, int, int]:
        """OpenCV's / deepface's order: ``(x, y, w, h)`` with x = left, y = top."""
        return (self.left, self.top, self.width, self.height)

    @classmethod
    def from_trbl(cls, trbl: tuple[int, int, int, int]) -> Box:
        """A box from face_recognition's ``(top, right, bottom, left)``."""
        top, right, bottom, left = trbl
        return cls(int(left), int(top), int(right), int(bottom))

    @classmethod
    def from_xywh(cls, xywh: tuple[int, int, int, int]) -> Box:
        """A box from ``(x, y, w, h)``."""
        x, y, w, h = xywh
        return cls(int(x), int(y), int(x) + int(w), int(y) + int(h))

    def to_dict(self) -> dict[str, int]:
        """Named fields: ``{"left", "top", "right", "bottom"}``."""
        return {"left": self.left, "top": self.top, "right": self.right, "bottom": self.bottom}
