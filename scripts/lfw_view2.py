"""LFW View-2 10-fold verification accuracy of a faceaudit backend.

    .venv/bin/python scripts/lfw_view2.py [--data PATH_TO_LFW] [--backend dlib-resnet]

The standard unrestricted protocol: for each of the 10 folds of ``pairs.txt`` (300 matched +
300 mismatched pairs each), the cosine threshold that maximises accuracy on the other nine folds
is applied to the held-out fold. Images where the detector finds no face are embedded from a
centre crop, as LFW benchmarks do. Embeddings are cached, so a rerun takes seconds.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from faceaudit.audit.inputs import lfw_image_path, read_pairs_txt
from faceaudit.base.datasets import LFW_HELP, find_lfw
from faceaudit.engine.embed_files import EmbedSettings, embed_paths, embeddings_matrix


def read_view2(pairs_file: Path) -> tuple[list[tuple[str, str]], np.ndarray, np.ndarray]:
    """View-2 pairs as relative image paths, genuine flags, and fold numbers."""
    n_folds, per_fold = (int(v) for v in pairs_file.read_text().split("\n", 1)[0].split())
    pairs = [(lfw_image_path(a, i), lfw_image_path(b, j))
             for a, i, b, j in read_pairs_txt(pairs_file)]
    genuine = np.array([a.split("/")[0] == b.split("/")[0] for a, b in pairs])
    folds = np.arange(len(pairs)) // (2 * per_fold)
    assert folds.max() == n_folds - 1
    return pairs, genuine, folds


def best_threshold(scores: np.ndarray, genuine: np.ndarray) -> float:
    """Threshold (midpoint between sorted scores) with the highest accuracy."""
    order = np.sort(scores)
    candidates = np.concatenate([[order[0] - 1e-6], (order[1:] + order[:-1]) / 2])
    accuracy = [((scores >= t) == genuine).mean() for t in candidates]
    return float(candidates[int(np.argmax(accuracy))])


def main() -> None:
    """Embed the pair images, run the 10 folds, print accuracy mean ± std as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=None, help="LFW folder (one per person)")
    parser.add_argument("--pairs", type=Path, default=None, help="pairs.txt (default: beside)")
    parser.add_argument("--backend", default="dlib-resnet")
    parser.add_argument("--model", default=None, help="ONNX file for the onnx backend")
    parser.add_argument("--detector", default="hog", help="hog (default), cnn or centerface")
    args = parser.parse_args()
    lfw = args.data or find_lfw()
    if lfw is None:
        raise SystemExit(LFW_HELP)
    pairs_file = args.pairs or lfw.parent / "lfw-meta" / "pairs.txt"
    pairs, genuine, folds = read_view2(pairs_file)
    images = sorted({p for pair in pairs for p in pair})
    settings = EmbedSettings(args.backend, args.model, detector=args.detector, no_face="centre",
                             primary_only=True)
    table, run = embed_paths([lfw / p for p in images], None, settings, root=lfw)
    index = {path: i for i, path in enumerate(table.column("path").to_pylist())}
    vectors = embeddings_matrix(table)
    a = vectors[[index[p] for p, _ in pairs]]
    b = vectors[[index[q] for _, q in pairs]]
    scores = (a * b).sum(axis=1)
    accuracies = []
    for fold in range(folds.max() + 1):
        test = folds == fold
        threshold = best_threshold(scores[~test], genuine[~test])
        accuracies.append(float(((scores[test] >= threshold) == genuine[test]).mean()))
    result = {
        "backend": args.backend,
        "detector": args.detector,
        "pairs": len(pairs),
        "images": len(images),
        "centre_crops": int((table.column("face_index").to_numpy() == -1).sum()),
        "accuracy_mean": round(float(np.mean(accuracies)), 4),
        "accuracy_std": round(float(np.std(accuracies)), 4),
        "folds": [round(x, 4) for x in accuracies],
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
