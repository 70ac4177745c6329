"""A seeded synthetic PAD score table with known per-group, per-species error rates (a demo
input for ``faceaudit audit --pad-scores``).

Nothing here is real: two made-up groups ("A" and "B") of made-up subjects presenting bona fide
and three attack instrument species (``print``, ``replay``, ``mask``) to a PAD whose liveness
score lies in 0–1 with three decimals — **lower means attack** (the audit's default reading,
``--lower-is-attack``). Each score is ``sigmoid(z)`` rounded, ``z`` normal with a mean set by
the group and the presentation; group B's bona fide presentations score lower (the PAD rejects
them more often: a BPCER differential). Attack rows carry a ``comparison_score`` (0–1, a match
at 0.5 or above about half the time) for IAPMR. :func:`true_rates` gives the generator's own
APCER and BPCER at any threshold in closed form.

    python scripts/synthetic_pad.py pad.csv [--seed 0]
    faceaudit audit --pad-scores pad.csv --comparison-threshold 0.5 --fail-if 'bpcer_ratio>2'
"""

from __future__ import annotations

import argparse
import csv
import math
from pathlib import Path

import numpy as np

#: latent (logit) mean of each group's presentations, by presentation
MEANS: dict[str, dict[str, float]] = {
    "A": {"bona_fide": 3.0, "print": -3.0, "replay": -2.2, "mask": -4.0},
    "B": {"bona_fide": 1.6, "print": -3.0, "replay": -2.2, "mask": -4.0},
}
SPREAD = 1.0
SUBJECTS_PER_GROUP = 150
BONA_FIDE_PER_SUBJECT = 6
ATTACKS_PER_SUBJECT = 4  # per species


def _score(z: np.ndarray) -> np.ndarray:
    """The PAD's scale: 0–1, three decimals (ties on the grid, as real exports have)."""
    return np.round(1.0 / (1.0 + np.exp(-z)), 3)


def generate(path: Path, *, seed: int = 0) -> dict[str, int]:
    """Write the table to ``path`` (CSV); return the row counts by presentation."""
    rng = np.random.default_rng(seed)
    counts: dict[str, int] = {}
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["score", "presentation", "group", "subject", "comparison_score"])
        for group, means in MEANS.items():
            for i in range(SUBJECTS_PER_GROUP):
                subject = f"{group}{i:03d}"
                for presentation, mean in means.items():
                    n = BONA_FIDE_PER_SUBJECT if presentation == "bona_fide" \
                        else ATTACKS_PER_SUBJECT
                    for score in _score(rng.normal(mean, SPREAD, n)):
                        comparison = "" if presentation == "bona_fide" else \
                            f"{rng.uniform():.3f}"
                        writer.writerow([f"{score:.3f}", presentation, group, subject,
                                         comparison])
                    counts[presentation] = counts.get(presentation, 0) + n
    return counts


def _upper_tail(z: float, mean: float) -> float:
    """P(N(mean, SPREAD) >= z)."""
    return 0.5 * math.erfc((z - mean) / (SPREAD * math.sqrt(2.0)))


def true_rates(threshold: float) -> dict[str, dict[str, float]]:
    """The generator's own rates at ``score >= threshold`` (accepted as bona fide), per group:
    ``bpcer`` and each species' APCER. A rounded score ``round(x, 3)`` is at least ``t`` (a
    three-decimal value) exactly when ``x >= t - 0.0005``."""
    cut = min(max(threshold - 0.0005, 1e-12), 1 - 1e-12)
    z = math.log(cut / (1.0 - cut))
    return {
        group: {("bpcer" if p == "bona_fide" else f"apcer_{p}"):
                (1.0 - _upper_tail(z, mean)) if p == "bona_fide" else _upper_tail(z, mean)
                for p, mean in means.items()}
        for group, means in MEANS.items()
    }


def main() -> None:
    """Write the table named on the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    counts = generate(args.out, seed=args.seed)
    print(f"{args.out}: " + ", ".join(f"{n:,} {p}" for p, n in counts.items()))


if __name__ == "__main__":
    main()
