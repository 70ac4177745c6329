"""The work budget: big images are scaled down (while decoding) before detection, boxes come
back in the original pixels, and the smallest findable face is reported, not silently lost."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from faceaudit import api
from faceaudit.engine.faces.detect import MAX_DETECTOR_SIDE, detection_limits
from faceaudit.engine.faces.image import MAX_IMAGE_SIDE, decode_image


def test_detection_limits_follow_the_budget() -> None:
    assert detection_limits(250, 250).to_dict() == {
        "scale": 1.0, "upsample": 1, "min_face_px": 40, "max_detector_side": MAX_DETECTOR_SIDE}
    assert detection_limits(1280, 886).scale == 1.0  # the group photo is not touched
    big = detection_limits(6300, 6300)
    assert big.scale == pytest.approx(1280 / 6300) and big.min_face_px == 197
    # more upsampling does not buy more work than the budget: the same smallest face
    assert detection_limits(1280, 886, upsample=3).min_face_px == 40
    assert detection_limits(640, 480, upsample=0).min_face_px == 80


def test_large_jpeg_is_decoded_small_and_faces_map_back(faces_small: Path) -> None:
    group = Image.open(faces_small / "group" / "insightface_t1.jpg")
    original_faces = api.detect_faces(api.load_image(faces_small / "group" / "insightface_t1.jpg"))
    big = group.resize((group.width * 4, group.height * 4), Image.Resampling.BICUBIC)
    buffer = io.BytesIO()
    big.save(buffer, "JPEG", quality=92)
    decoded = api.open_image(buffer.getvalue())
    assert decoded.original_size == (5120, 3544)
    assert max(decoded.pixels.shape[:2]) <= MAX_IMAGE_SIDE and decoded.scale == 0.5
    exhaustive, limits = api.detect_in(decoded, upsample=1)
    assert len(exhaustive) == 6 and limits.min_face_px == 160 and limits.scale == 0.25
    # left to the engine: a first pass without upsampling on a 1280 px copy finds all six
    # (faces of 320 px or more in the original), and says so
    first_pass, limits = api.detect_in(decoded)
    assert len(first_pass) == 6 and limits.min_face_px == 320 and limits.upsample == 0
    expected = sorted(tuple(4 * v for v in f.box) for f in original_faces)
    for faces in (exhaustive, first_pass):
        for got, want in zip(sorted(f.box for f in faces), expected, strict=True):
            # the same faces, in the big image's pixels (HOG's pyramid may pick a nearby size)
            centre_got = np.array([got[0] + got[2], got[1] + got[3]]) / 2
            centre_want = np.array([want[0] + want[2], want[1] + want[3]]) / 2
            assert np.abs(centre_got - centre_want).max() < 0.25 * (want[2] - want[0])
            assert 0.7 < (got[2] - got[0]) / (want[2] - want[0]) < 1.4


def test_small_images_are_untouched(faces_small: Path) -> None:
    path = faces_small / "face_recognition-mit" / "obama.jpg"
    decoded = decode_image(path, max_side=MAX_IMAGE_SIDE)
    assert decoded.scale == 1.0
    assert np.array_equal(decoded.pixels, api.load_image(path))


def test_exif_rotated_big_jpeg_reports_its_upright_size() -> None:
    stored = Image.new("RGB", (4000, 3000), (90, 120, 150))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° to display: upright it is 3000 wide, 4000 high
    buffer = io.BytesIO()
    stored.save(buffer, "JPEG", exif=exif.tobytes())
    decoded = decode_image(buffer.getvalue(), max_side=1000)
    assert decoded.original_size == (3000, 4000)
    assert decoded.pixels.shape[:2] == (1000, 750)


def test_cli_reports_the_limit_for_a_pixel_bomb(tmp_path: Path) -> None:
    # 6300 × 6300 zeros: a few tens of kB on disk, just under the 40 Mpx limit
    bomb = tmp_path / "zeros.png"
    Image.new("RGB", (6300, 6300)).save(bomb)
    assert bomb.stat().st_size < 200_000
    done = subprocess.run([sys.executable, "-m", "faceaudit.cli", "detect", "--json", str(bomb)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["faces"] == [] and result["image"]["width"] == 6300
    assert result["limits"]["scale"] < 0.21 and result["limits"]["min_face_px"] == 197


def test_two_threads_can_detect_at_the_same_time(faces_small: Path) -> None:
    # no global detector lock: two threads each hold a detector at once (a single shared lock
    # would leave the second waiting and break the barrier), and both detect correctly
    import threading

    from faceaudit.engine.faces import detect

    image = api.load_image(faces_small / "face_recognition-mit" / "obama.jpg")
    barrier = threading.Barrier(2, timeout=10)
    found: list[int] = []

    def work() -> None:
        with detect._HOG.borrow() as hog:
            barrier.wait()
            found.append(len(hog.run(image, 1, 0.0)[0]))
        found.append(len(api.detect_faces(image)))

    threads = [threading.Thread(target=work) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert found == [1, 1, 1, 1]


def test_webp_has_its_own_lower_pixel_limit() -> None:
    from faceaudit.base.errors import ImageTooLargeError

    buffer = io.BytesIO()
    Image.new("RGB", (5000, 4000)).save(buffer, "WEBP")  # 20 Mpx: fine as PNG, not as WebP
    with pytest.raises(ImageTooLargeError, match="WEBP .* for this format"):
        decode_image(buffer.getvalue(), max_side=MAX_IMAGE_SIDE)
