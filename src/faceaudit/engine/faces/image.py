"""Load any image a user hands us into RGB uint8, or refuse it with a typed error.

This is the one guarded decode path of the project: the CLI, the batch embedder and the service
all come through :func:`decode_image` (or :func:`load_image`, its array-only form).

* A path is checked with ``os.stat`` before it is opened: only a regular file is read, so a FIFO,
  a device, a directory, a dangling link or a symbolic-link loop is refused with the path named;
  the file is opened with ``O_NONBLOCK`` (a FIFO swapped in after the check can never block) and
  checked again with ``fstat``, then read with a size cap.
* Pillow may only try the formats in :data:`SUPPORTED_FORMATS` (``formats=`` on ``Image.open``).
* The header's size is checked against the pixel limit before any pixel is decoded.
* Decoding, EXIF orientation and conversion to RGB run in one guarded step: *any* exception a
  decoder raises (``OSError``, ``ValueError``, ``struct.error``, ``RuntimeError``,
  ``NotImplementedError``, ``DecompressionBombError``, …) becomes an :class:`ImageError` that
  names the file and the format. Pillow's global ``LOAD_TRUNCATED_IMAGES`` is never set.
* With ``max_side``, a large image is scaled down while it is decoded (JPEG through ``draft``,
  i.e. DCT scaling; other formats through ``reduce`` before conversion), so it is never held at
  full size in RGB when only a smaller copy will be used.
"""

from __future__ import annotations

import errno
import importlib
import io
import math
import os
import stat
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from faceaudit.base.errors import (
    ImageError,
    ImageTooLargeError,
    TruncatedImageError,
    UnreadableImageError,
    UnsupportedImageError,
)
from faceaudit.engine.faces.budget import check_time, pixel_cap

DEFAULT_MAX_PIXELS = 40_000_000
DEFAULT_MAX_BYTES = 50 * 1024 * 1024
#: Longest side, in pixels, of the image the engine works on (CLI, batch, service): a larger
#: image is scaled down while it is decoded; detection then scans at most
#: ``faces.detect.MAX_DETECTOR_SIDE`` pixels after upsampling.
MAX_IMAGE_SIDE = 2560

#: What the guarded decoder reads: a path (str or Path) or the file's bytes.
ImageSource = str | Path | bytes | bytearray | memoryview

#: The only formats Pillow is allowed to parse (MPO is the multi-picture JPEG phones write).
SUPPORTED_FORMATS: tuple[str, ...] = ("JPEG", "MPO", "PNG", "GIF", "BMP", "TIFF", "WEBP", "PPM")
_FORMAT_NAMES = "JPEG, PNG, GIF, BMP, TIFF, WebP or PPM/PGM/PBM"

#: Formats Pillow can only decode at full size through a costly path get a lower pixel limit, so
#: that no supported file costs more than about 500 MB: Pillow's WebP decoder holds three full
#: copies (about 15 bytes per pixel).
FORMAT_MAX_PIXELS: dict[str, int] = {"WEBP": 16_000_000}

_SIXTEEN_BIT_MODES = {"I;16", "I;16B", "I;16L", "I;16N"}
_JPEG_FORMATS = {"JPEG", "MPO"}
_ORIENTATION = 0x0112
_SWAPS_AXES = {5, 6, 7, 8}


@dataclass(frozen=True)
class DecodedImage:
    """A decoded image: RGB pixels, possibly scaled down, and the size it had before.

    ``original_size`` is (width, height) after EXIF orientation and before any scaling;
    ``scale`` is pixels / original (1.0 when the image was not scaled down), so a box found in
    ``pixels`` is ``box / scale`` in the original image. ``format`` is Pillow's format name.
    """

    pixels: np.ndarray
    original_size: tuple[int, int]
    scale: float
    format: str


#: Where :func:`decode_image` decodes bytes: in this thread (None), or a decoder set by
#: :func:`decoding_with` (the service's worker process pool, ``engine.faces.decode_pool``).
Decoder = Callable[..., DecodedImage]
_DECODER: ContextVar[Decoder | None] = ContextVar("faceaudit_decoder", default=None)


