"""Cost of hostile files: wall time and peak memory of ``faceaudit detect`` on each one.

The set: pixel bombs just under the 40 Mpx limit in every supported format (zeros compress to
a few kB), a 40 Mpx photo-like JPEG (decoded at reduced size through ``draft``), one over the
limit, special files (FIFO, directory, link loop, device) and the first cases of the fuzz
corpus of ``tests/hostile_images.py``. Each file is run through the real CLI in a fresh process
(``detect``, default HOG detection: without upsampling, then at 1 where none is found); it
reports the whole run, the time after the imports (reading, decoding, model loading, detection,
output), the process's CPU time (user + system, imports included: the pixel budget is at most
2 s of CPU per command for the 6300 × 6300 PNG) and its peak RSS (VmHWM, imports included).
The 6300 × 6300 PNGs are also run through ``faceaudit verify FACE BOMB``. Usage::

    .venv/bin/python bench/hostile.py [--fuzz 20]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from hostile_images import base_picture, hostile_cases  # noqa: E402

SIDE = 6300  # 6300 × 6300 = 39.69 Mpx, just under the 40 Mpx limit
CPU_BUDGET_S = 2.0  # per command, for the 6300 × 6300 PNG (issue 21)
FACE = REPO / ".." / "shared" / "data" / "faces-small" / "face_recognition-mit" / "obama.jpg"


def bombs(folder: Path) -> list[Path]:
    """Zeros just under the pixel limit in each supported format, and one over it."""
    made = []
    for fmt, suffix, mode in [("PNG", "png", "L"), ("PNG", "png", "RGB"), ("GIF", "gif", "L"),
                              ("BMP", "bmp", "L"), ("TIFF", "tif", "L"), ("WEBP", "webp", "RGB"),
                              ("PPM", "ppm", "L"), ("JPEG", "jpg", "RGB")]:
        path = folder / f"zeros-{SIDE}-{mode}.{suffix}"
        options = {"compression": "tiff_deflate"} if fmt == "TIFF" else {}
        Image.new(mode, (SIDE, SIDE)).save(path, fmt, **options)
        made.append(path)
    webp = folder / "zeros-4000-RGB.webp"  # just under WebP's own 16 Mpx limit
    Image.new("RGB", (4000, 4000)).save(webp, "WEBP")
    made.append(webp)
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 255, (SIDE // 8, SIDE // 8, 3), dtype=np.uint8)
    photo = Image.fromarray(noise).resize((SIDE, SIDE), Image.Resampling.BILINEAR)
    path = folder / f"photo-like-{SIDE}.jpg"
    photo.save(path, "JPEG", quality=90)
    made.append(path)
    over = folder / "zeros-7000x7000.png"
    Image.new("L", (7000, 7000)).save(over)
    made.append(over)
    return made


def special(folder: Path) -> list[Path]:
    """A FIFO, a directory, a symbolic-link loop and a device, all named like images."""
    fifo = folder / "fifo.jpg"
    os.mkfifo(fifo)
    directory = folder / "folder.jpg"
    directory.mkdir()
    loop = folder / "loop.jpg"
    loop.symlink_to(folder / "loop2.jpg")
    (folder / "loop2.jpg").symlink_to(loop)
    device = folder / "zero.jpg"
    device.symlink_to("/dev/zero")
    return [fifo, directory, loop, device]


def fuzzed(folder: Path, count: int) -> list[Path]:
    """The first ``count`` cases of the fuzz corpus, as files."""
    made = []
    for i, case in enumerate(hostile_cases(base_picture(None))):
        if i >= count:
            break
        path = folder / f"fuzz-{i:03d}-{case.name.replace('/', '-')}"
        path.write_bytes(case.data)
        made.append(path)
    return made


_CHILD = """
import sys, time
import faceaudit.cli
sys.argv = ["faceaudit", *sys.argv[1:]]
started = time.perf_counter()
try:
    faceaudit.cli.main()
finally:
    status = open("/proc/self/status").read().split("VmHWM:")[1].split()[0]
    print(f"COST {time.perf_counter() - started:.3f} {int(status) / 1024:.0f}", file=sys.stderr)
"""


def measure(command: list[str]) -> tuple[float, float, float, float, int, str]:
    """Whole-run and after-import seconds, CPU seconds, peak RSS (MB), exit code and message of
    one ``faceaudit`` command (``["detect", FILE]``) in a fresh process.

    The peak is the process's VmHWM (reset at exec, so the parent's memory does not count).
    """
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", _CHILD, *command], capture_output=True,
                          text=True, timeout=600)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    cost = [line.split() for line in done.stderr.splitlines() if line.startswith("COST ")]
    seconds, rss_mb = (float(cost[-1][1]), float(cost[-1][2])) if cost else (float("nan"),) * 2
    message = next((line for line in done.stderr.splitlines() if line.startswith("faceaudit:")),
                   "")
    return wall, seconds, cpu, rss_mb, done.returncode, message


def main() -> None:
    """Build the hostile set in a temporary folder and print one row per file."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fuzz", type=int, default=20, help="fuzz corpus cases to include")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="faceaudit-hostile-") as tmp:
        folder = Path(tmp)
        files = bombs(folder) + special(folder) + fuzzed(folder, args.fuzz)
        commands = [(f"detect {path.name}", path, ["detect", str(path)]) for path in files]
        commands += [(f"verify face {path.name}", path, ["verify", str(FACE), str(path)])
                     for path in files if path.name.startswith(f"zeros-{SIDE}-") and
                     path.suffix == ".png" and FACE.is_file()]
        rows = []
        for label, path, command in commands:
            size = path.stat().st_size if path.is_file() else 0
            rows.append((label, size, *measure(command)))
    cpu = next((line.split(":", 1)[1].strip() for line in
                Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), "unknown CPU")
    print(f"Machine: {cpu}, {os.cpu_count()} cores; `faceaudit detect FILE` in a fresh process "
          f"per file; load average {os.getloadavg()[0]:.1f} at the end.\n")
    print("| command | bytes | exit | whole run (s) | after imports (s) | CPU (s) | peak RSS (MB)"
          " | refusal |")
    print("|---|---:|---:|---:|---:|---:|---:|---|")
    for name, size, wall, seconds, cpu_s, rss, code, message in rows:
        reason = message.split(": ", 3)[-1] if message else ""
        short = (reason[:60] + "…") if len(reason) > 60 else reason
        print(f"| {name} | {size:,} | {code} | {wall:.2f} | {seconds:.2f} | {cpu_s:.2f} |"
              f" {rss:.0f} | {short} |")
    print(f"\nworst after imports: {max(r[3] for r in rows):.2f} s; worst peak RSS: "
          f"{max(r[5] for r in rows):.0f} MB; exit codes: {sorted({r[6] for r in rows})}")
    png = [r for r in rows if f"zeros-{SIDE}-" in r[0] and r[0].endswith(".png")]
    if png:
        worst = max(r[4] for r in png)
        print(f"the {SIDE} × {SIDE} PNG: worst {worst:.2f} s of CPU per command (budget"
              f" {CPU_BUDGET_S:g} s: {'within' if worst <= CPU_BUDGET_S else 'OVER'})")


if __name__ == "__main__":
    main()
