"""dlib's face ResNet: onnxruntime (faceaudit's conversion) against dlib-bin itself.

Prints the conversion time, per-face milliseconds at batch 32 (onnxruntime with 2 intra-op
threads) and for dlib (one chip at a time, as its Python API runs), and the agreement of the two
outputs (max |diff| of the raw 128-D descriptors, min cosine).

    .venv/bin/python bench/onnx_vs_dlib.py [--data ../shared/data] [--faces 64]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import dlib
import numpy as np
import onnxruntime as ort
from PIL import Image

from faceaudit.engine.models.dlib_dat import read_network
from faceaudit.engine.models.dlib_onnx import build_model
from faceaudit.engine.models.dlib_onnx_cache import default_dat_path, dlib_resnet_onnx
from faceaudit.engine.models.files import SHAPE_5, dlib_model_path

BATCH = 32


def face_chips(data: Path, wanted: int) -> np.ndarray:
    """Chips of every face in faces-small, topped up from LFW (pairs.txt order) to ``wanted``."""
    detector = dlib.get_frontal_face_detector()
    predictor = dlib.shape_predictor(str(dlib_model_path(SHAPE_5)))
    paths = sorted(p for p in (data / "faces-small").rglob("*") if p.suffix in {".jpg", ".png"})
    for line in (data / "lfw-meta" / "pairs.txt").read_text().splitlines()[1:]:
        name, number = line.split("\t")[:2]
        paths.append(data / "lfw" / name / f"{name}_{int(number):04d}.jpg")
    chips: list[np.ndarray] = []
    for path in paths:
        image = np.asarray(Image.open(path).convert("RGB"))
        for box in detector(image, 1):
            chips.append(dlib.get_face_chip(image, predictor(image, box), size=150, padding=0.25))
        if len(chips) >= wanted:
            break
    return np.stack(chips[:wanted])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data", type=Path, default=Path(__file__).parents[1] / ".." / "shared" / "data"
    )
    parser.add_argument("--faces", type=int, default=64)
    args = parser.parse_args()

    start = time.perf_counter()
    build_model(read_network(default_dat_path()))
    print(f"conversion (parse + build + check): {time.perf_counter() - start:.2f} s")

    chips = face_chips(args.data, args.faces)
    print(f"{len(chips)} face chips")

    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    session = ort.InferenceSession(
        str(dlib_resnet_onnx()), sess_options=options, providers=["CPUExecutionProvider"]
    )
    batches = [chips[i : i + BATCH].astype(np.float32) for i in range(0, len(chips), BATCH)]
    session.run(None, {"chips": batches[0]})  # warm-up
    per_face = []
    for _ in range(5):
        start = time.perf_counter()
        ours = np.concatenate([session.run(None, {"chips": b})[0] for b in batches])
        per_face.append((time.perf_counter() - start) * 1000 / len(chips))

    net = dlib.face_recognition_model_v1(str(default_dat_path()))
    net.compute_face_descriptor(chips[0])  # warm-up
    start = time.perf_counter()
    theirs = np.array([net.compute_face_descriptor(c) for c in chips], dtype=np.float32)
    dlib_ms = (time.perf_counter() - start) * 1000 / len(chips)

    cosine = (ours * theirs).sum(1) / np.linalg.norm(ours, axis=1) / np.linalg.norm(theirs, axis=1)
    print(f"onnxruntime, batch {BATCH}, 2 threads: {statistics.median(per_face):.2f} ms/face")
    print(f"dlib-bin compute_face_descriptor:      {dlib_ms:.2f} ms/face")
    print(f"max |diff| {np.abs(ours - theirs).max():.2e}   min cosine {cosine.min():.7f}")


if __name__ == "__main__":
    main()
