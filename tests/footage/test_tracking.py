"""Tracks bridge a detector's misses, lead and lag, and are padded (ByteTrack underneath)."""

from __future__ import annotations

import numpy as np
import pytest

from faceaudit.base.errors import FaceAuditError
from faceaudit.footage.detection import FrameDetections
from faceaudit.footage.tracking import FaceTracker, TrackSettings


def _moving_face(frame: int) -> np.ndarray:
    return np.array([[100 + 4 * frame, 80, 160 + 4 * frame, 150]], np.float32)


def test_missed_frames_are_bridged_and_ends_extended() -> None:
    settings = TrackSettings(pad=0.0, lead=3, lag=4)
    tracker = FaceTracker(settings, frame_rate=25)
    missed = {12, 13, 14, 15, 20}
    for frame in range(10, 30):
        if frame in missed:
            tracker.observe(frame, FrameDetections.empty())
        else:
            tracker.observe(frame, FrameDetections(_moving_face(frame), np.array([0.9])))
    plan = tracker.plan(40, 640, 360)
    assert len(tracker.tracks) == 1
    sources = {f: [b.source for b in plan[f]] for f in range(40) if plan[f]}
    assert min(sources) == 7 and max(sources) == 33  # 3 frames lead, 4 frames lag
    assert all(sources[f] == ["bridged"] for f in missed)
    assert sources[8] == ["lead"] and sources[32] == ["lag"]
    x1, _, x2, _ = plan[14][0].box  # interpolated where the face was
    assert abs(x1 - (100 + 4 * 14)) <= 1 and abs(x2 - (160 + 4 * 14)) <= 1


def test_boxes_are_padded_and_clipped() -> None:
    tracker = FaceTracker(TrackSettings(pad=0.5, lead=0, lag=0), frame_rate=25)
    tracker.observe(0, FrameDetections(np.array([[10, 10, 50, 90]], np.float32),
                                       np.array([0.9])))
    (box,) = tracker.plan(1, 200, 100)[0]
    assert box.box == (0, 0, 70, 100)  # 20 px each side, clipped at the frame


def test_a_weak_detection_the_tracker_ignores_is_still_redacted() -> None:
    tracker = FaceTracker(TrackSettings(pad=0.0, lead=2, lag=2), frame_rate=25)
    for frame in range(5):
        tracker.observe(frame, FrameDetections.empty())
    tracker.observe(5, FrameDetections(np.array([[0, 0, 20, 20]], np.float32),
                                       np.array([0.21])))
    plan = tracker.plan(10, 100, 100)
    assert [f for f in range(10) if plan[f]] == [3, 4, 5, 6, 7]


def test_settings_are_validated() -> None:
    with pytest.raises(FaceAuditError):
        TrackSettings(pad=-1)
    with pytest.raises(FaceAuditError):
        TrackSettings(lead=-2)
