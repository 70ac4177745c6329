"""Tracks from per-frame detections, and the boxes to redact in every frame.

Detections are linked into tracks by ByteTrack (``supervision``'s implementation: it keeps a
lost track alive for ``lost_track_buffer`` frames and re-associates low-score detections, which
is what bridges a detector's misses). The plan then makes every track cover more than the
frames it was detected in:

- **bridged** frames between two detections of one track get the linearly interpolated box;
- **lead** / **lag** frames before its first and after its last detection get that box;
- every box is **padded** by ``pad`` × its width/height on each side.

A detection the tracker does not attach to a track (too weak to start one) is still redacted,
as a one-detection track with the same lead and lag: the tracker can only add coverage.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from types import ModuleType

import numpy as np

from faceaudit.base.errors import FaceAuditError
from faceaudit.footage.detection import FrameDetections


@dataclass(frozen=True)
class TrackSettings:
    """How far tracks reach: padding, lead/lag frames, the tracker's memory and thresholds."""

    pad: float = 0.25
    lead: int = 5
    lag: int = 5
    lost_track_buffer: int = 30
    activation_threshold: float = 0.4
    matching_threshold: float = 0.8

    def __post_init__(self) -> None:
        if not 0.0 <= self.pad <= 2.0:
            raise FaceAuditError(f"--pad must be between 0 and 2, got {self.pad}")
        if min(self.lead, self.lag, self.lost_track_buffer) < 0:
            raise FaceAuditError("--lead, --lag and the track buffer must be >= 0")

    def to_dict(self) -> dict:
        """JSON-ready form."""
        return {"tracker": "ByteTrack (supervision)", "pad": self.pad, "lead": self.lead,
                "lag": self.lag, "lost_track_buffer": self.lost_track_buffer,
                "activation_threshold": self.activation_threshold,
                "matching_threshold": self.matching_threshold}


@dataclass
class Track:
    """One face over time: the frames it was detected in, with box and score."""

    track_id: int
    tracked: bool
    detections: dict[int, tuple[np.ndarray, float]] = field(default_factory=dict)

    @property
    def first(self) -> int:
        """Frame of the first detection."""
        return min(self.detections)

    @property
    def last(self) -> int:
        """Frame of the last detection."""
        return max(self.detections)


@dataclass(frozen=True)
class PlannedBox:
    """A box to redact in one frame: which track, why (detected/bridged/lead/lag), where."""

    track_id: int
    source: str
    box: tuple[int, int, int, int]


def _supervision() -> ModuleType:
    """Import supervision quietly: a library must not print to the user's stderr.

    It warns at import when OpenCV is absent (it then uses its NumPy backend, which is all the
    tracker needs; faceaudit does not depend on OpenCV) and that ByteTrack is deprecated.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # deprecated in favour of `trackers`
        warnings.filterwarnings("ignore", message=r"OpenCV .* is not installed",
                                category=UserWarning)
        import supervision

    return supervision


def _new_bytetrack(settings: TrackSettings, frame_rate: float):
    sv = _supervision()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return sv.ByteTrack(
            track_activation_threshold=settings.activation_threshold,
            lost_track_buffer=settings.lost_track_buffer,
            minimum_matching_threshold=settings.matching_threshold,
            frame_rate=frame_rate,
            minimum_consecutive_frames=1,
        )


class FaceTracker:
    """Feed it each detected frame in order; then :meth:`plan` the boxes for every frame."""

    def __init__(self, settings: TrackSettings, frame_rate: float = 30.0) -> None:
        """A tracker for a clip at ``frame_rate`` (detected frames per second)."""
        self.settings = settings
        self._bytetrack = _new_bytetrack(settings, frame_rate)
        self._ids: dict[int, int] = {}
        self.tracks: dict[int, Track] = {}
        self.scores: dict[int, float] = {}  # frame -> lowest detection score in it

    def _track(self, key: int | None) -> Track:
        if key is not None and key in self._ids:
            return self.tracks[self._ids[key]]
        track = Track(len(self.tracks) + 1, tracked=key is not None)
        self.tracks[track.track_id] = track
        if key is not None:
            self._ids[key] = track.track_id
        return track

    def observe(self, frame: int, found: FrameDetections) -> None:
        """Add one frame's detections (frames must come in increasing order)."""
        sv = _supervision()

        if len(found):
            self.scores[frame] = float(found.scores.min())
        detections = sv.Detections(
            xyxy=np.asarray(found.boxes, np.float32).reshape(-1, 4),
            confidence=np.asarray(found.scores, np.float32),
            class_id=np.zeros(len(found), int),
            data={"row": np.arange(len(found))},
        )
        tracked = self._bytetrack.update_with_detections(detections)
        linked = {int(r): int(t) for r, t in zip(tracked.data.get("row", []),
                                                  tracked.tracker_id, strict=True)}
        for row in range(len(found)):
            track = self._track(linked.get(row))
            track.detections[frame] = (np.asarray(found.boxes[row], np.float64),
                                       float(found.scores[row]))

    def plan(self, n_frames: int, width: int, height: int,
             detect_every: int = 1) -> list[list[PlannedBox]]:
        """The padded boxes to redact in each of ``n_frames`` frames of a width × height clip."""
        plan: list[list[PlannedBox]] = [[] for _ in range(n_frames)]
        reach = max(0, detect_every - 1)
        for track in self.tracks.values():
            for frame, source, box in _coverage(track, self.settings, reach):
                if 0 <= frame < n_frames:
                    plan[frame].append(PlannedBox(track.track_id, source,
                                                  _pad(box, self.settings.pad, width, height)))
        return plan


def _coverage(track: Track, settings: TrackSettings, reach: int):
    frames = sorted(track.detections)
    for a, b in zip(frames, frames[1:], strict=False):
        box_a, box_b = track.detections[a][0], track.detections[b][0]
        yield a, "detected", box_a
        for f in range(a + 1, b):
            t = (f - a) / (b - a)
            yield f, "bridged", box_a * (1 - t) + box_b * t
    yield frames[-1], "detected", track.detections[frames[-1]][0]
    first_box, last_box = track.detections[frames[0]][0], track.detections[frames[-1]][0]
    for f in range(frames[0] - max(settings.lead, reach), frames[0]):
        yield f, "lead", first_box
    for f in range(frames[-1] + 1, frames[-1] + max(settings.lag, reach) + 1):
        yield f, "lag", last_box


def _pad(box: np.ndarray, pad: float, width: int, height: int) -> tuple[int, int, int, int]:
    x1, y1, x2, y2 = (float(v) for v in box)
    dx, dy = (x2 - x1) * pad, (y2 - y1) * pad
    return (max(0, int(np.floor(x1 - dx))), max(0, int(np.floor(y1 - dy))),
            min(width, int(np.ceil(x2 + dx))), min(height, int(np.ceil(y2 + dy))))
