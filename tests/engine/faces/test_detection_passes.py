"""Detection does only the work it needs (issue 15): a first pass without upsampling, and a
second pass at upsample 1 only for an image where the first finds no face."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from faceaudit.engine.faces.detect import RETRY_UPSAMPLE, find_faces
from faceaudit.engine.faces.image import load_image


def _centres(faces) -> np.ndarray:
    return np.array(sorted(((f.box.left + f.box.right) / 2, (f.box.top + f.box.bottom) / 2)
                           for f in faces))


def test_large_faces_are_found_by_the_first_pass_alone(faces_small: Path) -> None:
    group = load_image(faces_small / "group" / "insightface_t1.jpg")
    faces, limits = find_faces(group)
    assert len(faces) == 6
    assert limits.upsample == 0 and limits.min_face_px == 80 and limits.scale == 1.0
    exhaustive, exhaustive_limits = find_faces(group, upsample=1)
    assert exhaustive_limits.upsample == 1 and exhaustive_limits.min_face_px == 40
    # the same six faces (HOG's pyramid may settle on a slightly different box size)
    widths = np.array([f.box.width for f in exhaustive])
    assert np.abs(_centres(faces) - _centres(exhaustive)).max() < 0.2 * widths.min()
    assert [f.score for f in faces] == sorted((f.score for f in faces), reverse=True)


def test_an_image_with_only_small_faces_gets_the_second_pass(faces_small: Path) -> None:
    # 150 px photos with faces of about 50 px: below the first pass's 80 px window
    for name in ("1.png", "2.png"):
        small = load_image(faces_small / "mdtf-cc-by-2.0" / name)
        assert find_faces(small, upsample=0)[0] == []
        faces, limits = find_faces(small)
        assert len(faces) == 1, name
        assert limits.upsample == RETRY_UPSAMPLE and limits.min_face_px == 40
        assert faces[0].landmarks.shape == (5, 2)


def test_no_image_loses_its_faces_to_the_first_pass(faces_small: Path) -> None:
    """Failure to find a face is never worse than the exhaustive scan at upsample 1."""
    for path in sorted((faces_small / "mdtf-cc-by-2.0").glob("*.png")):
        image = load_image(path)
        assert bool(find_faces(image)[0]) == bool(find_faces(image, upsample=1)[0]), path.name
