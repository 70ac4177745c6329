"""Load any image a user hands us into RGB uint8, or refuse it with a typed error."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from faceaudit.errors import (
    ImageTooLargeError,
    TruncatedImageError,
    UnreadableImageError,
    UnsupportedImageError,
)

DEFAULT_MAX_PIXELS = 40_000_000
DEFAULT_MAX_BYTES = 50 * 1024 * 1024

_SIXTEEN_BIT_MODES = {"I;16", "I;16B", "I;16L", "I;16N"}


def _read_bytes(src: str | Path | bytes, max_bytes: int) -> bytes:
    if isinstance(src, bytes | bytearray | memoryview):
        data = bytes(src)
    else:
        path = Path(src)
        try:
            size = path.stat().st_size
        except OSError as exc:
            raise UnreadableImageError(f"{path}: cannot read file ({exc.strerror})") from None
        if size > max_bytes:
            raise ImageTooLargeError(f"{path}: {size} bytes exceeds the limit of {max_bytes}")
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise UnreadableImageError(f"{path}: cannot read file ({exc.strerror})") from None
    if len(data) > max_bytes:
        raise ImageTooLargeError(f"image of {len(data)} bytes exceeds the limit of {max_bytes}")
    if not data:
        raise UnreadableImageError("empty file: zero bytes")
    return data


def _to_rgb(img: Image.Image) -> np.ndarray:
    """Convert a decoded Pillow image of any mode to an (H, W, 3) uint8 RGB array."""
    mode = img.mode
    if mode in _SIXTEEN_BIT_MODES or mode == "I":
        arr = np.asarray(img, dtype=np.float64)
        if mode in _SIXTEEN_BIT_MODES or arr.max(initial=0) > 255:
            arr = arr / 257.0
        gray = np.clip(np.rint(arr), 0, 255).astype(np.uint8)
        return np.repeat(gray[:, :, None], 3, axis=2)
    if mode == "F":
        gray = np.clip(np.rint(np.asarray(img, dtype=np.float64)), 0, 255).astype(np.uint8)
        return np.repeat(gray[:, :, None], 3, axis=2)
    if mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
    elif mode in {"LA", "La", "PA", "RGBa"}:
        img = img.convert("RGBA")
    if img.mode == "RGBA":
        background = Image.new("RGBA", img.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, img)
    try:
        rgb = img.convert("RGB")
    except (ValueError, OSError) as exc:
        raise UnsupportedImageError(f"cannot convert image mode {mode} to RGB: {exc}") from None
    return np.asarray(rgb, dtype=np.uint8)


def load_image(
    src: str | Path | bytes,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> np.ndarray:
    """Decode an image file or bytes into an (H, W, 3) RGB uint8 array.

    EXIF orientation is applied, so a rotated phone photo comes out upright. Every mode Pillow
    knows (L, RGBA, CMYK, P, I;16, …) becomes RGB; transparency is flattened onto white.

    Raises:
        UnreadableImageError: empty, missing, or not an image.
        ImageTooLargeError: more than ``max_bytes`` bytes or ``max_pixels`` pixels; the pixel
            check reads only the header, so a decompression bomb is refused before decoding.
        TruncatedImageError: the data ends early or is corrupt.
        UnsupportedImageError: a mode that cannot be turned into RGB.
    """
    data = _read_bytes(src, max_bytes)
    try:
        img = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as exc:
        raise ImageTooLargeError(f"image refused as a decompression bomb: {exc}") from None
    except UnidentifiedImageError:
        raise UnreadableImageError("not an image Pillow can identify") from None
    except (OSError, ValueError, SyntaxError) as exc:
        raise UnreadableImageError(f"cannot open image: {exc}") from None
    width, height = img.size
    if width <= 0 or height <= 0:
        raise UnreadableImageError(f"image has no pixels ({width}×{height})")
    if width * height > max_pixels:
        raise ImageTooLargeError(
            f"image of {width}×{height} = {width * height} pixels exceeds the limit of {max_pixels}"
        )
    try:
        img.load()
        img = ImageOps.exif_transpose(img)
        return np.ascontiguousarray(_to_rgb(img))
    except Image.DecompressionBombError as exc:
        raise ImageTooLargeError(f"image refused as a decompression bomb: {exc}") from None
    except (OSError, SyntaxError, EOFError) as exc:
        message = str(exc)
        if "truncated" in message or "broken" in message or isinstance(exc, EOFError):
            raise TruncatedImageError(f"image data is truncated or corrupt: {message}") from None
        raise UnreadableImageError(f"cannot decode image: {message}") from None
    except ValueError as exc:
        raise UnsupportedImageError(f"cannot decode image: {exc}") from None
