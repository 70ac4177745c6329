"""Turn what a Python user holds — a path, bytes, a PIL image, a numpy array — into RGB pixels.

Files and bytes always go through the guarded decoder
(:func:`faceaudit.engine.faces.image.decode_image`,
at the engine's working size); a PIL image is converted exactly as the decoder converts a decoded
file (transparency flattened onto white); an array must be ``uint8``: (H, W) grayscale,
(H, W, 1), (H, W, 3) RGB or (H, W, 4) RGBA — or BGR/BGRA with ``color="bgr"`` (OpenCV's order).
Anything else is an :class:`~faceaudit.base.errors.ImageInputError` (also a ``ValueError``) that
says
what was given and what to do, never a raw dlib or attribute error.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal, TypeAlias

import numpy as np
from PIL import Image

from faceaudit.base.errors import (
    ImageError,
    ImageInputError,
    ImageTooLargeError,
    UnreadableImageError,
)
from faceaudit.engine.faces.image import (
    DEFAULT_MAX_PIXELS,
    MAX_IMAGE_SIDE,
    DecodedImage,
    decode_image,
    to_rgb,
)

#: Everything the library API accepts as an image.
ImageInput: TypeAlias = (
    str | os.PathLike | bytes | bytearray | memoryview | Image.Image | np.ndarray
)
#: Channel order of an array input: ``"rgb"`` (PIL, face_recognition, the default) or ``"bgr"``
#: (OpenCV's ``cv2.imread``).
Color: TypeAlias = Literal["rgb", "bgr"]
COLORS: tuple[str, ...] = ("rgb", "bgr")


def _check_color(color: str) -> None:
    if color not in COLORS:
        raise ImageInputError(f"color must be 'rgb' or 'bgr', got {color!r}")


def array_to_rgb(array: np.ndarray, color: Color = "rgb", label: str = "image array") -> np.ndarray:
    """An (H, W, 3) contiguous uint8 RGB copy of a uint8 gray, RGB(A) or BGR(A) array."""
    _check_color(color)
    if array.dtype != np.uint8:
        hint = (
            " (for 0–1 floats: (array * 255).round().astype(np.uint8))"
            if array.dtype.kind == "f" else ""
        )
        raise ImageInputError(
            f"{label}: dtype {array.dtype} is not supported; pass uint8 pixels 0–255{hint}"
        )
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (3, 4)):
        raise ImageInputError(
            f"{label}: shape {array.shape} is not an image; expected (H, W) gray, (H, W, 3)"
            f" {color.upper()} or (H, W, 4) {color.upper()}A"
        )
    if array.shape[0] == 0 or array.shape[1] == 0:
        raise ImageInputError(f"{label}: shape {array.shape} has no pixels")
    if array.shape[0] * array.shape[1] > DEFAULT_MAX_PIXELS:
        raise ImageTooLargeError(
            f"{label}: {array.shape[1]}×{array.shape[0]} pixels exceeds the limit of"
            f" {DEFAULT_MAX_PIXELS}"
        )
    if array.ndim == 2:
        return np.ascontiguousarray(np.repeat(array[:, :, None], 3, axis=2))
    if color == "bgr":
        array = array[:, :, [2, 1, 0, 3][: array.shape[2]]]
    if array.shape[2] == 4:  # flattened onto white, as the decoder does with a transparent file
        alpha = array[:, :, 3:4].astype(np.uint16)
        rgb = (array[:, :, :3].astype(np.uint16) * alpha + 255 * (255 - alpha) + 127) // 255
        return np.ascontiguousarray(rgb.astype(np.uint8))
    return np.ascontiguousarray(array)


def pil_to_rgb(img: Image.Image, label: str = "PIL image") -> np.ndarray:
    """An (H, W, 3) uint8 RGB array of a PIL image of any mode, converted as the decoder does."""
    width, height = img.size
    if width <= 0 or height <= 0:
        raise ImageInputError(f"{label}: has no pixels ({width}×{height})")
    if width * height > DEFAULT_MAX_PIXELS:
        raise ImageTooLargeError(
            f"{label}: {width}×{height} pixels exceeds the limit of {DEFAULT_MAX_PIXELS}"
        )
    try:
        return np.ascontiguousarray(to_rgb(img))
    except ImageError:
        raise
    except Exception as exc:  # noqa: BLE001 — a lazily opened image may fault while it loads
        raise UnreadableImageError(
            f"{label}: cannot convert {img.mode} image ({type(exc).__name__}: {exc})"
        ) from None


def as_decoded(
    image: ImageInput, color: Color = "rgb", name: str | None = None
) -> DecodedImage:
    """Any accepted input as a :class:`DecodedImage` (pixels, original size, scale, format).

    A path or bytes is decoded through the guarded path at the working size (``scale`` maps the
    pixels back to the file's); a PIL image or array is used at its own size (``scale`` 1.0).
    ``color`` applies to arrays only: a file or PIL image knows its own channel order.
    """
    _check_color(color)
    if isinstance(image, np.ndarray):
        pixels = array_to_rgb(image, color, name or "image array")
        return DecodedImage(pixels, (pixels.shape[1], pixels.shape[0]), 1.0, "array")
    if color != "rgb":
        raise ImageInputError(
            f"color={color!r} applies to numpy arrays only; a file or PIL image is read in its"
            " own channel order"
        )
    if isinstance(image, Image.Image):
        pixels = pil_to_rgb(image, name or "PIL image")
        return DecodedImage(pixels, (pixels.shape[1], pixels.shape[0]), 1.0,
                            image.format or "PIL")
    if isinstance(image, str | os.PathLike | bytes | bytearray | memoryview):
        src = image if isinstance(image, bytes | bytearray | memoryview) else Path(image)
        return decode_image(src, max_side=MAX_IMAGE_SIDE, name=name)
    raise ImageInputError(
        f"{name or 'image'}: a {type(image).__name__} is not an image; pass a path, bytes,"
        " a PIL image or a uint8 numpy array"
    )
