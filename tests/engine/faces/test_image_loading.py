"""Hostile and unusual images: each gives a typed error or a correct RGB array, never a crash."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from faceaudit.base.errors import (
    ImageError,
    ImageTooLargeError,
    TruncatedImageError,
    UnreadableImageError,
)
from faceaudit.engine.faces.image import load_image


def _encode(img: Image.Image, fmt: str, **kwargs) -> bytes:
    buffer = io.BytesIO()
    img.save(buffer, fmt, **kwargs)
    return buffer.getvalue()


def test_zero_byte_file_is_unreadable(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    with pytest.raises(UnreadableImageError, match="zero bytes"):
        load_image(empty)


def test_missing_file_is_unreadable(tmp_path: Path) -> None:
    with pytest.raises(UnreadableImageError):
        load_image(tmp_path / "nope.jpg")


def test_text_named_jpg_is_unreadable(tmp_path: Path) -> None:
    fake = tmp_path / "fake.jpg"
    fake.write_text("this is not a picture\n")
    with pytest.raises(UnreadableImageError):
        load_image(fake)


def test_truncated_jpeg_is_refused() -> None:
    rng = np.random.default_rng(0)
    data = _encode(Image.fromarray(rng.integers(0, 255, (300, 300, 3), dtype=np.uint8)), "JPEG")
    with pytest.raises(TruncatedImageError):
        load_image(data[: len(data) // 2])


def test_png_bomb_is_refused_before_decoding(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.png"
    Image.new("1", (20000, 20000)).save(bomb, optimize=False)
    assert bomb.stat().st_size < 5_000_000  # small on disk, 400 MP once decoded
    with pytest.raises(ImageTooLargeError, match="pixels"):
        load_image(bomb)


def test_pixel_and_byte_limits_are_configurable() -> None:
    data = _encode(Image.new("RGB", (100, 100)), "PNG")
    with pytest.raises(ImageTooLargeError):
        load_image(data, max_pixels=9_999)
    with pytest.raises(ImageTooLargeError):
        load_image(data, max_bytes=10)
    assert load_image(data, max_pixels=10_000).shape == (100, 100, 3)


def test_cmyk_jpeg_becomes_rgb() -> None:
    data = _encode(Image.new("CMYK", (40, 30), (0, 255, 255, 0)), "JPEG")
    rgb = load_image(data)
    assert rgb.shape == (30, 40, 3) and rgb.dtype == np.uint8
    assert rgb[..., 0].mean() > 200 and rgb[..., 1].mean() < 60  # cyan-free, magenta+yellow = red


def test_sixteen_bit_png_is_scaled_not_clipped() -> None:
    ramp = np.linspace(0, 65535, 64 * 64).reshape(64, 64).astype(np.uint16)
    data = _encode(Image.fromarray(ramp), "PNG")
    rgb = load_image(data)
    assert rgb.shape == (64, 64, 3)
    assert rgb.max() == 255 and rgb.min() == 0
    assert 100 < rgb.mean() < 155  # a clipped conversion would be almost all 255


def test_rgba_png_is_flattened_on_white() -> None:
    rgba = np.zeros((10, 10, 4), dtype=np.uint8)
    rgba[:5, :, :] = (255, 0, 0, 255)  # top half opaque red, bottom half transparent
    rgb = load_image(_encode(Image.fromarray(rgba, "RGBA"), "PNG"))
    assert tuple(rgb[0, 0]) == (255, 0, 0)
    assert tuple(rgb[9, 9]) == (255, 255, 255)


def test_palette_gif_becomes_rgb() -> None:
    img = Image.new("RGB", (20, 20), (0, 128, 255)).convert("P", palette=Image.Palette.ADAPTIVE)
    rgb = load_image(_encode(img, "GIF"))
    assert rgb.shape == (20, 20, 3)
    assert abs(int(rgb[0, 0, 2]) - 255) < 10


def test_every_hostile_input_raises_only_image_errors(tmp_path: Path) -> None:
    samples = [b"", b"\x89PNG\r\n\x1a\n", b"GIF89a", b"\xff\xd8\xff", bytes(range(256)) * 4]
    for sample in samples:
        with pytest.raises(ImageError):
            load_image(sample)
