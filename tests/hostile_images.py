"""Generator of hostile images for the fuzz tests (the corpus is made here, never stored).

Every supported format is encoded from one small base picture, then mutated with a fixed seed:
random bytes flipped (anywhere, or in the header), truncation at a random point, headers patched
to huge or zero dimensions (with valid checksums where the format has them, so the decoder gets
past its first check), and EXIF blocks with bad counts, bad types and IFD loops.
"""

from __future__ import annotations

import io
import random
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from PIL import Image

FORMATS = ("JPEG", "PNG", "GIF", "BMP", "TIFF", "WEBP", "PPM")
_SAVE = {"JPEG": {"quality": 90}, "WEBP": {"quality": 80}, "TIFF": {"compression": "tiff_lzw"}}
_HUGE = (0, 1, 65535, 0x7FFF_FFFF, 0xFFFF_FFFF)


@dataclass(frozen=True)
class Case:
    """One hostile input: a name saying how it was made, and its bytes."""

    name: str
    data: bytes


def base_picture(face: Image.Image | None = None) -> Image.Image:
    """A small RGB picture: ``face`` shrunk to 96 px wide, or a gradient with noise."""
    if face is not None:
        face = face.convert("RGB")
        return face.resize((96, max(1, round(96 * face.height / face.width))))
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:64, 0:80]
    pixels = np.stack([x * 3, y * 4, (x + y) * 2], axis=-1) + rng.integers(0, 30, (64, 80, 3))
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def encode(picture: Image.Image, fmt: str, exif: bytes | None = None) -> bytes:
    """``picture`` saved as ``fmt`` (with the raw ``exif`` block where the format carries one)."""
    buffer = io.BytesIO()
    options = dict(_SAVE.get(fmt, {}))
    if exif is not None and fmt in ("JPEG", "PNG", "WEBP"):
        options["exif"] = exif
    image = picture.convert("P") if fmt == "GIF" else picture
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


# ---------------------------------------------------------------- EXIF blocks


def _ifd(entries: list[tuple[int, int, int, bytes]], next_ifd: int) -> bytes:
    out = struct.pack("<H", len(entries))
    for tag, typ, count, value in entries:
        out += struct.pack("<HHI", tag, typ, count) + value.ljust(4, b"\0")[:4]
    return out + struct.pack("<I", next_ifd)


def hostile_exif_blocks() -> list[tuple[str, bytes]]:
    """Raw ``Exif\\0\\0`` blocks: bad counts, bad types, IFD loops, offsets past the end."""
    head = b"Exif\x00\x00II*\x00" + struct.pack("<I", 8)
    orient = (0x0112, 3, 1, struct.pack("<H", 6))
    blocks = [
        ("orientation-ok", head + _ifd([orient], 0)),
        ("orientation-count-huge", head + _ifd([(0x0112, 3, 0xFFFF_FFFF, b"\0" * 4)], 0)),
        ("orientation-count-zero", head + _ifd([(0x0112, 3, 0, b"\0" * 4)], 0)),
        ("orientation-bad-type", head + _ifd([(0x0112, 99, 1, b"\x06\0\0\0")], 0)),
        ("orientation-value-99", head + _ifd([(0x0112, 3, 1, struct.pack("<H", 99))], 0)),
        ("orientation-long", head + _ifd([(0x0112, 4, 1, struct.pack("<I", 2**31))], 0)),
        ("ifd0-loops-to-itself", head + _ifd([orient], 8)),
        ("exif-ifd-points-back", head + _ifd([orient, (0x8769, 4, 1, struct.pack("<I", 8))], 0)),
        ("gps-ifd-points-back", head + _ifd([orient, (0x8825, 4, 1, struct.pack("<I", 8))], 0)),
        ("exif-ifd-past-end", head + _ifd([orient, (0x8769, 4, 1, struct.pack("<I", 1 << 30))],
                                          0)),
        ("entry-count-huge", head + struct.pack("<H", 0xFFFF) + b"\0" * 12),
        ("ascii-count-huge", head + _ifd([orient, (0x010F, 2, 0x7FFF_FFFF,
                                                   struct.pack("<I", 20))], 0)),
        ("rational-offset-huge", head + _ifd([orient, (0x011A, 5, 1,
                                                       struct.pack("<I", 0xFFFF_FFF0))], 0)),
        # tags Pillow knows as SHORT stored with another type: re-writing the EXIF block after
        # turning the image (exif_transpose) fails inside struct.pack
        ("short-tag-as-long-huge", head + _ifd([orient, (0x0128, 4, 1,
                                                         struct.pack("<I", 2**31))], 0)),
        ("short-tag-negative", head + _ifd([orient, (0x0128, 9, 1, struct.pack("<i", -5))], 0)),
        ("short-tag-as-float", head + _ifd([orient, (0x0128, 11, 1,
                                                     struct.pack("<f", 1e30))], 0)),
        ("short-tag-as-byte", head + _ifd([orient, (0x0213, 1, 1, b"\x05")], 0)),
        ("ifd-offset-huge", b"Exif\x00\x00II*\x00" + struct.pack("<I", 0xFFFF_FFF0)),
        ("ifd-offset-zero", b"Exif\x00\x00II*\x00" + struct.pack("<I", 0)),
        ("bad-byte-order", b"Exif\x00\x00XX*\x00" + struct.pack("<I", 8) + _ifd([orient], 0)),
        ("big-endian-truncated", b"Exif\x00\x00MM\x00*" + struct.pack(">I", 8) + b"\x00\x05"),
        ("header-only", b"Exif\x00\x00"),
        ("empty", b""),
    ]
    return blocks


