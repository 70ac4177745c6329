"""The engine's CLI contract: detect, embed, verify — JSON out, exit codes, no tracebacks."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq

from faceaudit.engine.faces.quality import COMPONENTS

PROGRESS = "faceaudit: embedding "  # progress lines on stderr (docs/cli.md), not errors


def faceaudit(*args: str | Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "faceaudit.cli", *map(str, args)],
        capture_output=True, text=True, timeout=300,
    )


def test_detect_prints_every_face(faces_small: Path) -> None:
    done = faceaudit("detect", "--json", faces_small / "group" / "insightface_t1.jpg")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    faces = result["faces"]
    assert len(faces) == 6
    assert set(faces[0]) == {"box", "score", "landmarks", "quality"}
    for face in faces:  # named fields, not bare lists
        box = face["box"]
        assert set(box) == {"left", "top", "right", "bottom"}
        assert box["left"] < box["right"] and box["top"] < box["bottom"]
        marks = face["landmarks"]
        assert list(marks) == ["right_eye_outer", "right_eye_inner", "left_eye_outer",
                               "left_eye_inner", "nose_base"]
        assert all(set(point) == {"x", "y"} for point in marks.values())
        # named by the image's side: the "right" eye is on the image's right, the nose below
        assert marks["left_eye_outer"]["x"] < marks["left_eye_inner"]["x"] \
            < marks["right_eye_inner"]["x"] < marks["right_eye_outer"]["x"]
        assert marks["nose_base"]["y"] > marks["left_eye_inner"]["y"]
        assert box["left"] <= marks["nose_base"]["x"] <= box["right"]
        # the probe's quality components (docs/quality.md), the inter-eye distance between
        # the eye centres the landmarks give
        quality = face["quality"]
        assert list(quality) == list(COMPONENTS)
        centres = [((marks[f"{side}_eye_outer"]["x"] + marks[f"{side}_eye_inner"]["x"]) / 2,
                    (marks[f"{side}_eye_outer"]["y"] + marks[f"{side}_eye_inner"]["y"]) / 2)
                   for side in ("left", "right")]
        assert abs(quality["inter_eye_distance_px"] - math.dist(*centres)) < 0.2
        assert 0 < quality["luminance_mean"] < 1 and quality["sharpness"] > 0
    assert result["image"] == {"width": 1280, "height": 886, "format": "JPEG"}
    # by default the first pass does not upsample: not scaled, faces of 80 px or more, which
    # finds all six, so there is no second pass
    assert result["limits"]["scale"] == 1.0 and result["limits"]["min_face_px"] == 80
    assert result["limits"]["upsample"] == 0
    # --upsample 1 scans once, exhaustively: 1280 px at upsample 1 is within the work budget,
    # 80 px detector window / 2
    done = faceaudit("detect", faces_small / "group" / "insightface_t1.jpg", "--upsample", "1",
                     "--json")
    result = json.loads(done.stdout)
    assert len(result["faces"]) == 6
    assert result["limits"]["scale"] == 1.0 and result["limits"]["min_face_px"] == 40
    # the text view names each face's headline quality components
    text = faceaudit("detect", faces_small / "face_recognition-mit" / "obama.jpg")
    assert text.returncode == 0, text.stderr
    assert "px apart, yaw" in text.stdout and "sharpness" in text.stdout


def test_verify_exit_codes(faces_small: Path) -> None:
    mit = faces_small / "face_recognition-mit"
    match = faceaudit("verify", "--json", mit / "obama.jpg", mit / "obama2.jpg", "--fmr", "1e-3")
    assert match.returncode == 0, match.stderr
    result = json.loads(match.stdout)
    assert result["match"] is True and result["fmr_target"] == 1e-3
    assert set(result) >= {"score", "threshold", "fmr_target", "match"}
    no_match = faceaudit("verify", "--json", mit / "obama.jpg", mit / "biden.jpg")
    assert no_match.returncode == 1 and json.loads(no_match.stdout)["match"] is False


def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, faces_small: Path) -> None:
    text = tmp_path / "notes.jpg"
    text.write_text("hello")
    obama = faces_small / "face_recognition-mit" / "obama.jpg"
    for args in (
        ("verify", text, obama),
        ("verify", obama, tmp_path / "missing.jpg"),
        ("verify", obama, obama, "--fmr", "1e-12"),
        ("verify", obama, obama, "--calibration", text),
        ("detect", text),
        ("embed", tmp_path / "nowhere", "-o", tmp_path / "x.parquet"),
        ("embed", obama, "-o", tmp_path / "no-such-folder" / "x.parquet"),
    ):
        done = faceaudit(*args)
        assert done.returncode == 2, (args, done.stdout, done.stderr)
        assert "Traceback" not in done.stderr
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr
        assert done.stderr.startswith("faceaudit: error:")


def test_embed_list_of_files_keeps_every_face(tmp_path: Path, faces_small: Path) -> None:
    out = tmp_path / "e.parquet"
    done = faceaudit(
        "embed", faces_small / "group" / "insightface_t1.jpg",
        faces_small / "face_recognition-mit" / "biden.jpg", "-o", out, "--workers", "1", "--json",
    )
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["faces"] == 7 and summary["no_face"]["count"] == 0
    table = pq.read_table(out)
    assert table.num_rows == 7 and table.column("identity").null_count == 7


def test_embed_folder_skips_counts_and_lists_refused_inputs(
    tmp_path: Path, faces_small: Path
) -> None:
    import os

    folder = tmp_path / "photos"
    folder.mkdir()
    good = (faces_small / "face_recognition-mit" / "biden.jpg").read_bytes()
    (folder / "a-good.jpg").write_bytes(good)
    (folder / "b-notes.jpg").write_text("not a picture")
    (folder / "c-truncated.jpg").write_bytes(good[: len(good) // 3])
    os.mkfifo(folder / "d-fifo.jpg")
    (folder / "e-dangling.jpg").symlink_to(tmp_path / "gone.jpg")
    (folder / "f-loop.jpg").symlink_to(folder / "f-loop2.jpg")
    (folder / "f-loop2.jpg").symlink_to(folder / "f-loop.jpg")
    out = tmp_path / "e.parquet"
    done = faceaudit("embed", folder, "-o", out, "--workers", "1", "--json")
    assert done.returncode == 6, done.stderr  # some inputs refused: documented, not 0
    errors = [line for line in done.stderr.splitlines() if not line.startswith(PROGRESS)]
    assert len(errors) == 1 and errors[0].startswith("faceaudit: error:") and "refused" in errors[0]
    summary = json.loads(done.stdout)
    assert summary["images"] == 7 and summary["faces"] == 1
    refused = summary["refused"]
    assert refused["count"] == 6
    by_reason = refused["by_reason"]
    assert by_reason["image-truncated"] == [str(folder / "c-truncated.jpg")]
    unreadable = by_reason["image-unreadable"]
    assert {Path(p).name for p in unreadable} == {
        "b-notes.jpg", "d-fifo.jpg", "e-dangling.jpg", "f-loop.jpg", "f-loop2.jpg"}
    assert "FIFO" in refused["messages"][str(folder / "d-fifo.jpg")]
    assert pq.read_table(out).num_rows == 1
    again = faceaudit("embed", folder, "-o", out, "--workers", "1", "--skip-bad", "--json")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["refused"]["count"] == 6
