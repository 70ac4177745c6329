"""PAD audit evidence for the policy tests: a seeded synthetic PAD score table whose group
``B`` bona fide presentations are rejected as often as ``A``'s (``fair``) or about four times
as often, audited through the real dispatcher with the PAD system named."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from faceaudit.audit.dispatch import AuditRequest, run_audit

SYSTEM = "acme-liveness:4.2"
SUBJECTS = 200
BONA_FIDE_PER_SUBJECT = 8
ATTACKS_PER_SUBJECT = 6  # per species


def write_pad_table(path: Path, *, b_bona_fide_mean: float = 0.8, seed: int = 0) -> Path:
    """A PAD table (score 0–1, lower means attack): groups A and B, species print and replay
    with the same latent means in both groups; A's bona fide mean is 0.8 (BPCER about 5 % at
    APCER 5 %), B's ``b_bona_fide_mean`` (0.0: BPCER about 20 %, a ratio near 4)."""
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["score", "presentation", "group", "subject"])
        for group, bona in (("A", 0.8), ("B", b_bona_fide_mean)):
            for i in range(SUBJECTS):
                for presentation, mean, n in (("bona_fide", bona, BONA_FIDE_PER_SUBJECT),
                                              ("print", -2.5, ATTACKS_PER_SUBJECT),
                                              ("replay", -2.5, ATTACKS_PER_SUBJECT)):
                    for z in rng.normal(mean, 1.0, n):
                        writer.writerow([f"{1 / (1 + np.exp(-z)):.4f}", presentation, group,
                                         f"{group}{i:03d}"])
    return path


def pad_report(folder: Path, *, system: str | None = SYSTEM, fair: bool = True,
               seed: int = 0, pad_threshold: float | None = None) -> dict:
    """The PAD audit report of a fresh table in ``folder`` (``fair``: equal BPCER)."""
    table = write_pad_table(folder / "pad.csv", b_bona_fide_mean=0.8 if fair else 0.0,
                            seed=seed)
    return run_audit(AuditRequest(pad_scores=table, pad_system=system, bootstrap=200,
                                  seed=seed, pad_threshold=pad_threshold))