# ---------------------------------------------------------------- header patches


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _patch_dims(fmt: str, data: bytes, width: int, height: int) -> bytes | None:
    """``data`` with the header's width and height replaced (None when not patchable)."""
    out = bytearray(data)
    if fmt == "PNG":
        ihdr = bytearray(out[16:29])
        ihdr[0:8] = struct.pack(">II", width, height)
        return bytes(out[:8] + _png_chunk(b"IHDR", bytes(ihdr)) + out[33:])
    if fmt == "GIF":
        out[6:10] = struct.pack("<HH", width & 0xFFFF, height & 0xFFFF)
        descriptor = out.find(b"\x2c", 13)
        if descriptor > 0:
            out[descriptor + 5 : descriptor + 9] = struct.pack("<HH", width & 0xFFFF,
                                                               height & 0xFFFF)
        return bytes(out)
    if fmt == "BMP":
        out[18:26] = struct.pack("<ii", _signed(width), _signed(height))
        return bytes(out)
    if fmt == "JPEG":
        sof = out.find(b"\xff\xc0")
        if sof < 0:
            return None
        out[sof + 5 : sof + 9] = struct.pack(">HH", height & 0xFFFF, width & 0xFFFF)
        return bytes(out)
    if fmt == "PPM":
        body = data.split(b"\n", 3)
        return b"\n".join([body[0], f"{width} {height}".encode(), *body[2:]])
    if fmt == "TIFF":
        return _patch_tiff_dims(out, width, height)
    return None


def _signed(value: int) -> int:
    value &= 0xFFFF_FFFF
    return value - (1 << 32) if value >= 1 << 31 else value


def _patch_tiff_dims(out: bytearray, width: int, height: int) -> bytes | None:
    if out[:2] != b"II":
        return None
    ifd = struct.unpack_from("<I", out, 4)[0]
    count = struct.unpack_from("<H", out, ifd)[0]
    for i in range(count):
        at = ifd + 2 + 12 * i
        tag = struct.unpack_from("<H", out, at)[0]
        if tag in (256, 257):
            struct.pack_into("<HI", out, at + 2, 4, 1)  # LONG, count 1
            struct.pack_into("<I", out, at + 8, width if tag == 256 else height)
    return bytes(out)


# ---------------------------------------------------------------- the corpus


def hostile_cases(picture: Image.Image, seed: int = 2024, flips: int = 22,
                  truncations: int = 6) -> Iterator[Case]:
    """Every hostile case for every supported format, reproducibly from ``seed``."""
    rng = random.Random(seed)
    for fmt in FORMATS:
        clean = encode(picture, fmt)
        yield Case(f"{fmt}/clean", clean)
        for i in range(flips):
            data = bytearray(clean)
            in_header = i % 2 == 0
            span = min(len(data), 128) if in_header else len(data)
            for _ in range(rng.randint(1, 12)):
                data[rng.randrange(span)] = rng.randrange(256)
            yield Case(f"{fmt}/flip-{'header' if in_header else 'any'}-{i}", bytes(data))
        for i in range(truncations):
            cut = rng.randrange(1, len(clean))
            yield Case(f"{fmt}/truncated-{i}-at-{cut}", clean[:cut])
        for width, height in [(w, h) for w in _HUGE for h in (0, 1, 65535)][::2]:
            patched = _patch_dims(fmt, clean, width, height)
            if patched is not None:
                yield Case(f"{fmt}/dims-{width}x{height}", patched)
    for label, block in hostile_exif_blocks():
        for fmt in ("JPEG", "PNG", "WEBP"):
            try:
                data = encode(picture, fmt, exif=block)
            except Exception:  # noqa: BLE001 — Pillow may refuse to write it; then skip it
                continue
            yield Case(f"{fmt}/exif-{label}", data)


#: Formats Pillow can read but faceaudit does not accept: each must be refused, mutated or not.
FOREIGN_FORMATS = ("AVIF", "DDS", "ICO", "TGA", "PCX", "SGI", "QOI", "JPEG2000", "PSD")


def foreign_cases(picture: Image.Image, seed: int = 7, flips: int = 8) -> Iterator[Case]:
    """Files of formats outside the supported list, clean and with bytes flipped."""
    rng = random.Random(seed)
    for fmt in FOREIGN_FORMATS:
        buffer = io.BytesIO()
        try:
            picture.save(buffer, fmt)
        except Exception:  # noqa: BLE001 — this Pillow build cannot write it: nothing to test
            continue
        clean = buffer.getvalue()
        yield Case(f"foreign-{fmt}/clean", clean)
        for i in range(flips):
            data = bytearray(clean)
            for _ in range(rng.randint(1, 8)):
                data[rng.randrange(min(len(data), 256))] = rng.randrange(256)
            yield Case(f"foreign-{fmt}/flip-{i}", bytes(data))
