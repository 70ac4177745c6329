"""Make the calibration file shipped for the default backend, from LFW's impostor pairs.

    .venv/bin/python scripts/calibrate.py [--data PATH_TO_LFW] [--out FILE]

Method: embed every LFW image (primary face; centre crop where no face is found), then score
every cross-identity pair — about 87 million impostor comparisons, not only View-2's 3,000 —
with the audit's blockwise scorer into a histogram of cosine scores with bins 1e-4 wide. The
threshold for a target FMR is the lower edge of the first bin from which the upper tail holds at
most that share of impostors (see docs/calibration.md).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from faceaudit.audit.all_pairs import score_templates
from faceaudit.audit.run import calibration_section
from faceaudit.base.datasets import LFW_HELP, find_lfw
from faceaudit.engine.calibration import load_calibration, shipped_calibration_name
from faceaudit.engine.embed_files import embed_dataset, embeddings_matrix, table_metadata

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    """Embed LFW, score every impostor pair, write the calibration JSON."""
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
    names, identity = np.unique(np.asarray(table.column("identity").to_pylist()),
                                return_inverse=True)
    scores = score_templates(vectors, identity, np.zeros(len(vectors), np.intp), ["all"])
    section = calibration_section(
        scores,
        backend_id,
        source=f"LFW ({len(vectors)} images, {len(names)} identities), every cross-identity pair",
        method="impostor histogram, every cross-identity pair",
    )
    section.update(n_genuine=len(scores.genuine_scores), script="scripts/calibrate.py")
    out = args.out or REPO / "src" / "faceaudit" / "data" / shipped_calibration_name(backend_id)
    out.write_text(json.dumps(section, indent=1) + "\n")
    calibration = load_calibration(out, backend_id=backend_id)
    for fmr in (1e-2, 1e-3, 1e-4, 1e-5):
        print(f"FMR {fmr:g}: threshold {calibration.threshold_for(fmr):.4f}")
    print(f"wrote {out} ({calibration.n_impostor} impostor comparisons)")


if __name__ == "__main__":
    main()
