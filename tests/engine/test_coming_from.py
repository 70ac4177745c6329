"""The README's "Coming from face_recognition / deepface" table, row by row (issue 26).

Each row's faceaudit call (the first code span of its library column) runs here on the
shipped photos, with the names the table uses bound to real inputs; a row whose call fails,
or a new row this test has no check for, fails. The convenience calls behave like the
face_recognition ones they stand for: vectors alone, flat scores, one bool per known face.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from faceaudit import api

ROOT = Path(__file__).resolve().parents[2]
MIT = ROOT / "demo" / "photos" / "face_recognition-mit"


def table_rows() -> list[tuple[str, str]]:
    """(face_recognition / deepface cell, faceaudit library cell) of each table row."""
    text = (ROOT / "README.md").read_text()
    start = text.index("### Coming from face_recognition / deepface")
    rows = []
    for line in text[start:].splitlines()[1:]:
        if line.startswith("## "):
            break
        cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
        if line.startswith("| ") and len(cells) == 3 and not set(cells[0]) <= set("-|"):
            rows.append((cells[0], cells[1]))
    return rows[1:]  # the header row


@pytest.fixture(scope="module")
def names() -> dict[str, Any]:
    """The names the table's calls use, bound to the shipped photos."""
    img = api.load_image(MIT / "obama.jpg")
    known = np.vstack([api.face_encodings(MIT / name) for name in ("obama.jpg", "biden.jpg")])
    e = api.face_encodings(MIT / "obama2.jpg")[0]
    return {"api": api, "img": img, "path": MIT / "obama.jpg", "i": 0, "known": known, "e": e,
            "a": MIT / "obama.jpg", "b": MIT / "obama2.jpg", "img1": MIT / "obama.jpg",
            "img2": MIT / "obama2.jpg", "frame": np.ascontiguousarray(img[:, :, ::-1]),
            "Deployment": __import__("faceaudit.deployment.operations",
                                     fromlist=["Deployment"]).Deployment}


ROWS = table_rows()


def test_the_table_is_there() -> None:
    assert len(ROWS) >= 12, ROWS


@pytest.mark.parametrize(("theirs", "ours"), ROWS, ids=[t for t, _ in ROWS])
def test_each_row_runs(theirs: str, ours: str, names: dict[str, Any]) -> None:
    spans = re.findall(r"`([^`]+)`", ours)
    if not spans:  # "none, on purpose": no demographic inference, under any name
        assert "none, on purpose" in ours
        assert not any(n in dir(api) for n in ("analyze", "predict_gender", "predict_race",
                                                "age", "gender", "race", "emotion"))
        return
    code = spans[0]
    namespace = dict(names)
    if re.match(r"^[\w, ]+ = ", code):
        exec(code, namespace)  # noqa: S102 - the README's own statement, on shipped photos
        value = namespace[code.split("=")[0].split(",")[0].strip()]
    else:
        value = eval(code, namespace)  # noqa: S307 - the README's own expression
    assert value is not None and (not hasattr(value, "__len__") or len(value) > 0), code


def test_the_conveniences_behave_like_face_recognition(names: dict[str, Any]) -> None:
    known, e = names["known"], names["e"]
    vectors = api.face_encodings(MIT / "obama.jpg")
    assert vectors.shape == (1, 128) and vectors.dtype == np.float32
    scores = api.compare(known, e)
    assert scores.shape == (2,) and scores[0] > scores[1]  # obama2 is closer to obama
    assert api.compare(e, known).shape == (2,)
    assert api.compare(known, known).shape == (2, 2)
    assert api.matches(known, e).tolist() == [True, False]
    assert api.matches(known, e, fmr=0.5).tolist()[0] is True
    assert api.face_encodings(np.full((120, 120, 3), 255, np.uint8)).shape[0] == 0
