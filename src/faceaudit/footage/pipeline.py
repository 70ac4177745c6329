"""Run a redaction: detect and track (pass 1), redact and encode (pass 2), log, review.

Nothing is written at the output path until the redacted file is complete: it is encoded into a
temporary file beside the output and renamed. A clip that turns out to be truncated or corrupt
is refused in pass 1, before any output exists. The log is written after the rename, with the
SHA-256 of the file that was renamed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from PIL import Image

from faceaudit import __version__
from faceaudit.base.errors import FaceAuditError
from faceaudit.footage.detection import DetectorSettings, FrameDetections, detect_frame
from faceaudit.footage.log import (
    SCHEMA,
    log_path_for,
    published,
    sha256_file,
    tracks_section,
    write_log,
)
from faceaudit.footage.review import contact_sheet, doubtful_frames, thumbnail
from faceaudit.footage.styles import STYLES, redact_boxes
from faceaudit.footage.tracking import FaceTracker, PlannedBox, TrackSettings
from faceaudit.footage.video import VIDEO_SUFFIXES, decode_frames, probe, transcode

#: progress(phase, done, total): phase is "detect" or "redact"; total 0 when unknown.
Progress = Callable[[str, int, int], None]
#: keep(rgb, detections) -> per detection the consented subject it shows, or None.
KeepMatcher = Callable[[np.ndarray, FrameDetections], list[str | None]]


@dataclass(frozen=True)
class RedactSettings:
    """Everything that decides what a redaction hides and how."""

    detector: DetectorSettings = field(default_factory=DetectorSettings)
    tracking: TrackSettings = field(default_factory=TrackSettings)
    style: str = "blur"
    detect_every: int = 1
    review_dir: Path | None = None
    low_score: float = 0.5

    def __post_init__(self) -> None:
        if self.style not in STYLES:
            raise FaceAuditError(f"unknown style {self.style!r}; choose one of "
                                 f"{', '.join(STYLES)}")
        if not 1 <= self.detect_every <= 30:
            raise FaceAuditError(f"--detect-every must be 1–30, got {self.detect_every}")

    def to_dict(self) -> dict:
        """JSON-ready form (the log's ``settings``)."""
        return {"style": self.style, "detect_every": self.detect_every,
                "low_score": self.low_score, **self.tracking.to_dict()}


def _no_progress(phase: str, done: int, total: int) -> None:
    return None


def _kept_tracks(tracker: FaceTracker, votes: dict[tuple[int, int], str | None]) -> dict[int, str]:
    """Tracks more than half of whose detections (and at least two, unless the track has only
    one, as in a photo) matched the same consented subject."""
    kept: dict[int, str] = {}
    for track in tracker.tracks.values():
        names = [votes.get((frame, track.track_id)) for frame in track.detections]
        for name in {n for n in names if n}:
            hits = names.count(name)
            if 2 * hits > len(names) and hits >= min(2, len(names)):
                kept[track.track_id] = name
    return kept


class _Pass1:
    """Detection and tracking over a sequence of frames."""

    def __init__(self, settings: RedactSettings, frame_rate: float,
                 keep: KeepMatcher | None) -> None:
        self.settings = settings
        self.tracker = FaceTracker(settings.tracking, frame_rate / settings.detect_every)
        self.keep = keep
        self.frames = 0
        self._votes_by_box: list[tuple[int, np.ndarray, str | None]] = []

    def add(self, rgb: np.ndarray) -> None:
        index = self.frames
        if index % self.settings.detect_every == 0:
            found = detect_frame(rgb, self.settings.detector)
            self.tracker.observe(index, found)
            if self.keep is not None and len(found):
                for box, name in zip(found.boxes, self.keep(rgb, found), strict=True):
                    self._votes_by_box.append((index, np.asarray(box, np.float64), name))
        self.frames += 1

    def kept(self) -> dict[int, str]:
        if self.keep is None:
            return {}
        votes: dict[tuple[int, int], str | None] = {}
        for frame, box, name in self._votes_by_box:
            for track in self.tracker.tracks.values():
                seen = track.detections.get(frame)
                if seen is not None and np.allclose(seen[0], box):
                    votes[(frame, track.track_id)] = name
        return _kept_tracks(self.tracker, votes)


def _log(src: Path, dst: Path, kind: str, media: dict, settings: RedactSettings,
         tracker: FaceTracker, plan: list[list[PlannedBox]], kept: dict[int, str],
         out_sha: str, in_sha: str, seconds: float, review: dict | None) -> dict:
    counts = [sum(1 for b in frame if b.track_id not in kept) for frame in plan]
    return {
        "schema": SCHEMA,
        "faceaudit_version": __version__,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "kind": kind,
        "input": {"path": str(src), "sha256": in_sha, **media},
        "output": {"path": str(dst), "sha256": out_sha},
        "detector": settings.detector.to_dict(),
        "settings": settings.to_dict(),
        "summary": {
            "frames": len(plan),
            "tracks": len(tracker.tracks),
            "frames_with_redaction": sum(1 for c in counts if c),
            "boxes_redacted": sum(counts),
            "kept_tracks": len(kept),
            "seconds": round(seconds, 3),
            "frames_per_second": round(len(plan) / seconds, 2) if seconds > 0 else None,
        },
        "kept": [{"track": t, "subject": s} for t, s in sorted(kept.items())],
        "tracks": tracks_section(tracker, plan, kept),
        "faces_per_frame": counts,
        "review": review,
    }


def _review(settings: RedactSettings, tracker: FaceTracker, dst: Path) -> dict[int, str]:
    return doubtful_frames(tracker, settings.low_score) if settings.review_dir else {}


def _write_review(settings: RedactSettings, dst: Path, doubt: dict[int, str],
                  thumbs: list) -> dict | None:
    if settings.review_dir is None:
        return None
    sheet = contact_sheet(thumbs, settings.review_dir / f"{dst.name}.review.png")
    return {"sheet": str(sheet) if sheet else None,
            "frames": [{"frame": f, "why": why} for f, why in sorted(doubt.items())]}


def redact_video(src: Path, dst: Path, settings: RedactSettings,
                 progress: Progress = _no_progress, keep: KeepMatcher | None = None) -> dict:
    """Redact every face in the video ``src`` into ``dst``; write and return the log."""
    started = time.perf_counter()
    info = probe(src)
    pass1 = _Pass1(settings, float(info.fps), keep)
    for rgb in decode_frames(src, info):
        pass1.add(rgb)
        progress("detect", pass1.frames, info.expected_frames)
    n = pass1.frames
    plan = pass1.tracker.plan(n, info.width, info.height, settings.detect_every)
    kept = pass1.kept()
    doubt = _review(settings, pass1.tracker, dst)
    thumbs = []

    def transform(index: int, rgb: np.ndarray) -> np.ndarray:
        boxes = [b.box for b in plan[index] if b.track_id not in kept] if index < n else []
        out = redact_boxes(rgb, boxes, settings.style)
        if index in doubt:
            thumbs.append(thumbnail(out, boxes, f"#{index}: {doubt[index]}"))
        progress("redact", index + 1, n)
        return out

    with published(dst) as tmp:
        written, encoder = transcode(src, tmp, info, transform)
        if written != n:
            raise FaceAuditError(f"{src}: decoded {n} frames but re-encoded {written}")
        review = _write_review(settings, dst, doubt, thumbs)
        out_sha = sha256_file(tmp)
    media = {**info.to_dict(), "frames": n, "encoder": encoder}
    log = _log(src, dst, "video", media, settings, pass1.tracker, plan, kept, out_sha,
               sha256_file(src), time.perf_counter() - started, review)
    write_log(log, log_path_for(dst))
    return log


def _image_format(dst: Path) -> str:
    fmt = Image.registered_extensions().get(dst.suffix.lower())
    if fmt is None:
        raise FaceAuditError(f"{dst}: unknown image type {dst.suffix!r} for the output")
    return fmt


def redact_image(src: Path, dst: Path, settings: RedactSettings,
                 progress: Progress = _no_progress, keep: KeepMatcher | None = None) -> dict:
    """Redact every face in the image ``src`` into ``dst`` (same pixels size); return the log."""
    from faceaudit.engine.faces.image import decode_image

    started = time.perf_counter()
    fmt = _image_format(dst)
    decoded = decode_image(src, max_side=None)
    rgb = decoded.pixels
    pass1 = _Pass1(settings, 1.0, keep)
    pass1.add(rgb)
    progress("detect", 1, 1)
    height, width = rgb.shape[:2]
    plan = pass1.tracker.plan(1, width, height)
    kept = pass1.kept()
    boxes = [b.box for b in plan[0] if b.track_id not in kept]
    out = redact_boxes(rgb, boxes, settings.style)
    doubt = _review(settings, pass1.tracker, dst)
    thumbs = [thumbnail(out, boxes, f"{src.name}: {doubt[0]}")] if 0 in doubt else []
    with published(dst) as tmp:
        Image.fromarray(out).save(tmp, format=fmt, **({"quality": 95} if fmt == "JPEG" else {}))
        review = _write_review(settings, dst, doubt, thumbs)
        out_sha = sha256_file(tmp)
    progress("redact", 1, 1)
    media = {"width": width, "height": height, "format": decoded.format, "frames": 1}
    log = _log(src, dst, "image", media, settings, pass1.tracker, plan, kept, out_sha,
               sha256_file(src), time.perf_counter() - started, review)
    write_log(log, log_path_for(dst))
    return log


def is_video(path: Path) -> bool:
    """Whether ``path`` is treated as a video (by its suffix)."""
    return path.suffix.lower() in VIDEO_SUFFIXES


def redact_file(src: Path, dst: Path, settings: RedactSettings,
                progress: Progress = _no_progress, keep: KeepMatcher | None = None) -> dict:
    """Redact one video or image file."""
    run = redact_video if is_video(src) else redact_image
    return run(src, dst, settings, progress, keep)
