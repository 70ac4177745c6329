"""The review aid: a contact sheet (PNG) of the doubtful moments of a redaction.

Doubtful frames are those where a track begins or ends (a face may be visible just before or
after) and those whose weakest detection scored below ``low_score`` (the detector was unsure,
so something nearby may have been missed). The sheet shows the *redacted* output frames, with
each redaction outlined and the frame number and reason written under it: a reviewer checks the
moments most likely to leak without the sheet itself showing anyone's face.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from faceaudit.footage.tracking import FaceTracker

MAX_THUMBS = 48
THUMB_WIDTH = 240
COLUMNS = 6


def doubtful_frames(tracker: FaceTracker, low_score: float = 0.5) -> dict[int, str]:
    """Frame index -> reason ("track 3 begins", "low score 0.31", …), at most MAX_THUMBS."""
    reasons: dict[int, list[str]] = {}
    for track in tracker.tracks.values():
        reasons.setdefault(track.first, []).append(f"track {track.track_id} begins")
        reasons.setdefault(track.last, []).append(f"track {track.track_id} ends")
    for frame, score in tracker.scores.items():
        if score < low_score:
            reasons.setdefault(frame, []).append(f"low score {score:.2f}")
    frames = sorted(reasons)
    if len(frames) > MAX_THUMBS:
        picks = np.linspace(0, len(frames) - 1, MAX_THUMBS).round().astype(int)
        frames = [frames[i] for i in sorted(set(picks))]
    return {f: "; ".join(reasons[f]) for f in frames}


def thumbnail(rgb: np.ndarray, boxes, label: str) -> Image.Image:
    """A THUMB_WIDTH-wide copy of a redacted frame with its boxes outlined and a label below."""
    height, width = rgb.shape[:2]
    factor = THUMB_WIDTH / width
    thumb_h = max(1, round(height * factor))
    image = Image.fromarray(rgb).resize((THUMB_WIDTH, thumb_h), Image.Resampling.BILINEAR)
    canvas = Image.new("RGB", (THUMB_WIDTH, thumb_h + 16), "white")
    canvas.paste(image, (0, 0))
    draw = ImageDraw.Draw(canvas)
    for x1, y1, x2, y2 in boxes:
        draw.rectangle([x1 * factor, y1 * factor, x2 * factor, y2 * factor], outline="red")
    draw.text((2, thumb_h + 2), label[:40], fill="black")
    return canvas


def contact_sheet(thumbs: list[Image.Image], path: Path) -> Path | None:
    """Tile ``thumbs`` into one PNG at ``path``; None (and no file) when there are none."""
    if not thumbs:
        return None
    cell_w = THUMB_WIDTH
    cell_h = max(t.height for t in thumbs)
    rows = (len(thumbs) + COLUMNS - 1) // COLUMNS
    sheet = Image.new("RGB", (cell_w * min(COLUMNS, len(thumbs)), cell_h * rows), "white")
    for i, thumb in enumerate(thumbs):
        sheet.paste(thumb, ((i % COLUMNS) * cell_w, (i // COLUMNS) * cell_h))
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path, format="PNG")
    return path
