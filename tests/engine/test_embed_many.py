"""``api.embed_many``: many files through the batch module, one typed result per input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from faceaudit import api
from faceaudit.base.errors import ImageError, InputDataError


def test_one_result_per_input_in_order_with_typed_errors(tmp_path: Path,
                                                         faces_small: Path) -> None:
    group = faces_small / "group" / "insightface_t1.jpg"
    obama = faces_small / "face_recognition-mit" / "obama.jpg"
    corrupt = tmp_path / "corrupt.jpg"
    corrupt.write_bytes(obama.read_bytes()[:300])
    notes = tmp_path / "notes.jpg"
    notes.write_text("not an image")
    blank = tmp_path / "blank.png"
    from PIL import Image

    Image.new("RGB", (200, 200), (120, 130, 140)).save(blank)
    inputs = [group, corrupt, obama, tmp_path / "missing.jpg", notes, blank, obama]

    results = api.embed_many(inputs, workers=1, use_cache=False)

    assert [r.path for r in results] == inputs
    assert [len(r.boxes) for r in results] == [6, 0, 1, 0, 0, 0, 1]
    assert [r.ok for r in results] == [True, False, True, False, False, True, True]
    for refused in (results[1], results[3], results[4]):
        assert isinstance(refused.error, ImageError) and refused.error.code.startswith("image-")
        assert str(refused.path) in str(refused.error)
    assert results[5].no_face and results[5].error is None
    # the same faces and embeddings as the one-image call, in the image's own pixels
    faces, embeddings = api.face_embeddings(group)
    assert sorted(results[0].boxes) == sorted(f.box for f in faces)
    order = [results[0].boxes.index(f.box) for f in faces]
    assert np.allclose(results[0].embeddings[order], embeddings, atol=1e-5)
    assert results[0].embeddings.dtype == np.float32 and results[0].scores.shape == (6,)
    assert np.array_equal(results[2].embeddings, results[6].embeddings)
    # each box's quality components, as the one-image call measures them (docs/quality.md)
    assert [len(r.quality) for r in results] == [len(r.boxes) for r in results]
    measured = api.probe_quality(api.open_image(obama), api.detect_in(api.open_image(obama))[0])
    assert {k: round(v, 1) for k, v in results[2].quality[0].items()} == pytest.approx(
        {k: round(v, 1) for k, v in measured[0].items()}, abs=0.11)


def test_cached_rerun_gives_the_same_results(tmp_path: Path, faces_small: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FACEAUDIT_CACHE", str(tmp_path / "cache"))
    paths = sorted((faces_small / "mdtf-cc-by-2.0").glob("*.png"))
    first = api.embed_many(paths, workers=1)
    again = api.embed_many(paths, workers=1)
    assert all(len(r.boxes) == 1 for r in first)
    for a, b in zip(first, again, strict=True):
        assert a.boxes == b.boxes and np.array_equal(a.embeddings, b.embeddings)


def test_bad_arguments_are_refused_before_any_work(faces_small: Path) -> None:
    obama = faces_small / "face_recognition-mit" / "obama.jpg"
    with pytest.raises(InputDataError, match="list of paths"):
        api.embed_many(str(obama))
    with pytest.raises(InputDataError, match="workers"):
        api.embed_many([obama], workers=0)
    assert api.embed_many([]) == []
