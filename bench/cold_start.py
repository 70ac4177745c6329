"""Cold-start wall time of the ``faceaudit`` CLI: ``--help`` and a fresh one-image ``embed``.

    .venv/bin/python bench/cold_start.py [--runs 7] [--image PATH] [--src OTHER_CHECKOUT/src]

Every run is a new interpreter (``python -m faceaudit.cli``), so imports, model loading and
worker start-up are all paid, as a user pays them. ``embed`` runs on one image with an empty
embedding cache each time (no result can be reused) but with the ONNX conversion of dlib's
ResNet already in the cache (made by one untimed warm-up run), so its wall time is the time to
the first embedding of a cold process, plus writing a one-row Parquet file. Prints best, median
and worst of ``--runs`` as JSON; on a shared machine the best is the figure to quote.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_IMAGE = REPO / "demo/photos/face_recognition-mit/obama.jpg"


def wall_seconds(argv: list[str], env: dict[str, str]) -> float:
    """Wall time of one fresh ``python -m faceaudit.cli ARGV`` that must exit 0."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "faceaudit.cli", *argv], env=env,
                          capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"faceaudit {' '.join(argv)} exited {done.returncode}: {done.stderr}")
    return elapsed


def summary(times: list[float]) -> dict[str, float]:
    """Best, median and worst of a list of wall times, in seconds."""
    return {"best_s": round(min(times), 3), "median_s": round(statistics.median(times), 3),
            "worst_s": round(max(times), 3)}


def main() -> None:
    """Measure and print the cold-start figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--image", type=Path, default=DEFAULT_IMAGE)
    parser.add_argument("--src", type=Path, default=REPO / "src",
                        help="faceaudit sources to time (an older checkout: before/after)")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="faceaudit-cold-"))
    try:
        env = {**os.environ, "FACEAUDIT_CACHE": str(work / "cache"),
               "PYTHONPATH": os.pathsep.join(filter(None, [str(args.src),
                                                          os.environ.get("PYTHONPATH")]))}
        out = work / "one.parquet"
        embed = ["embed", str(args.image), "--out", str(out), "--workers", "1"]
        first_ever = wall_seconds(embed, env)  # converts the .dat to ONNX into the cache
        help_times, embed_times = [], []
        for _ in range(args.runs):
            help_times.append(wall_seconds(["--help"], env))
            (work / "cache" / "embeddings.sqlite").unlink(missing_ok=True)
            embed_times.append(wall_seconds(embed, env))
        print(json.dumps({
            "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
            "src": str(args.src),
            "runs": args.runs,
            "help": summary(help_times),
            "embed_one_image_cold": summary(embed_times),
            "embed_first_ever_with_conversion_s": round(first_ever, 3),
            "load_average": [round(x, 2) for x in os.getloadavg()],
        }, indent=2))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
