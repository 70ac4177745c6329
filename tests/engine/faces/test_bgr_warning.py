"""A BGR array passed as RGB is warned of (issue 26): faces bluer than red in every detected
face mean OpenCV's channel order; RGB arrays, declared BGR arrays and files are not."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from faceaudit import api

PHOTOS = Path(__file__).resolve().parents[3] / "demo" / "photos"
SHIPPED = sorted(PHOTOS.glob("*/*.jpg")) + sorted(PHOTOS.glob("*/*.png"))


@pytest.mark.parametrize("photo", SHIPPED, ids=[p.name for p in SHIPPED])
def test_bgr_as_rgb_warns_and_nothing_else_does(photo: Path) -> None:
    rgb = api.load_image(photo)
    bgr = np.ascontiguousarray(rgb[:, :, ::-1])
    with pytest.warns(api.BgrWarning, match='color="bgr"'):
        api.detect_faces(bgr)
    with warnings.catch_warnings():
        warnings.simplefilter("error", api.BgrWarning)
        assert api.detect_faces(rgb)
        assert api.detect_faces(bgr, color="bgr")
        api.detect_faces(photo)


def test_the_embedding_calls_warn_too() -> None:
    bgr = np.ascontiguousarray(api.load_image(PHOTOS / "face_recognition-mit" / "obama.jpg")
                               [:, :, ::-1])
    with pytest.warns(api.BgrWarning):
        api.face_embedding(bgr)
    with pytest.warns(api.BgrWarning):
        api.face_encodings(bgr)
