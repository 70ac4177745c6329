"""dlib's HOG detector is built once, saved in the cache, and loaded from there (issue 15)."""

from __future__ import annotations

from pathlib import Path

import dlib
import numpy as np
import pytest

from faceaudit.engine.faces import hog_model
from faceaudit.engine.faces.image import load_image


@pytest.fixture()
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("FACEAUDIT_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _detections(detector: dlib.fhog_object_detector, image: np.ndarray) -> list:
    rects, scores, kinds = detector.run(image, 1, 0.0)
    return [(r.left(), r.top(), r.right(), r.bottom(), round(s, 6), k)
            for r, s, k in zip(rects, scores, kinds, strict=True)]


def _no_rebuild(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse() -> None:
        raise AssertionError("the detector was rebuilt instead of loaded from the cache")

    monkeypatch.setattr(hog_model.dlib, "get_frontal_face_detector", refuse)


def test_saved_detector_is_loaded_and_finds_the_same_faces(
    cache: Path, faces_small: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    group = load_image(faces_small / "group" / "insightface_t1.jpg")
    built = hog_model.frontal_face_detector()
    saved = hog_model.hog_cache_path()
    assert saved.parent == cache and saved.is_file()
    assert dlib.__version__ in saved.name  # another dlib version builds its own
    _no_rebuild(monkeypatch)
    loaded = hog_model.frontal_face_detector()
    assert _detections(loaded, group) == _detections(built, group)
    assert len(_detections(loaded, group)) == 6


def test_unreadable_cache_file_is_rebuilt(cache: Path, faces_small: Path) -> None:
    obama = load_image(faces_small / "face_recognition-mit" / "obama.jpg")
    reference = _detections(dlib.get_frontal_face_detector(), obama)
    path = hog_model.hog_cache_path()
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not a detector")
    assert _detections(hog_model.frontal_face_detector(), obama) == reference
    assert path.stat().st_size > 100_000  # replaced by the real one
    good = path.read_bytes()
    path.write_bytes(good[: len(good) // 2])  # truncated
    assert _detections(hog_model.frontal_face_detector(), obama) == reference
    assert path.read_bytes() == good


def test_unwritable_cache_still_gives_a_detector(
    tmp_path: Path, faces_small: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("the cache folder cannot be created under a file")
    monkeypatch.setenv("FACEAUDIT_CACHE", str(blocker / "cache"))
    detector = hog_model.frontal_face_detector()
    obama = load_image(faces_small / "face_recognition-mit" / "obama.jpg")
    assert len(_detections(detector, obama)) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"]
