"""The redaction log (``OUTPUT.redaction.json``): what was redacted, where, with what.

It holds the input's and output's SHA-256, the detector and every setting, per track its frame
span and the box redacted in each frame (and why: detected, bridged, lead, lag), and per frame
the number of faces redacted. It holds no image crop and no face template: only numbers a
reviewer or a court can check against the two files.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from faceaudit.footage.tracking import FaceTracker, PlannedBox

SCHEMA = "faceaudit.redaction/1"


def sha256_file(path: Path) -> str:
    """SHA-256 of a file's bytes, hex."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def tracks_section(tracker: FaceTracker, plan: list[list[PlannedBox]],
                   kept: dict[int, str] | None = None) -> list[dict]:
    """Per track: id, whether the tracker linked it, its frame span, detections and boxes."""
    boxes: dict[int, list[dict]] = {}
    for frame, planned in enumerate(plan):
        for item in planned:
            left, top, right, bottom = (int(v) for v in item.box)
            boxes.setdefault(item.track_id, []).append(
                {"frame": frame, "left": left, "top": top, "right": right, "bottom": bottom,
                 "why": item.source})
    out = []
    for track in tracker.tracks.values():
        spanned = boxes.get(track.track_id, [])
        entry = {
            "id": track.track_id,
            "tracked": track.tracked,
            "first_detected": track.first,
            "last_detected": track.last,
            "frames": ([spanned[0]["frame"], spanned[-1]["frame"]] if spanned
                       else [track.first, track.last]),
            "detections": len(track.detections),
            "min_score": round(min(s for _, s in track.detections.values()), 4),
            "boxes": spanned,
        }
        if kept and track.track_id in kept:
            entry["kept_subject"] = kept[track.track_id]
        out.append(entry)
    return out


def temp_beside(path: Path) -> Path:
    """A new empty file beside ``path`` with the same suffix (so a muxer can tell the format),
    with the permissions an ordinary new file gets; rename it onto ``path`` when complete."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.partial-",
                               suffix=path.suffix)
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes it private
    return Path(tmp)


@contextmanager
def published(path: Path) -> Iterator[Path]:
    """Yield a temporary file beside ``path`` to write; it replaces ``path`` only when the
    block completes, and is removed when the block fails (no partial output, ever)."""
    tmp = temp_beside(path)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_log(log: dict, path: Path) -> None:
    """Write ``log`` as JSON to ``path`` atomically (temporary file, then rename)."""
    with published(path) as tmp, open(tmp, "w", encoding="utf-8") as handle:
        json.dump(log, handle, indent=1)
        handle.write("\n")


def log_path_for(output: Path) -> Path:
    """Where the log of ``output`` goes: ``OUTPUT.redaction.json`` beside it."""
    return output.with_name(output.name + ".redaction.json")
