"""`faceaudit redact` on real (generated) video: audio, rate, codec, coverage, log, refusals."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import av
import numpy as np
import pytest
from footage_clips import load_clip_tool, make_tiny_clip, run_cli

from faceaudit.engine.faces.centerface import centerface_detect


def _audio_packets(path: Path) -> list[bytes]:
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        return [bytes(p) for p in container.demux(stream) if p.size]


def _frames(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


def test_audio_copied_unchanged_and_rate_codec_duration_kept(tiny_clip, redacted_clip) -> None:
    src, truth = tiny_clip
    out, log, _ = redacted_clip
    assert _audio_packets(out) == _audio_packets(src)  # same stream, packet for packet
    with av.open(str(src)) as a, av.open(str(out)) as b:
        va, vb = a.streams.video[0], b.streams.video[0]
        assert vb.codec_context.name == va.codec_context.name == "h264"
        assert vb.average_rate == va.average_rate
        assert len(b.streams.audio) == 1
        assert b.streams.audio[0].codec_context.name == a.streams.audio[0].codec_context.name
        assert abs(float(b.duration - a.duration)) / 1e6 < 0.11  # within one frame at 10 fps
    assert len(_frames(out)) == truth["frames"] == log["summary"]["frames"]


def _covered(box, redactions) -> float:
    x1, y1, x2, y2 = box
    xs, ys = np.meshgrid(np.arange(x1, x2) + 0.5, np.arange(y1, y2) + 0.5)
    hit = np.zeros(xs.shape, bool)
    for r in redactions:
        hit |= (xs >= r[0]) & (xs < r[2]) & (ys >= r[1]) & (ys < r[3])
    return float(hit.mean())


def test_every_visible_face_frame_covered_and_none_redetected(tiny_clip, redacted_clip) -> None:
    _, truth = tiny_clip
    out, log, _ = redacted_clip
    by_frame: dict[int, list] = {}
    for track in log["tracks"]:
        for row in track["boxes"]:
            by_frame.setdefault(row["frame"], []).append(
                (row["left"], row["top"], row["right"], row["bottom"]))
    scored = [b for b in truth["boxes"] if b[6] >= 0.9]
    assert len(scored) > 10
    for frame, _face, x1, y1, x2, y2, _vis, _hiders in scored:
        assert _covered((int(x1), int(y1), int(x2), int(y2)), by_frame.get(frame, [])) >= 0.9
    for frame in _frames(out):  # the redacted faces are not faces any more
        assert len(centerface_detect(frame, threshold=0.5)) == 0


def test_log_matches_files_and_holds_no_pixels(tiny_clip, redacted_clip) -> None:
    src, truth = tiny_clip
    out, log, run = redacted_clip
    assert log["output"]["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    assert log["input"]["sha256"] == hashlib.sha256(src.read_bytes()).hexdigest()
    assert log["detector"]["name"] == "centerface" and len(log["detector"]["model_sha256"]) == 64
    assert len(log["faces_per_frame"]) == truth["frames"]
    assert sum(log["faces_per_frame"]) == log["summary"]["boxes_redacted"]
    for track in log["tracks"]:
        assert track["frames"][0] <= track["first_detected"] <= track["last_detected"]
        assert all(set(row) == {"frame", "left", "top", "right", "bottom", "why"}
                   and row["why"] in ("detected", "bridged", "lead", "lag")
                   for row in track["boxes"])
    text = json.dumps(log)
    assert "embedding" not in text and "template" not in text and len(text) < 200_000
    summary = json.loads(run.stdout)["redacted"][0]
    assert summary["output"] == str(out) and summary["frames"] == truth["frames"]
    assert "frames/s" in run.stderr  # progress, on stderr, although it is not a terminal


def test_review_sheet_shows_doubtful_frames_without_faces(redacted_clip) -> None:
    out, log, _ = redacted_clip
    sheet = Path(log["review"]["sheet"])
    assert sheet.is_file() and sheet.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert {f["frame"] for f in log["review"]["frames"]} >= {
        t["first_detected"] for t in log["tracks"] if t["tracked"]}
    from PIL import Image

    pixels = np.asarray(Image.open(sheet).convert("RGB"))
    assert len(centerface_detect(pixels, threshold=0.5)) == 0


def test_truncated_clip_exits_2_and_leaves_nothing(tiny_clip, tmp_path: Path) -> None:
    src, _ = tiny_clip
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(src.read_bytes()[: src.stat().st_size * 2 // 3])
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    run = run_cli("redact", str(cut), "-o", str(out_dir / "out.mp4"), "--quiet")
    assert run.returncode == 2, run.stderr
    assert len(run.stderr.strip().splitlines()) == 1 and "cut.mp4" in run.stderr
    assert "Traceback" not in run.stderr
    assert list(out_dir.iterdir()) == []  # no output, no partial temp file, no log


def test_truncated_mkv_whose_header_survives_exits_2(lfw_data, tmp_path: Path) -> None:
    clip = tmp_path / "clip.mkv"
    make_tiny_clip(lfw_data, clip, faces=1, seconds=1.0)
    data = clip.read_bytes()
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(data[: len(data) // 2])  # Matroska: header first, frames cut off
    run = run_cli("redact", str(cut), "-o", str(tmp_path / "out.mkv"), "--quiet")
    assert run.returncode == 2, run.stderr
    assert "truncated" in run.stderr and len(run.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out.mkv").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]


@pytest.mark.parametrize("content", [b"", b"this is not a video\n" * 50])
def test_not_a_video_exits_2_one_line(tmp_path: Path, content: bytes) -> None:
    fake = tmp_path / "fake.mp4"
    fake.write_bytes(content)
    run = run_cli("redact", str(fake), "-o", str(tmp_path / "out.mp4"), "--quiet")
    assert run.returncode == 2
    assert len(run.stderr.strip().splitlines()) == 1 and "fake.mp4" in run.stderr
    assert not (tmp_path / "out.mp4").exists()


def test_clip_tool_ground_truth_is_visible_fraction_aware() -> None:
    tool = load_clip_tool()
    assert tool.visible_fraction((0, 0, 10, 10), []) == 1.0
    assert tool.visible_fraction((0, 0, 10, 10), [(0, 0, 5, 10)]) == pytest.approx(0.5)


def test_detect_every_third_frame_still_covers_every_face(tiny_clip, tmp_path: Path) -> None:
    src, truth = tiny_clip
    out = tmp_path / "out.mp4"
    run = run_cli("redact", str(src), "-o", str(out), "--detect-every", "3", "--quiet")
    assert run.returncode == 0, run.stderr
    log = json.loads((tmp_path / "out.mp4.redaction.json").read_text())
    assert log["settings"]["detect_every"] == 3
    by_frame: dict[int, list] = {}
    for track in log["tracks"]:
        for row in track["boxes"]:
            by_frame.setdefault(row["frame"], []).append(
                (row["left"], row["top"], row["right"], row["bottom"]))
    misses = [b for b in truth["boxes"] if b[6] >= 0.9 and _covered(
        (int(b[2]), int(b[3]), int(b[4]), int(b[5])), by_frame.get(b[0], [])) < 0.9]
    assert misses == []