@contextmanager
def decoding_with(decoder: Decoder | None) -> Iterator[None]:
    """Inside the block (this thread/context), :func:`decode_image` hands the bytes it has read
    and checked to ``decoder(data, max_pixels=, max_bytes=, max_side=, name=)`` instead of
    decoding them here (None: decode here)."""
    token = _DECODER.set(decoder)
    try:
        yield
    finally:
        _DECODER.reset(token)


# ---------------------------------------------------------------- reading


def _stat_problem(path: Path, exc: OSError) -> str:
    if exc.errno == errno.ELOOP:
        return "symbolic link loop"
    if exc.errno == errno.ENOENT and os.path.islink(path):
        return "dangling symbolic link (its target does not exist)"
    if exc.errno == errno.ENOENT:
        return "no such file"
    if exc.errno == errno.EACCES:
        return "permission denied"
    return exc.strerror or str(exc)


def _kind_of(mode: int) -> str | None:
    """Why a file of this ``st_mode`` cannot be read as an image (None for a regular file)."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "is a directory, not an image file"
    if stat.S_ISFIFO(mode):
        return "is a FIFO (named pipe), not a regular file"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "is a device, not a regular file"
    if stat.S_ISSOCK(mode):
        return "is a socket, not a regular file"
    return "is not a regular file"


def read_image_file(path: str | Path, max_bytes: int = DEFAULT_MAX_BYTES) -> bytes:
    """Read an image file's bytes, refusing anything but a regular file of at most ``max_bytes``.

    Raises :class:`UnreadableImageError` (naming the path) for a missing file, a dangling link,
    a link loop, a directory, a FIFO, a device, a socket or a permission problem, and
    :class:`ImageTooLargeError` beyond ``max_bytes``. Never blocks on a special file.
    """
    path = Path(path)
    try:
        info = os.stat(path)
    except OSError as exc:
        raise UnreadableImageError(f"{path}: cannot read: {_stat_problem(path, exc)}") from None
    problem = _kind_of(info.st_mode)
    if problem:
        raise UnreadableImageError(f"{path}: {problem}")
    if info.st_size > max_bytes:
        raise ImageTooLargeError(f"{path}: {info.st_size} bytes exceeds the limit of {max_bytes}")
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise UnreadableImageError(f"{path}: cannot open: {_stat_problem(path, exc)}") from None
    with os.fdopen(fd, "rb", buffering=0) as handle:
        try:
            problem = _kind_of(os.fstat(fd).st_mode)  # swapped after the check?
            if problem:
                raise UnreadableImageError(f"{path}: {problem}")
            chunks, size = [], 0
            while size <= max_bytes:
                chunk = handle.read(min(1 << 20, max_bytes + 1 - size))
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
        except (BlockingIOError, InterruptedError):
            raise UnreadableImageError(f"{path}: is not a regular file") from None
        except OSError as exc:
            raise UnreadableImageError(
                f"{path}: cannot read: {exc.strerror or exc}"
            ) from None
    if size > max_bytes:
        raise ImageTooLargeError(f"{path}: more than {max_bytes} bytes, the limit")
    return b"".join(chunks)


def _read_bytes(src: ImageSource, max_bytes: int, label: str) -> bytes:
    if isinstance(src, bytes | bytearray | memoryview):
        data = bytes(src)
    else:
        data = read_image_file(src, max_bytes)
    if len(data) > max_bytes:
        raise ImageTooLargeError(
            f"{label}: image of {len(data)} bytes exceeds the limit of {max_bytes}"
        )
    if not data:
        raise UnreadableImageError(f"{label}: empty file: zero bytes")
    return data


# ---------------------------------------------------------------- decoding


def _rgb_image(img: Image.Image) -> Image.Image:
    """Convert a decoded Pillow image of any mode to RGB (the same object if already RGB)."""
    mode = img.mode
    if mode in _SIXTEEN_BIT_MODES or mode == "I":
        arr = np.asarray(img, dtype=np.float64)
        if mode in _SIXTEEN_BIT_MODES or arr.max(initial=0) > 255:
            arr = arr / 257.0
        return Image.fromarray(np.clip(np.rint(arr), 0, 255).astype(np.uint8)).convert("RGB")
    if mode == "F":
        gray = np.clip(np.rint(np.asarray(img, dtype=np.float64)), 0, 255).astype(np.uint8)
        return Image.fromarray(gray).convert("RGB")
    if mode == "RGB":
        return img
    if mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
    elif mode in {"LA", "La", "PA", "RGBa"}:
        img = img.convert("RGBA")
    if img.mode == "RGBA":
        background = Image.new("RGBA", img.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, img)
    try:
        return img.convert("RGB")
    except (ValueError, OSError) as exc:
        raise UnsupportedImageError(f"cannot convert image mode {mode} to RGB: {exc}") from None


def to_rgb(img: Image.Image) -> np.ndarray:
    """Convert a decoded Pillow image of any mode to an (H, W, 3) uint8 RGB array."""
    return np.asarray(_rgb_image(img), dtype=np.uint8)


def _reduce(img: Image.Image, max_side: int) -> Image.Image:
    """Shrink by a whole factor (a box filter, cheap): the smallest that brings the longer side
    to ``max_side`` or less, unless that would take it below ``max_side * 3 / 4`` — then the
    largest that keeps it at ``max_side`` or more (a resize finishes the job)."""
    longer = max(img.size)
    factor = -(-longer // max_side)  # ceil: no full-size resize afterwards
    if factor >= 2 and longer / factor < max_side * 3 / 4:
        factor = longer // max_side
    if factor < 2:
        return img
    if img.mode == "1":
        img = img.convert("L")
    elif img.mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
    elif img.mode in _SIXTEEN_BIT_MODES:
        img = img.convert("I")
    return img.reduce(factor)


def _fit(img: Image.Image, max_side: int) -> Image.Image:
    """Resize so the longer side is at most ``max_side`` (the same object if it already is)."""
    longer = max(img.size)
    if longer <= max_side:
        return img
    ratio = max_side / longer
    size = (max(1, round(img.width * ratio)), max(1, round(img.height * ratio)))
    return img.resize(size, Image.Resampling.BILINEAR, reducing_gap=None)


def _decode(img: Image.Image, max_side: int | None) -> tuple[np.ndarray, tuple[int, int]]:
    """Decode (scaled down while decoding when asked), orient, convert: the guarded step.

    Returns the RGB pixels and the image's full size (width, height) once oriented.
    """
    width, height = img.size
    if max_side and img.format in _JPEG_FORMATS and max(img.size) > max_side:
        ratio = max_side / max(img.size)
        img.draft(img.mode, (math.ceil(img.width * ratio), math.ceil(img.height * ratio)))
    img.load()
    # the orientation tag (reading it may raise on a corrupt EXIF block: that is guarded too)
    orientation = img.getexif().get(_ORIENTATION, 1)
    if orientation in _SWAPS_AXES:
        width, height = height, width
    if orientation != 1:  # exif_transpose copies the image even when there is nothing to turn
        oriented = ImageOps.exif_transpose(img)
        if oriented is not None:
            img = oriented
    if max_side:
        reduced = _reduce(img, max_side)
        if reduced is not img:
            img.close()  # frees the full-size pixels before the conversion to RGB
            img = reduced
    rgb = _rgb_image(img)
    if rgb is not img:
        img.close()
    if max_side:
        rgb = _fit(rgb, max_side)
    return np.ascontiguousarray(np.asarray(rgb, dtype=np.uint8)), (width, height)


def _is_truncation(exc: BaseException) -> bool:
    message = str(exc).lower()
    return isinstance(exc, EOFError) or any(
        word in message for word in ("truncated", "broken", "premature end", "unexpected end")
    )


#: The Pillow plugin module of each supported format: only these are imported (``Image.init()``
#: would import all ~50 plugins, a tenth of a second of a cold start, for formats never tried).
_PLUGINS = {"JPEG": "JpegImagePlugin", "MPO": "MpoImagePlugin", "PNG": "PngImagePlugin",
            "GIF": "GifImagePlugin", "BMP": "BmpImagePlugin", "TIFF": "TiffImagePlugin",
            "WEBP": "WebPImagePlugin", "PPM": "PpmImagePlugin"}


@cache
def _usable_formats() -> tuple[str, ...]:
    """The supported formats this Pillow build can open (their plugins registered once)."""
    for fmt in SUPPORTED_FORMATS:
        try:
            importlib.import_module(f"PIL.{_PLUGINS[fmt]}")
        except ImportError:  # a Pillow built without this codec cannot open the format
            continue
    return tuple(fmt for fmt in SUPPORTED_FORMATS if fmt in Image.OPEN)


def decode_image(
    src: ImageSource,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_side: int | None = None,
    name: str | None = None,
) -> DecodedImage:
    """Decode an image file or bytes into RGB uint8, scaled so its longer side ≤ ``max_side``.

    ``name`` labels the image in error messages (default: the path, or "image" for bytes).
    EXIF orientation is applied, so a rotated phone photo comes out upright; every mode Pillow
    knows becomes RGB, and transparency is flattened onto white. Only the first frame of an
    animated or multi-page file is used.

    Raises:
        UnreadableImageError: empty, missing, not a regular file, not a supported format, or a
            decoder fault.
        ImageTooLargeError: more than ``max_bytes`` bytes or ``max_pixels`` pixels; the pixel
            check reads only the header, so a decompression bomb is refused before decoding.
        TruncatedImageError: the data ends early or is corrupt.
        UnsupportedImageError: a mode that cannot be turned into RGB.
    """
    is_bytes = isinstance(src, bytes | bytearray | memoryview)
    label = name or ("image" if is_bytes else str(src))
    data = _read_bytes(src, max_bytes, label)
    check_time("decoding")
    max_pixels = pixel_cap(max_pixels)  # the service's max_pixels, when lower
    decoder = _DECODER.get()
    if decoder is not None:
        return decoder(data, max_pixels=max_pixels, max_bytes=max_bytes, max_side=max_side,
                       name=label)
    fmt = "unknown format"
    try:
        with Image.open(io.BytesIO(data), formats=_usable_formats()) as img:
            fmt = img.format or fmt
            width, height = img.size
            if width <= 0 or height <= 0:
                raise UnreadableImageError(f"{label}: {fmt} image has no pixels ({width}×{height})")
            limit = min(max_pixels, FORMAT_MAX_PIXELS.get(fmt, max_pixels))
            if width * height > limit:
                raise ImageTooLargeError(
                    f"{label}: {fmt} image of {width}×{height} = {width * height} pixels exceeds"
                    f" the limit of {limit}" + (" for this format" if limit < max_pixels else "")
                )
            pixels, original = _decode(img, max_side)
    except ImageError:
        raise
    except Image.DecompressionBombError as exc:
        raise ImageTooLargeError(f"{label}: refused as a decompression bomb: {exc}") from None
    except UnidentifiedImageError:
        raise UnreadableImageError(
            f"{label}: not an image in a supported format ({_FORMAT_NAMES})"
        ) from None
    except MemoryError:
        raise ImageTooLargeError(f"{label}: {fmt} image needs too much memory to decode") from None
    except Exception as exc:  # noqa: BLE001 — any decoder fault is a bad image, never a crash
        detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        if _is_truncation(exc):
            raise TruncatedImageError(
                f"{label}: {fmt} image data is truncated or corrupt ({detail})"
            ) from None
        raise UnreadableImageError(f"{label}: cannot decode {fmt} image ({detail})") from None
    scale = max(pixels.shape[:2]) / max(original)
    return DecodedImage(pixels=pixels, original_size=original, scale=scale, format=fmt)


def load_image(
    src: str | Path | bytes,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_side: int | None = None,
) -> np.ndarray:
    """Decode an image file or bytes into an (H, W, 3) RGB uint8 array.

    The guarded path of :func:`decode_image` (which see for the errors it raises); with
    ``max_side`` the array is scaled down so its longer side is at most that.
    """
    return decode_image(src, max_pixels=max_pixels, max_bytes=max_bytes, max_side=max_side).pixels
