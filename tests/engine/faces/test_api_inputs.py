"""The library API takes what Python users hold: path, bytes, PIL, RGB/BGR/gray/RGBA arrays."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from faceaudit import api
from faceaudit.base.errors import FaceAuditError, ImageError


@pytest.fixture(scope="module")
def obama(faces_small: Path) -> Path:
    return faces_small / "face_recognition-mit" / "obama.jpg"


@pytest.fixture(scope="module")
def rgb(obama: Path) -> np.ndarray:
    with Image.open(obama) as img:
        return np.asarray(img.convert("RGB"))


@pytest.fixture(scope="module")
def reference(rgb: np.ndarray) -> tuple[api.Face, np.ndarray]:
    faces, embeddings = api.face_embeddings(rgb)
    assert len(faces) == 1
    return faces[0], embeddings[0]


def _same_face(got: tuple[list[api.Face], np.ndarray], want: tuple[api.Face, np.ndarray],
               tol: float = 1e-4) -> None:
    faces, embeddings = got
    assert len(faces) == 1
    assert faces[0].box == want[0].box
    assert float(embeddings[0] @ want[1]) > 1 - tol


def test_path_str_bytes_and_pil_give_the_same_face(obama: Path, reference) -> None:
    _same_face(api.face_embeddings(obama), reference)
    _same_face(api.face_embeddings(str(obama)), reference)
    _same_face(api.face_embeddings(obama.read_bytes()), reference)
    with Image.open(obama) as img:
        _same_face(api.face_embeddings(img), reference)
    assert isinstance(api.detect_faces(obama)[0].box, api.Box)


def test_bgr_array_with_color_bgr_equals_rgb(rgb: np.ndarray, reference) -> None:
    bgr = np.ascontiguousarray(rgb[:, :, ::-1])
    _same_face(api.face_embeddings(bgr, color="bgr"), reference)
    # without color="bgr" the channels are read the wrong way round: a different embedding
    with pytest.warns(api.BgrWarning):  # ... and the call says so (issue 26)
        faces, embeddings = api.face_embeddings(bgr)
    assert all(float(e @ reference[1]) < 0.999 for e in embeddings)


def test_gray_and_rgba_arrays_are_converted(rgb: np.ndarray, reference) -> None:
    gray = np.asarray(Image.fromarray(rgb).convert("L"))
    for array in (gray, gray[:, :, None]):
        faces = api.detect_faces(array)
        assert len(faces) == 1
        assert np.abs(np.subtract(faces[0].box, reference[0].box)).max() <= 12
    rgba = np.dstack([rgb, np.full(rgb.shape[:2], 255, np.uint8)])
    _same_face(api.face_embeddings(rgba), reference)
    bgra = np.ascontiguousarray(rgba[:, :, [2, 1, 0, 3]])
    _same_face(api.face_embeddings(bgra, color="bgr"), reference)


def test_transparent_rgba_is_flattened_onto_white(rgb: np.ndarray) -> None:
    rgba = np.dstack([rgb, np.zeros(rgb.shape[:2], np.uint8)])
    assert api.detect_faces(rgba) == []  # fully transparent: a white page, no face


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.uint16, np.int64, bool])
def test_other_dtypes_are_refused_with_a_value_error(rgb: np.ndarray, dtype) -> None:
    array = rgb.astype(dtype) / (255 if np.dtype(dtype).kind == "f" else 1)
    array = array.astype(dtype)
    for call in (api.detect_faces, api.face_embeddings, lambda a: api.verify(a, a)):
        with pytest.raises(ValueError, match=f"dtype {np.dtype(dtype)}.*uint8") as info:
            call(array)
        assert isinstance(info.value, api.ImageInputError)
        assert isinstance(info.value, FaceAuditError)


@pytest.mark.parametrize("shape", [(10,), (4, 4, 2), (4, 4, 5), (0, 4, 3), (2, 3, 4, 3)])
def test_bad_shapes_are_refused(shape: tuple[int, ...]) -> None:
    with pytest.raises(api.ImageInputError, match="shape"):
        api.detect_faces(np.zeros(shape, np.uint8))


def test_other_objects_and_colors_are_refused(obama: Path, rgb: np.ndarray) -> None:
    with pytest.raises(api.ImageInputError, match="list is not an image"):
        api.detect_faces([[1, 2], [3, 4]])
    with pytest.raises(api.ImageInputError, match="color"):
        api.detect_faces(rgb, color="hsv")
    with pytest.raises(api.ImageInputError, match="numpy arrays only"):
        api.detect_faces(obama, color="bgr")


def test_files_still_go_through_the_guarded_decoder(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not an image")
    with pytest.raises(ImageError, match="bad.jpg"):
        api.detect_faces(bad)
    with pytest.raises(FaceAuditError, match="not a regular file|directory"):
        api.detect_faces(tmp_path)


def test_several_faces_are_refused_with_the_count_or_picked(faces_small: Path,
                                                            obama: Path) -> None:
    group = faces_small / "group" / "insightface_t1.jpg"
    assert len(api.detect_faces(group)) == 6
    with pytest.raises(api.SeveralFacesError, match="6 faces") as info:
        api.verify(group, obama)
    assert info.value.count == 6 and str(group) in str(info.value)
    assert info.value.code == "several-faces"
    with pytest.raises(api.SeveralFacesError, match="second image: 6 faces"):
        api.verify(obama, api.load_image(group))
    picked = api.verify(group, obama, face_a=2)
    assert picked.match is False
    face, embedding = api.face_embedding(group, face=2)
    assert face.box == api.detect_faces(group)[2].box and embedding.shape == (128,)
    with pytest.raises(api.NoFaceError, match="face=6"):
        api.face_embedding(group, face=6)


def test_box_conversions() -> None:
    box = api.Box(10, 20, 110, 140)
    assert box.to_trbl() == (20, 110, 140, 10)
    assert box.to_xywh() == (10, 20, 100, 120)
    assert api.Box.from_trbl(box.to_trbl()) == box
    assert api.Box.from_xywh(box.to_xywh()) == box
    assert box.to_dict() == {"left": 10, "top": 20, "right": 110, "bottom": 140}
    assert list(box) == [10, 20, 110, 140]  # still a tuple: the JSON form is unchanged
