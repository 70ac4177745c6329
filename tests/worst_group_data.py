"""Scores tables for the worst-group threshold (issue 24): two groups of 60 identities whose
false matches are spread over a range of scores, so that the recommended worst-group
threshold still leaves false matches in both groups (a ratio the gate can judge there).

Written as ``--scores`` CSV files and audited for real with ``--operating-points``; the
report is then carried into a registrable report of the deployed model
(:func:`as_model_audit`).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

HEADER = ["score", "genuine", "group_a", "group_b", "subject_a", "subject_b"]
IDENTITIES = 60


def write_spread_audit(path: Path, matches: dict[str, list[float]],
                       misses_every: int = 3) -> Path:
    """``IDENTITIES`` identities per group, every pair compared 4 times at score -0.5 but for
    one comparison per false match in ``matches[group]`` (its score; each from a different
    pair of identities); 4 genuine comparisons per identity at 0.999, 2 of them at 0.1 for
    one identity in ``misses_every``."""
    rng = np.random.default_rng(24)
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(HEADER)
        for group, scores in matches.items():
            for s in range(IDENTITIES):
                for k in range(4):
                    score = 0.1 if (s % misses_every == 0 and k < 2) else 0.999
                    w.writerow([score, "true", group, group, f"{group}{s}", f"{group}{s}"])
            pairs = [(a, b) for a in range(IDENTITIES) for b in range(a + 1, IDENTITIES)]
            chosen = rng.choice(len(pairs), len(scores), replace=False).tolist()
            above = dict(zip(chosen, scores, strict=True))
            for p, (a, b) in enumerate(pairs):
                values = [-0.5] * 4
                if p in above:
                    values[0] = above[p]
                for score in values:
                    w.writerow([f"{score:.5f}", "false", group, group, f"{group}{a}",
                                f"{group}{b}"])
    return path


def audited_points(folder: Path, matches: dict[str, list[float]], fmr: str = "1e-2",
                   reps: int = 300) -> dict:
    """The real ``faceaudit audit --scores … --operating-points`` report of a spread table."""
    from typer.testing import CliRunner

    from faceaudit.cli import app

    folder.mkdir(parents=True, exist_ok=True)
    table = write_spread_audit(folder / "scores.csv", matches)
    result = CliRunner().invoke(app, ["audit", "--scores", str(table), "--out",
                                      str(folder / "out"), "--fmr", fmr, "--bootstrap",
                                      str(reps), "--operating-points"])
    assert result.exit_code == 0, result.output
    return json.loads((folder / "out" / "report.json").read_text())


def as_model_audit(real: dict, points: bool = True) -> dict:
    """``real``'s targets (and, with ``points``, its ``operating_points``) in a registrable
    report of the deployed model."""
    from verdict_data import as_model_audit as carried

    report = carried(real)
    if points:
        report["operating_points"] = real["operating_points"]
    return report
