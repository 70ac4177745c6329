"""A seeded synthetic vendor score table with known per-group error rates (for `make demo`).

Nothing here is real: two made-up groups ("A" and "B") of made-up subjects, and scores a vendor
might export (0–100, two decimals). Each comparison's score is ``100 · sigmoid(z)`` rounded to
two decimals, where ``z`` is normal with a mean that depends on the groups and on whether the
pair is mated. Because the generator is known, its true FMR and FNMR at any threshold follow in
closed form (:func:`true_rates`), and the demo prints them beside what the audit measured.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class GroupModel:
    """Latent (logit-scale) score distributions of one synthetic group."""

    impostor_mean: float
    genuine_mean: float


GROUPS: dict[str, GroupModel] = {
    "A": GroupModel(impostor_mean=-3.0, genuine_mean=2.0),
    "B": GroupModel(impostor_mean=-2.85, genuine_mean=1.6),
}
SPREAD = 1.0
SUBJECTS_PER_GROUP = 300
GENUINE_PER_SUBJECT = 2
CROSS_PAIRS = 20_000


def _score(z: np.ndarray) -> np.ndarray:
    """Vendor scale: 0–100, two decimals (ties on the grid, as real exports have)."""
    return np.round(100.0 / (1.0 + np.exp(-z)), 2)


def generate(path: Path, *, seed: int = 0) -> dict[str, int]:
    """Write the table to ``path`` (CSV); return the row counts by kind."""
    rng = np.random.default_rng(seed)
    rows: list[tuple[float, int, str, str, str, str]] = []
    subjects = {g: [f"{g}{i:03d}" for i in range(SUBJECTS_PER_GROUP)] for g in GROUPS}
    for group, model in GROUPS.items():
        ids = subjects[group]
        n_gen = len(ids) * GENUINE_PER_SUBJECT
        genuine = _score(rng.normal(model.genuine_mean, SPREAD, n_gen))
        for k, score in enumerate(genuine):
            sid = ids[k // GENUINE_PER_SUBJECT]
            rows.append((float(score), 1, group, group, sid, sid))
        i, j = np.triu_indices(len(ids), k=1)
        impostor = _score(rng.normal(model.impostor_mean, SPREAD, len(i)))
        for a, b, score in zip(i, j, impostor, strict=True):
            rows.append((float(score), 0, group, group, ids[a], ids[b]))
    cross_mean = sum(m.impostor_mean for m in GROUPS.values()) / len(GROUPS)
    a_ids, b_ids = subjects["A"], subjects["B"]
    picks = rng.choice(len(a_ids) * len(b_ids), size=CROSS_PAIRS, replace=False)
    cross = _score(rng.normal(cross_mean, SPREAD, CROSS_PAIRS))
    for pick, score in zip(picks, cross, strict=True):
        a, b = divmod(int(pick), len(b_ids))
        rows.append((float(score), 0, "A", "B", a_ids[a], b_ids[b]))
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["score", "genuine", "group_a", "group_b", "subject_a", "subject_b"])
        for score, genuine_flag, ga, gb, sa, sb in rows:
            writer.writerow([f"{score:.2f}", genuine_flag, ga, gb, sa, sb])
    n_genuine = sum(r[1] for r in rows)
    return {"genuine": n_genuine, "impostor": len(rows) - n_genuine}


def _upper_tail(z: float, mean: float) -> float:
    """P(N(mean, SPREAD) >= z)."""
    return 0.5 * math.erfc((z - mean) / (SPREAD * math.sqrt(2.0)))


def true_rates(threshold: float) -> dict[str, dict[str, float]]:
    """The generator's own within-group FMR and FNMR at ``score >= threshold`` (0–100 scale).

    A rounded score ``round(x, 2)`` is at least ``t`` (a two-decimal value) exactly when
    ``x >= t - 0.005``, so the latent cut is the logit of ``(t - 0.005) / 100``.
    """
    cut = min(max((threshold - 0.005) / 100.0, 1e-12), 1 - 1e-12)
    z = math.log(cut / (1.0 - cut))
    return {
        group: {
            "fmr": _upper_tail(z, model.impostor_mean),
            "fnmr": 1.0 - _upper_tail(z, model.genuine_mean),
        }
        for group, model in GROUPS.items()
    }
