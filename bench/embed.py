"""Images per second of faceaudit's batch embedding against face_recognition, same images.

    .venv/bin/pip install --no-deps face_recognition   # the reference, beside dlib-bin
    .venv/bin/python bench/embed.py [--data PATH_TO_LFW] [--n 500]

Both sides get the same ``n`` LFW images (every ``k``-th file, sorted) and start cold: faceaudit
with its cache disabled, all cores, HOG detection (upsample 1) and the ONNX dlib ResNet;
face_recognition with ``face_locations`` + ``face_encodings`` in one process (what its docs
show). Prints both rates, the ratio, and faceaudit's per-stage split (CPU seconds summed over
workers).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

from faceaudit.batch import EmbedSettings, embed_paths, list_dataset

REPO = Path(__file__).resolve().parents[1]


def sample_images(lfw: Path, n: int) -> list[Path]:
    """``n`` images spread evenly over the sorted LFW file list."""
    paths, _ = list_dataset(lfw)
    step = max(1, len(paths) // n)
    return paths[::step][:n]


def run_faceaudit(paths: list[Path]) -> tuple[float, dict, int]:
    """Seconds for faceaudit on ``paths`` (no cache), stage split, faces embedded."""
    start = time.perf_counter()
    table, run = embed_paths(paths, None, EmbedSettings(primary_only=False), use_cache=False,
                             progress=False)
    return time.perf_counter() - start, run.stage_seconds, table.num_rows


def run_face_recognition(paths: list[Path]) -> tuple[float, int]:
    """Seconds for face_recognition's documented two calls on ``paths``, faces embedded."""
    import face_recognition

    start = time.perf_counter()
    faces = 0
    for path in paths:
        image = face_recognition.load_image_file(str(path))
        locations = face_recognition.face_locations(image)
        faces += len(face_recognition.face_encodings(image, locations))
    return time.perf_counter() - start, faces


def main() -> None:
    """Run both, print a JSON result and a markdown line for the README."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path,
                        default=Path(os.environ.get("FACEAUDIT_DATA",
                                                    REPO.parent / "shared" / "data" / "lfw")))
    parser.add_argument("--n", type=int, default=500)
    args = parser.parse_args()
    paths = sample_images(args.data, args.n)
    fa_seconds, stages, fa_faces = run_faceaudit(paths)
    try:
        fr_seconds, fr_faces = run_face_recognition(paths)
    except ImportError:
        raise SystemExit("install the reference first: .venv/bin/pip install --no-deps "
                         "face_recognition") from None
    result = {
        "images": len(paths),
        "cores": len(os.sched_getaffinity(0)),
        "cpu": platform.processor() or platform.machine(),
        "faceaudit_images_per_s": round(len(paths) / fa_seconds, 1),
        "face_recognition_images_per_s": round(len(paths) / fr_seconds, 1),
        "speedup": round(fr_seconds / fa_seconds, 2),
        "faces": {"faceaudit": fa_faces, "face_recognition": fr_faces},
        "faceaudit_stage_cpu_seconds": {k: round(v, 2) for k, v in stages.items()},
    }
    print(json.dumps(result, indent=2))
    print(f"| {result['images']} LFW images, {result['cores']} cores | "
          f"{result['faceaudit_images_per_s']} img/s | "
          f"{result['face_recognition_images_per_s']} img/s | {result['speedup']}× |")


if __name__ == "__main__":
    main()
