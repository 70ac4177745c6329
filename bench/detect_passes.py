"""The default two-pass detection against one exhaustive scan at upsample 1, on photos.

    .venv/bin/python bench/detect_passes.py [PHOTO_OR_FOLDER ...]

For every photo (default: ``../shared/data/faces-small``, the repository's test photos), after the
same guarded decoding the engine does: faces found and milliseconds (best of 3) with
``upsample=1`` on the whole image (the default before issue 15), and with the default detection
(no upsampling on a copy at most 1280 px, then upsample 1 only where nothing is found), which
pass produced the faces and the smallest face that pass could find. Prints JSON lines and a
summary.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from faceaudit.engine.faces.detect import find_faces
from faceaudit.engine.faces.image import MAX_IMAGE_SIDE, decode_image

REPO = Path(__file__).resolve().parents[1]
PHOTOS = (".jpg", ".jpeg", ".png")


def best_ms(run, repeats: int = 3) -> tuple[float, object]:
    """Best wall time of ``run()`` in ms over ``repeats`` calls, and its last result."""
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = run()
        best = min(best, (time.perf_counter() - start) * 1000)
    return best, result


def main() -> None:
    """Time both detections on every photo given (or the shared test photos)."""
    roots = [Path(a) for a in sys.argv[1:]] or [REPO.parent / "shared" / "data" / "faces-small"]
    photos = sorted(p for root in roots
                    for p in ([root] if root.is_file() else root.rglob("*"))
                    if p.suffix.lower() in PHOTOS)
    find_faces(decode_image(photos[0], max_side=MAX_IMAGE_SIDE).pixels)  # load the models
    total = {"exhaustive_ms": 0.0, "default_ms": 0.0, "exhaustive_faces": 0, "default_faces": 0}
    for path in photos:
        pixels = decode_image(path, max_side=MAX_IMAGE_SIDE).pixels
        up1_ms, (up1_faces, _) = best_ms(lambda p=pixels: find_faces(p, upsample=1))
        auto_ms, (faces, limits) = best_ms(lambda p=pixels: find_faces(p))
        row = {"photo": str(path.relative_to(path.parents[1])), "size": list(pixels.shape[1::-1]),
               "upsample1": {"faces": len(up1_faces), "ms": round(up1_ms, 1)},
               "default": {"faces": len(faces), "ms": round(auto_ms, 1),
                           "pass_upsample": limits.upsample, "min_face_px": limits.min_face_px}}
        print(json.dumps(row))
        total["exhaustive_ms"] += up1_ms
        total["default_ms"] += auto_ms
        total["exhaustive_faces"] += len(up1_faces)
        total["default_faces"] += len(faces)
    total["photos"] = len(photos)
    total["speedup"] = round(total["exhaustive_ms"] / total["default_ms"], 2)
    print(json.dumps({k: round(v, 1) if isinstance(v, float) else v for k, v in total.items()}))


if __name__ == "__main__":
    main()
