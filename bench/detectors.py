"""Detectors side by side on LFW: failure to find a face per sex group, and ms per image.

A sample of LFW photos (the first photo of ``--per-group`` people of each sex, by LFW's name
lists) goes through ``faceaudit``'s detectors — HOG, CenterFace and (with ``--cnn``) dlib's
CNN-mmod — each as redaction runs it (upsample 1 for dlib, none for CenterFace). A photo
"fails" when no face is found whose box contains the image centre (LFW faces are centred).
Prints the failure rate per group with a 95 % Wilson interval and the median ms per image.

``--lfw-wide`` instead runs the engine itself over every LFW image (``embed_paths``) and
prints, per sex group, the failure-to-template rate: the share of images where the detector
found no face, so no template of a detected face could be made. ``--no-face`` only picks which
embedding-cache entries are reused — ``centre`` (the View-2 protocol of
``scripts/lfw_view2.py``) or ``skip`` (``faceaudit audit --lfw``'s) — the count is the same.

    python bench/detectors.py --per-group 150
    python bench/detectors.py --lfw-wide --detectors centerface --no-face centre
    python bench/detectors.py --lfw-wide --detectors hog --no-face skip
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import numpy as np

from faceaudit import api
from faceaudit.audit.inputs import read_lfw_attributes
from faceaudit.engine.embed_files import EmbedSettings, embed_paths

REPO = Path(__file__).resolve().parents[1]


def sample(lfw: Path, meta: Path, per_group: int, seed: int) -> dict[str, list[Path]]:
    """``per_group`` first photos of distinct people per sex."""
    rng = np.random.default_rng(seed)
    out: dict[str, list[Path]] = {}
    for sex in ("female", "male"):
        people = sorted({n.rsplit("_", 1)[0]
                         for n in (meta / f"{sex}_names.txt").read_text().split()})
        photos = [lfw / p / f"{p}_0001.jpg" for p in rng.permutation(people)]
        out[sex] = [p for p in photos if p.is_file()][:per_group]
    return out


def wilson(failures: int, n: int) -> tuple[float, float]:
    """95 % Wilson interval of a proportion."""
    if n == 0:
        return (math.nan, math.nan)
    z, p = 1.96, failures / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def run(detector: str, photos: dict[str, list[Path]]) -> dict:
    """Failure rate per group and median ms/image for one detector."""
    results, times = {}, []
    for group, paths in photos.items():
        failures = 0
        for path in paths:
            image = api.load_image(path)
            started = time.perf_counter()
            faces = api.detect_faces(image, detector=detector, upsample=1)  # as redaction does
            times.append((time.perf_counter() - started) * 1000)
            cy, cx = image.shape[0] / 2, image.shape[1] / 2
            if not any(f.box[0] <= cx <= f.box[2] and f.box[1] <= cy <= f.box[3]
                       for f in faces):
                failures += 1
        results[group] = (failures, len(paths))
    return {"groups": results, "ms": float(np.median(times))}


def lfw_wide(lfw: Path, detector: str, no_face: str) -> dict[str, tuple[int, int]]:
    """Per sex group: (images with no face found, images) over every LFW image."""
    sex = {path: labels["sex"] for path, labels in read_lfw_attributes(lfw).labels.items()}
    paths = sorted(sex)
    settings = EmbedSettings(detector=detector, no_face=no_face, primary_only=True)
    table, run = embed_paths([lfw / p for p in paths], None, settings, root=lfw)
    if run.errors:
        raise SystemExit(f"{len(run.errors)} LFW images could not be read")
    found = {path for path, index in zip(table.column("path").to_pylist(),
                                         table.column("face_index").to_pylist(), strict=True)
             if index >= 0}  # no_face=centre: -1 is a centre crop; skip: no row at all
    failed = set(paths) - found
    out: dict[str, tuple[int, int]] = {}
    for group in ("female", "male", None):
        members = [p for p in paths if sex[p] == group]
        out[group or "unlabelled"] = (sum(p in failed for p in members), len(members))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lfw", type=Path, default=REPO.parent / "shared" / "data" / "lfw")
    parser.add_argument("--meta", type=Path,
                        default=REPO.parent / "shared" / "data" / "lfw-meta")
    parser.add_argument("--per-group", type=int, default=150)
    parser.add_argument("--cnn", action="store_true", help="also dlib's CNN (slow on CPU)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--lfw-wide", action="store_true",
                        help="failure to template per group over every LFW image (engine path)")
    parser.add_argument("--detectors", default="hog,centerface",
                        help="comma-separated: hog, centerface, cnn (--lfw-wide)")
    parser.add_argument("--no-face", default="centre", choices=("centre", "skip"),
                        help="which cached embeddings to reuse (--lfw-wide; same counts)")
    args = parser.parse_args()
    if args.lfw_wide:
        print(f"{'detector':11} failure to template over all LFW images per group [95% Wilson CI]")
        for detector in args.detectors.split(","):
            cells = []
            for group, (failures, n) in lfw_wide(args.lfw, detector.strip(),
                                                      args.no_face).items():
                low, high = wilson(failures, n)
                cells.append(f"{group} {failures}/{n} = {failures / max(n, 1):.4f} "
                             f"[{low:.4f}, {high:.4f}]")
            print(f"{detector:11} {'  '.join(cells)}")
        return
    photos = sample(args.lfw, args.meta, args.per_group, args.seed)
    detectors = ["hog", "centerface"] + (["cnn"] if args.cnn else [])
    print(f"LFW sample: {', '.join(f'{g} {len(p)}' for g, p in photos.items())} photos")
    print(f"{'detector':11} {'ms/image':>9}  failure to detect per group [95% Wilson CI]")
    for detector in detectors:
        api.detect_faces(api.load_image(photos["female"][0]), detector=detector)  # warm up
        result = run(detector, photos)
        cells = []
        for group, (failures, n) in result["groups"].items():
            low, high = wilson(failures, n)
            cells.append(f"{group} {failures}/{n} = {failures / n:.3f} [{low:.3f}, {high:.3f}]")
        print(f"{detector:11} {result['ms']:9.1f}  {'  '.join(cells)}")


if __name__ == "__main__":
    main()
