"""Detection and alignment on real photos (a public-domain image when ../shared is absent)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from faceaudit import api
from faceaudit.base.errors import FaceAuditError
from faceaudit.engine.faces.align import face_chips, similarity_transform
from faceaudit.engine.models.base import ChipSpec


def test_astronaut_detect_and_embed() -> None:
    skimage_data = pytest.importorskip("skimage.data", reason="scikit-image not installed")
    image = np.ascontiguousarray(skimage_data.astronaut())
    faces, vectors = api.face_embeddings(image)
    assert len(faces) >= 1  # the best-scoring face is Eileen Collins'
    left, top, right, bottom = faces[0].box
    assert 150 < (left + right) / 2 < 260 and 50 < (top + bottom) / 2 < 160
    assert vectors.shape == (len(faces), 128) and vectors.dtype == np.float32
    assert np.isclose(np.linalg.norm(vectors[0]), 1.0, atol=1e-5)


def test_group_photo_yields_all_six_faces(faces_small: Path) -> None:
    image = api.load_image(faces_small / "group" / "insightface_t1.jpg")
    faces = api.detect_faces(image)
    assert len(faces) == 6
    for face in faces:
        assert face.landmarks.shape == (5, 2)
        left, top, right, bottom = face.box
        inside = (face.landmarks[:, 0] >= left - 5) & (face.landmarks[:, 0] <= right + 5)
        assert inside.all() and top < bottom


def test_exif_rotated_jpeg_face_is_still_found(faces_small: Path) -> None:
    upright = Image.open(faces_small / "face_recognition-mit" / "obama.jpg").convert("RGB")
    # Store the pixels rotated 90° and an EXIF tag (6 = rotate 90° CW to display) that undoes it.
    stored = upright.transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6
    buffer = io.BytesIO()
    stored.save(buffer, "JPEG", exif=exif.tobytes())
    image = api.load_image(buffer.getvalue())
    assert image.shape[:2] == (upright.height, upright.width)
    assert len(api.detect_faces(image)) == 1


def test_rgba_png_face_is_found(faces_small: Path) -> None:
    image = api.load_image(faces_small / "face_recognition-mit" / "32bit.png")
    assert image.shape[2] == 3
    assert len(api.detect_faces(image)) >= 1


def test_image_with_no_face() -> None:
    rng = np.random.default_rng(1)
    noise = rng.integers(100, 140, (200, 200, 3), dtype=np.uint8)
    faces, vectors = api.face_embeddings(noise)
    assert faces == [] and vectors.shape == (0, 128)


def test_unknown_detector_is_a_typed_error() -> None:
    with pytest.raises(FaceAuditError, match="unknown detector"):
        api.detect_faces(np.zeros((10, 10, 3), np.uint8), detector="magic")


def test_similarity_transform_recovers_a_known_transform() -> None:
    src = np.array([[10.0, 20.0], [40.0, 22.0], [25.0, 40.0]])
    angle, scale, shift = 0.3, 1.7, np.array([5.0, -3.0])
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    dst = scale * src @ rot.T + shift
    matrix = similarity_transform(src, dst)
    assert np.allclose(matrix[:, :2], scale * rot) and np.allclose(matrix[:, 2], shift)


def test_arcface_chip_puts_eyes_at_reference(faces_small: Path) -> None:
    image = api.load_image(faces_small / "face_recognition-mit" / "obama.jpg")
    face = api.detect_faces(image)[0]
    chip = face_chips(image, [face], ChipSpec(size=112, kind="arcface"))[0]
    assert chip.shape == (112, 112, 3)
    # the chip is mostly face: a face-coloured centre, not background
    again = api.detect_faces(np.ascontiguousarray(np.asarray(
        Image.fromarray(chip).resize((224, 224)))), upsample=1)
    assert len(again) == 1


def test_cnn_detector_finds_the_face_and_agrees_with_hog(faces_small: Path) -> None:
    image = api.load_image(faces_small / "mdtf-cc-by-2.0" / "1.png")
    cnn = api.detect_faces(image, detector="cnn", upsample=1)
    hog = api.detect_faces(image, detector="hog", upsample=1)
    assert len(cnn) == 1 and len(hog) == 1
    centre = lambda box: np.array([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2])  # noqa: E731
    assert np.linalg.norm(centre(cnn[0].box) - centre(hog[0].box)) < 15
    assert cnn[0].score > 0 and cnn[0].landmarks.shape == (5, 2)
