"""Make the calibration file shipped for the default backend, from LFW's impostor pairs.

    .venv/bin/python scripts/calibrate.py [--data PATH_TO_LFW] [--out FILE]

Method: embed every LFW image (primary face; centre crop where no face is found), then score
every cross-identity pair — about 87 million impostor comparisons, not only View-2's 3,000 —
into a histogram of cosine scores with bins 1e-4 wide. The threshold for a target FMR is the
lower edge of the first bin from which the upper tail holds at most that share of impostors
(see docs/calibration.md). Genuine-pair counts are recorded for information.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from rich.progress import track

from faceaudit.batch import embed_dataset, embeddings_matrix, table_metadata
from faceaudit.calibration import from_impostor_histogram, shipped_calibration_name
from faceaudit.datasets import LFW_HELP, find_lfw

REPO = Path(__file__).resolve().parents[1]
BIN_WIDTH = 1e-4
EDGES = np.linspace(-1.0, 1.0, int(round(2 / BIN_WIDTH)) + 1)


def impostor_histogram(vectors: np.ndarray, identities: np.ndarray, block: int = 2048):
    """Histogram of every cross-identity score (upper triangle), and the genuine-pair count."""
    counts = np.zeros(len(EDGES) - 1, dtype=np.int64)
    n_genuine = 0
    _, labels = np.unique(identities, return_inverse=True)
    n = len(vectors)
    for start in track(range(0, n, block), description="scoring impostor pairs"):
        rows = vectors[start : start + block]
        scores = rows @ vectors[start:].T
        same = labels[start : start + block, None] == labels[None, start:]
        upper = np.triu(np.ones(scores.shape, dtype=bool), k=1)
        n_genuine += int((same & upper).sum())
        impostor = scores[upper & ~same]
        idx = np.clip(((impostor + 1.0) / BIN_WIDTH).astype(np.int64), 0, len(counts) - 1)
        counts += np.bincount(idx, minlength=len(counts))
    return counts, n_genuine


def main() -> None:
    """Embed LFW, histogram its impostor scores, write the calibration JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--backend", default="dlib-resnet")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    lfw = args.data or find_lfw()
    if lfw is None:
        raise SystemExit(LFW_HELP)
    table = embed_dataset(lfw, backend=args.backend, no_face="centre")
    backend_id = table_metadata(table)["backend_id"]
    vectors = embeddings_matrix(table)
    identities = np.asarray(table.column("identity").to_pylist())
    counts, n_genuine = impostor_histogram(vectors, identities)
    calibration = from_impostor_histogram(
        counts,
        EDGES,
        backend_id=backend_id,
        source=f"LFW ({len(vectors)} images, {len(np.unique(identities))} identities), "
        "every cross-identity pair",
        extra={"bin_width": BIN_WIDTH, "n_genuine": n_genuine, "script": "scripts/calibrate.py"},
    )
    out = args.out or REPO / "src" / "faceaudit" / "data" / shipped_calibration_name(backend_id)
    calibration.save(out)
    for fmr in (1e-2, 1e-3, 1e-4, 1e-5):
        print(f"FMR {fmr:g}: threshold {calibration.threshold_for(fmr):.4f}")
    print(f"wrote {out} ({calibration.n_impostor} impostor comparisons)")


if __name__ == "__main__":
    main()
