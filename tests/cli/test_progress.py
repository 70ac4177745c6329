"""Progress of long work when stderr is not a terminal (a log, CI): plain lines, not silence."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

from faceaudit.base.progress import ProgressReport


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_log_gets_a_line_per_interval_and_one_when_done() -> None:
    log = io.StringIO()
    with ProgressReport(stream=log, interval_s=0.0) as report:
        task = report.task("embedding (x)", 4, "images")
        for _ in range(4):
            task.advance()
        task.advance(0)  # updates after the end add nothing
    lines = log.getvalue().splitlines()
    assert lines[0].startswith("faceaudit: embedding (x): 1/4 images (25%), ")
    assert "images/s" in lines[0] and "left" in lines[0]
    assert lines[-1].startswith("faceaudit: embedding (x): 4/4 images, done in ")
    assert len(lines) == 4  # three running lines, then the last one


def test_between_intervals_only_the_last_line() -> None:
    log = io.StringIO()
    with ProgressReport(stream=log, interval_s=3600) as report:
        task = report.task("scoring", 1000)
        for _ in range(10):
            task.advance(100)
    assert log.getvalue().splitlines() == [log.getvalue().splitlines()[-1]]
    assert "1,000/1,000, done in" in log.getvalue()


def test_unknown_total_is_closed_when_the_work_ends() -> None:
    log = io.StringIO()
    with ProgressReport(stream=log, interval_s=3600) as report:
        report.task("detect clip.mp4", None, "frames").update(250)
    assert log.getvalue().startswith("faceaudit: detect clip.mp4: 250 frames, done in ")


def test_quiet_or_a_terminal_writes_no_plain_lines() -> None:
    quiet = io.StringIO()
    with ProgressReport(enabled=False, stream=quiet, interval_s=0.0) as report:
        report.task("x", 2).advance(2)
    assert quiet.getvalue() == ""
    terminal = _Terminal()
    with ProgressReport(stream=terminal, interval_s=0.0) as report:
        report.task("x", 2).advance(2)
    assert "faceaudit: x:" not in terminal.getvalue()  # a live bar there, cleared when done


def test_embed_reports_progress_on_stderr_and_keeps_stdout_one_document(
    tmp_path: Path, faces_small: Path
) -> None:
    from PIL import Image

    photo = tmp_path / "biden-progress.png"  # bytes no other test embeds: real work, not cached
    Image.open(faces_small / "face_recognition-mit" / "biden.jpg").save(photo)
    done = subprocess.run(
        [sys.executable, "-m", "faceaudit", "embed", "--json", "--workers", "1", "-o",
         str(tmp_path / "e.parquet"), str(photo)],
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["images"] == 1
    assert "faceaudit: embedding (dlib-resnet:1): 1/1 images, done in" in done.stderr
