"""The engine's CLI contract: detect, embed, verify — JSON out, exit codes, no tracebacks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq


def faceaudit(*args: str | Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "faceaudit.cli", *map(str, args)],
        capture_output=True, text=True, timeout=300,
    )


def test_detect_prints_every_face(faces_small: Path) -> None:
    done = faceaudit("detect", faces_small / "group" / "insightface_t1.jpg")
    assert done.returncode == 0, done.stderr
    faces = json.loads(done.stdout)
    assert len(faces) == 6
    assert set(faces[0]) == {"box", "score", "landmarks"} and len(faces[0]["landmarks"]) == 5


def test_verify_exit_codes(faces_small: Path) -> None:
    mit = faces_small / "face_recognition-mit"
    match = faceaudit("verify", mit / "obama.jpg", mit / "obama2.jpg", "--fmr", "1e-3")
    assert match.returncode == 0, match.stderr
    result = json.loads(match.stdout)
    assert result["match"] is True and result["fmr_target"] == 1e-3
    assert set(result) >= {"score", "threshold", "fmr_target", "match"}
    no_match = faceaudit("verify", mit / "obama.jpg", mit / "biden.jpg")
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
        faces_small / "face_recognition-mit" / "biden.jpg", "-o", out, "--workers", "1",
    )
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["faces"] == 7 and summary["no_face"]["count"] == 0
    table = pq.read_table(out)
    assert table.num_rows == 7 and table.column("identity").null_count == 7
