"""1:1 verification at the shipped FMR 1e-3 threshold, on real photos."""

from __future__ import annotations

from pathlib import Path

import pytest

from faceaudit import api
from faceaudit.base.errors import NoFaceError


def _verify(a: Path, b: Path, fmr: float = 1e-3) -> api.VerifyResult:
    return api.verify(api.load_image(a), api.load_image(b), fmr=fmr)


def test_obama_matches_obama_not_biden(faces_small: Path) -> None:
    mit = faces_small / "face_recognition-mit"
    same = _verify(mit / "obama.jpg", mit / "obama2.jpg")
    assert same.match and same.score > same.threshold
    other = _verify(mit / "obama.jpg", mit / "biden.jpg")
    assert not other.match and other.score < other.threshold
    assert same.threshold == other.threshold and same.fmr_target == 1e-3


@pytest.mark.parametrize("pair", [(1, 2), (3, 4), (5, 6)])
def test_mdtf_same_person_pairs_match(faces_small: Path, pair: tuple[int, int]) -> None:
    mdtf = faces_small / "mdtf-cc-by-2.0"
    assert _verify(mdtf / f"{pair[0]}.png", mdtf / f"{pair[1]}.png").match


@pytest.mark.parametrize("pair", [(1, 3), (1, 5), (2, 4), (2, 6), (3, 5), (4, 6)])
def test_mdtf_cross_pairs_do_not_match(faces_small: Path, pair: tuple[int, int]) -> None:
    mdtf = faces_small / "mdtf-cc-by-2.0"
    assert not _verify(mdtf / f"{pair[0]}.png", mdtf / f"{pair[1]}.png").match


def test_stricter_target_raises_the_threshold(faces_small: Path) -> None:
    mit = faces_small / "face_recognition-mit"
    loose = _verify(mit / "obama.jpg", mit / "obama2.jpg", fmr=1e-2)
    strict = _verify(mit / "obama.jpg", mit / "obama2.jpg", fmr=1e-5)
    assert strict.threshold > loose.threshold
    assert loose.score == pytest.approx(strict.score)


def test_faceless_image_is_a_typed_error(faces_small: Path) -> None:
    import numpy as np

    blank = np.full((120, 120, 3), 90, dtype=np.uint8)
    with pytest.raises(NoFaceError, match="second image"):
        api.verify(api.load_image(faces_small / "face_recognition-mit" / "obama.jpg"), blank)


def test_verify_takes_two_embeddings_as_face_recognition_users_expect(faces_small: Path) -> None:
    mit = faces_small / "face_recognition-mit"
    obama, obama2, biden = (api.face_encodings(mit / name)[0]
                            for name in ("obama.jpg", "obama2.jpg", "biden.jpg"))
    from_images = api.verify(mit / "obama.jpg", mit / "obama2.jpg")
    same = api.verify(obama, obama2)
    assert same.match and same.score == pytest.approx(from_images.score, abs=1e-5)
    assert same.threshold == from_images.threshold and same.backend_id == "dlib-resnet:1"
    assert not api.verify(obama, biden).match
    # face_embedding's (face, vector) pair, and an embedding beside an image, work too
    pair = api.face_embedding(mit / "obama.jpg")
    assert api.verify(pair, mit / "obama2.jpg").score == pytest.approx(same.score, abs=1e-5)
    assert api.verify(obama2, pair).match


def test_verify_refuses_rows_of_embeddings_pointing_to_matches(faces_small: Path) -> None:
    import numpy as np

    from faceaudit.base.errors import ImageInputError

    rows = api.face_encodings(faces_small / "face_recognition-mit" / "obama.jpg")
    with pytest.raises(ImageInputError, match=r"api\.matches"):
        api.verify(np.vstack([rows, rows]), rows[0])
    with pytest.raises(ImageInputError, match="different models"):
        api.verify(rows[0], rows[0][:64])
    with pytest.raises(ImageInputError, match="all zeros"):
        api.verify(np.zeros(128, dtype=np.float32), rows[0])
