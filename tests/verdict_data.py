"""Scores tables for the gate's three-way verdicts: a small audit whose point ratio says
"fail" while its interval cannot tell (35 + 35 identities, each group's FMR resting on one
false match), and a large one whose interval decides.

Written as ``--scores`` CSV files (``score, genuine, group_a, group_b, subject_a, subject_b``)
so that the CLI, the policy and the REST tests audit the same data for real.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

HEADER = ["score", "genuine", "group_a", "group_b", "subject_a", "subject_b"]


def write_small_audit(path: Path) -> Path:
    """35 identities per group; every pair of identities of a group compared 6 (male) or 71
    (female) times, all far below threshold but one comparison per group (``fmr_ratio`` at
    FMR 1e-3 is (1/3570) / (1/42245) ≈ 11.8); three genuine comparisons per identity, a few
    of them failing."""
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(HEADER)
        for group, per_pair, misses in (("male", 6, (1, 9, 17, 25, 33)),
                                        ("female", 71, (2, 8, 14, 20, 26, 32))):
            for s in range(35):
                for k in range(3):
                    score = 0.5 if (s in misses and k == 0) else 0.95
                    w.writerow([score, "true", group, group, f"{group}{s}", f"{group}{s}"])
            for a in range(35):
                for b in range(a + 1, 35):
                    scores = np.full(per_pair, -0.5)  # tied: the threshold lands on 0.9
                    if (a, b) == (0, 1):
                        scores[0] = 0.9
                    for score in scores:
                        w.writerow([f"{score:.5f}", "false", group, group, f"{group}{a}",
                                    f"{group}{b}"])
    return path


def write_large_audit(path: Path, male_matches: int = 60, female_matches: int = 6) -> Path:
    """60 identities per group, every pair compared 4 times; ``male_matches`` and
    ``female_matches`` impostor comparisons above threshold (audit it at FMR 1e-2), each from
    a different pair of identities (spread, so the interval is narrow: ``fmr_ratio`` 10), and
    2 of 4 genuine comparisons failing for one identity in three in both groups
    (``fnmr_ratio`` 1)."""
    rng = np.random.default_rng(25)
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(HEADER)
        for group, matches in (("male", male_matches), ("female", female_matches)):
            for s in range(60):
                for k in range(4):
                    score = 0.5 if (s % 3 == 0 and k < 2) else 0.95
                    w.writerow([score, "true", group, group, f"{group}{s}", f"{group}{s}"])
            pairs = [(a, b) for a in range(60) for b in range(a + 1, 60)]
            chosen = set(rng.choice(len(pairs), matches, replace=False).tolist())
            for p, (a, b) in enumerate(pairs):
                scores = np.full(4, -0.5)
                if p in chosen:
                    scores[0] = 0.9
                for score in scores:
                    w.writerow([f"{score:.5f}", "false", group, group, f"{group}{a}",
                                f"{group}{b}"])
    return path


def audited(kind: str, folder: Path) -> dict:
    """The real ``faceaudit audit --scores`` report of the ``"small"`` (at FMR 1e-3) or
    ``"large"`` (at FMR 1e-2) table, 500 bootstrap replicates."""
    import json

    from typer.testing import CliRunner

    from faceaudit.cli import app

    folder.mkdir(parents=True, exist_ok=True)
    write = write_small_audit if kind == "small" else write_large_audit
    table = write(folder / f"{kind}.csv")
    fmr = "1e-3" if kind == "small" else "1e-2"
    result = CliRunner().invoke(app, ["audit", "--scores", str(table), "--out",
                                      str(folder / kind), "--fmr", fmr, "--bootstrap", "500"])
    assert result.exit_code == 0, result.output
    return json.loads((folder / kind / "report.json").read_text())


def as_model_audit(real: dict, **kwargs) -> dict:
    """``real``'s measured targets in a registrable report of the deployed model
    (:func:`audit_evidence.make_report`'s provenance: a scores table cannot be registered)."""
    from audit_evidence import make_report

    report = make_report(target_fmr=real["primary_target"], **kwargs)
    report["targets"] = real["targets"]
    report["primary_target"] = real["primary_target"]
    return report
