"""Images per second of faceaudit's embedding against face_recognition, same images, two ways.

    .venv/bin/pip install --no-deps face_recognition   # the reference, beside dlib-bin
    .venv/bin/python bench/embed.py [--data PATH_TO_LFW] [--n 500] [--cold 200,500]

Both tools get the same LFW images (``n`` spread evenly over the sorted file list) and keep every
face they find. Two scenarios:

* **in-process** (``--n``): faceaudit's batch module (cache disabled, every core, default
  detection, the ONNX dlib ResNet) against face_recognition's two documented calls
  (``face_locations`` + ``face_encodings``) in one process, both with their models already
  loaded; also faceaudit with ``upsample=1`` on every image (face_recognition's own detection
  setting), so the gain from doing only the detection work needed is visible on its own.
* **cold CLI** (``--cold``): what a user pays from the shell: a fresh ``faceaudit embed FILES -o
  out.parquet`` process (empty embedding cache; the ONNX conversion cached, as after the first
  run ever) against a fresh ``python`` process that imports face_recognition and runs the same
  two calls, wall time from start to exit.

Prints one JSON object with both ratios, faces found by each tool, faceaudit's per-stage CPU
split, and markdown rows for the README's evidence table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from faceaudit.engine.embed_files import EmbedSettings, embed_paths, list_dataset

REPO = Path(__file__).resolve().parents[1]

_FACE_RECOGNITION = """
import sys
import face_recognition
faces = 0
for path in sys.argv[1:]:
    image = face_recognition.load_image_file(path)
    faces += len(face_recognition.face_encodings(image, face_recognition.face_locations(image)))
print(faces)
"""


def sample_images(lfw: Path, n: int) -> list[Path]:
    """``n`` images spread evenly over the sorted LFW file list."""
    paths, _ = list_dataset(lfw)
    step = max(1, len(paths) // n)
    return paths[::step][:n]


def run_faceaudit(paths: list[Path], upsample: int | None = None) -> tuple[float, dict, int]:
    """Seconds for faceaudit on ``paths`` in this process (no cache), stage split, faces."""
    settings = EmbedSettings(primary_only=False, upsample=upsample)
    embed_paths(paths[:2], None, settings, use_cache=False, progress=False, workers=1)  # warm
    start = time.perf_counter()
    table, run = embed_paths(paths, None, settings, use_cache=False, progress=False)
    return time.perf_counter() - start, run.stage_seconds, table.num_rows


def run_face_recognition(paths: list[Path]) -> tuple[float, int]:
    """Seconds for face_recognition's documented two calls on ``paths`` (models loaded), faces."""
    import face_recognition

    start = time.perf_counter()
    faces = 0
    for path in paths:
        image = face_recognition.load_image_file(str(path))
        locations = face_recognition.face_locations(image)
        faces += len(face_recognition.face_encodings(image, locations))
    return time.perf_counter() - start, faces


def _timed(argv: list[str], env: dict[str, str]) -> tuple[float, str]:
    """Wall seconds of one fresh process that must exit 0, and its stdout."""
    start = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv[:4])} … exited {done.returncode}: {done.stderr[-2000:]}")
    return seconds, done.stdout


def cold_cli(paths: list[Path], work: Path) -> dict:
    """A fresh ``faceaudit embed`` process against a fresh face_recognition process."""
    env = {**os.environ, "FACEAUDIT_CACHE": str(work / "cache"),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO / "src"),
                                                      os.environ.get("PYTHONPATH")]))}
    out = work / "cold.parquet"
    embed = [sys.executable, "-m", "faceaudit.cli", "embed", *map(str, paths), "--out", str(out),
             "--json"]
    _timed(embed[:5] + ["--out", str(out)], env)  # untimed: converts the model into the cache
    (work / "cache" / "embeddings.sqlite").unlink(missing_ok=True)
    fa_seconds, stdout = _timed(embed, env)
    fa_faces = json.loads(stdout)["faces"]
    fr_seconds, stdout = _timed([sys.executable, "-c", _FACE_RECOGNITION, *map(str, paths)], env)
    return {
        "images": len(paths),
        "faceaudit_s": round(fa_seconds, 2),
        "face_recognition_s": round(fr_seconds, 2),
        "speedup": round(fr_seconds / fa_seconds, 2),
        "faces": {"faceaudit": fa_faces, "face_recognition": int(stdout.strip())},
    }


def main() -> None:
    """Run both scenarios, print a JSON result and markdown rows for the README."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path,
                        default=Path(os.environ.get("FACEAUDIT_DATA",
                                                    REPO.parent / "shared" / "data" / "lfw")))
    parser.add_argument("--n", type=int, default=500, help="images in-process (0: skip)")
    parser.add_argument("--cold", default="200,500",
                        help="comma-separated image counts for fresh CLI processes ('': skip)")
    args = parser.parse_args()
    try:
        import face_recognition  # noqa: F401
    except ImportError:
        raise SystemExit("install the reference first: .venv/bin/pip install --no-deps "
                         "face_recognition") from None
    result: dict = {
        "cores": len(os.sched_getaffinity(0)),
        "cpu": platform.processor() or platform.machine(),
        "load_average_before": [round(x, 2) for x in os.getloadavg()],
    }
    rows = []
    if args.n:
        paths = sample_images(args.data, args.n)
        fa_seconds, stages, fa_faces = run_faceaudit(paths)
        up1_seconds, _, up1_faces = run_faceaudit(paths, upsample=1)
        fr_seconds, fr_faces = run_face_recognition(paths)
        total = sum(stages.values()) or 1.0
        result["in_process"] = {
            "images": len(paths),
            "faceaudit_images_per_s": round(len(paths) / fa_seconds, 1),
            "faceaudit_upsample1_images_per_s": round(len(paths) / up1_seconds, 1),
            "face_recognition_images_per_s": round(len(paths) / fr_seconds, 1),
            "speedup": round(fr_seconds / fa_seconds, 2),
            "speedup_upsample1": round(fr_seconds / up1_seconds, 2),
            "faces": {"faceaudit": fa_faces, "faceaudit_upsample1": up1_faces,
                      "face_recognition": fr_faces},
            "faceaudit_stage_cpu_share": {k: round(v / total, 3) for k, v in stages.items()},
        }
        r = result["in_process"]
        rows.append(f"| in-process, {len(paths)} LFW images | {r['faceaudit_images_per_s']} img/s"
                    f" ({r['faceaudit_upsample1_images_per_s']} at upsample 1) | "
                    f"{r['face_recognition_images_per_s']} img/s | **{r['speedup']}×** "
                    f"({r['speedup_upsample1']}×) |")
    cold_counts = [int(v) for v in args.cold.split(",") if v.strip()]
    if cold_counts:
        work = Path(tempfile.mkdtemp(prefix="faceaudit-bench-embed-"))
        try:
            result["cold_cli"] = [cold_cli(sample_images(args.data, n), work)
                                  for n in cold_counts]
        finally:
            shutil.rmtree(work, ignore_errors=True)
        for r in result["cold_cli"]:
            rows.append(f"| cold CLI, {r['images']} LFW images | {r['faceaudit_s']} s | "
                        f"{r['face_recognition_s']} s | **{r['speedup']}×** |")
    result["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(result, indent=2))
    print("\n".join(rows))


if __name__ == "__main__":
    main()
