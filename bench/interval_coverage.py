"""Coverage of the audit's 95 % intervals at small samples: the identity bootstrap's percentile
interval (used before) against the candidates, on simulated audits with identity clustering.

    .venv/bin/python bench/interval_coverage.py [--sims 300] [--reps 200] [--identities 30 100]

Prints the markdown table of docs/metrics.md ("Interval coverage"); tests/audit/
test_interval_coverage.py runs the same simulation (fewer audits) in CI.

Each simulated audit has two groups of ``m`` identities with 2 + Poisson(2) templates each.
Genuine comparisons (every pair of an identity's templates) fail with a probability that
depends on an identity effect (``Φ((e_u − c) / σ)``, ``e_u ~ N(0, 0.7)``); impostor comparisons
of identities ``i`` and ``j`` (``t_i · t_j`` of them) match with ``Φ((e_i + e_j − c) / σ)``,
``e ~ N(0, 0.5)``: a person who looks like many looks like them in every comparison. The true
rates are those of the population (the effects integrated out): FMR 2e-3 and 6e-3 (a true
``fmr_ratio`` of 3), FNMR 0.05 in both groups (a true ``fnmr_ratio`` of 1, where a max/min of
resampled rates, never below 1, cannot cover). Every interval is computed from the same
identity-bootstrap replicates (:func:`faceaudit.audit.bootstrap.bootstrap_with_pairs`, the
two-way FMR bootstrap of the audit), so only the way an interval is read off them differs:

- ``percentile``: the 2.5th and 97.5th percentiles (Clopper–Pearson at 0 errors), and for a
  ratio the percentiles of max/min over the replicates (the audit before);
- ``log-normal``: ``p · exp(± z · sd* / p)`` with the bootstrap standard deviation (a normal
  interval on the log rate); for a ratio, of the two groups' log rates, groups fixed;
- ``wilson-n_eff``: the Wilson interval on the effective sample size
  (:func:`faceaudit.audit.intervals.effective_size`) with the normal quantile;
- ``chosen``: :func:`faceaudit.audit.intervals.rate_interval`, what the audit uses now: the
  same with the Student-t quantile of ``m − 1`` degrees of freedom and an upper bound at least
  the log-scale reflection ``p² / q_2.5`` of the replicates.

For a ratio, the last two use :func:`faceaudit.audit.gate_rules.ratio_interval` (MOVER on the
log scale) over the two groups' intervals of the same method.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from scipy.stats import norm

from faceaudit.audit.bootstrap import PairCounts, bootstrap_with_pairs
from faceaudit.audit.gate_rules import ratio_interval
from faceaudit.audit.intervals import (
    clopper_pearson_upper,
    effective_size,
    rate_interval,
    wilson,
    z_value,
)

CONFIDENCE = 0.95
TRUE_FMR = (2e-3, 6e-3)
TRUE_FNMR = (0.05, 0.05)
FMR_EFFECT, FNMR_EFFECT = 0.5, 0.7  # identity effect SD (pair noise SD 1)
METHODS = ("percentile", "log-normal", "wilson-n_eff", "chosen")
QUANTITIES = ("fmr", "fnmr", "fmr_ratio", "fnmr_ratio")


@dataclass
class Audit:
    """One simulated audit: point rates, their counts, and the bootstrap replicates."""

    identities: int
    fmr: np.ndarray  # (2,)
    fnmr: np.ndarray
    fmr_counts: list[tuple[int, int]]  # (errors, comparisons) per group
    fnmr_counts: list[tuple[int, int]]
    fmr_reps: np.ndarray  # (R, 2)
    fnmr_reps: np.ndarray


def simulate(m: int, reps: int, rng: np.random.Generator) -> Audit:
    """One two-group audit of ``m`` identities per group and its ``reps`` replicates."""
    unit_group = np.repeat([0, 1], m)
    U = 2 * m
    templates = 2 + rng.poisson(2.0, U)
    gen_n = templates * (templates - 1) // 2
    gen_cut = -norm.ppf(np.asarray(TRUE_FNMR)) * math.hypot(1.0, FNMR_EFFECT)
    p_u = norm.cdf(rng.normal(0, FNMR_EFFECT, U) - gen_cut[unit_group])
    gen_err = rng.binomial(gen_n, p_u)
    imp_cut = -norm.ppf(np.asarray(TRUE_FMR)) * math.sqrt(1.0 + 2 * FMR_EFFECT**2)
    effect = rng.normal(0, FMR_EFFECT, U)
    ui, uj = [], []
    for g in (0, 1):
        a, b = np.triu_indices(m, 1)
        ui.append(a + g * m)
        uj.append(b + g * m)
    i, j = np.concatenate(ui), np.concatenate(uj)
    n_ij = templates[i] * templates[j]
    c_ij = rng.binomial(n_ij, norm.cdf(effect[i] + effect[j] - imp_cut[unit_group[i]]))
    listed = c_ij > 0
    pairs = PairCounts(i[listed], j[listed], c_ij[listed][:, None].astype(np.float64),
                       templates=templates.astype(np.float64))
    member = np.stack([unit_group == g for g in (0, 1)], 1)
    one, two = bootstrap_with_pairs(
        unit_group, gen_err[:, None] * member, gen_n[:, None] * member, reps,
        int(rng.integers(2**31)), pairs, 2,
    )
    assert two is not None
    fm_err = [int(c_ij[unit_group[i] == g].sum()) for g in (0, 1)]
    fm_n = [int(n_ij[unit_group[i] == g].sum()) for g in (0, 1)]
    fn_err = [int(gen_err[unit_group == g].sum()) for g in (0, 1)]
    fn_n = [int(gen_n[unit_group == g].sum()) for g in (0, 1)]
    return Audit(
        identities=m,
        fmr=np.array(fm_err) / np.array(fm_n),
        fnmr=np.array(fn_err) / np.array(fn_n),
        fmr_counts=list(zip(fm_err, fm_n, strict=True)),
        fnmr_counts=list(zip(fn_err, fn_n, strict=True)),
        fmr_reps=two[:, [0, 1], [0, 1], 0],
        fnmr_reps=one,
    )


Bounds = tuple[float | None, float | None]


def percentile(p: float, reps: np.ndarray, counts: tuple[int, int], m: int) -> Bounds:
    """The audit's interval before: percentiles, Clopper–Pearson at 0 errors."""
    if counts[0] == 0:
        return 0.0, clopper_pearson_upper(counts[1], CONFIDENCE)
    low, high = np.nanpercentile(reps, [2.5, 97.5])
    return float(low), float(high)


def log_normal(p: float, reps: np.ndarray, counts: tuple[int, int], m: int) -> Bounds:
    """Normal on the log rate with the bootstrap standard deviation (delta method)."""
    if counts[0] == 0:
        return 0.0, clopper_pearson_upper(counts[1], CONFIDENCE)
    sd = float(np.nanstd(reps, ddof=1))
    spread = math.exp(z_value(CONFIDENCE) * sd / p)
    return p / spread, min(1.0, p * spread)


def wilson_neff(p: float, reps: np.ndarray, counts: tuple[int, int], m: int) -> Bounds:
    """Wilson on the effective sample size, normal quantile."""
    if counts[0] == 0:
        return 0.0, clopper_pearson_upper(counts[1], CONFIDENCE)
    n_eff = effective_size(p, reps, m, counts[1])
    if n_eff is None:
        return None, None
    return wilson(p, n_eff, CONFIDENCE)


def chosen(p: float, reps: np.ndarray, counts: tuple[int, int], m: int) -> Bounds:
    """What the audit uses: :func:`rate_interval`."""
    got = rate_interval(p, reps, errors=counts[0], comparisons=counts[1], identities=m,
                        confidence=CONFIDENCE)
    return got.low, got.high


RATE_METHODS: dict[str, Callable[..., Bounds]] = {
    "percentile": percentile, "log-normal": log_normal, "wilson-n_eff": wilson_neff,
    "chosen": chosen,
}


def ratio_bounds(method: str, p: np.ndarray, reps: np.ndarray, counts: list[tuple[int, int]],
                 m: int) -> Bounds:
    """The max/min ratio's interval by ``method``."""
    if method == "percentile":
        with np.errstate(divide="ignore", invalid="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            ratios = reps.max(axis=1) / reps.min(axis=1)
            low, high = np.nanpercentile(ratios, [2.5, 97.5])
        return float(low), float(high)
    if method == "log-normal":
        if min(p) <= 0:
            return None, None
        hi, lo = int(np.argmax(p)), int(np.argmin(p))
        se = math.hypot(float(np.nanstd(reps[:, hi], ddof=1)) / p[hi],
                        float(np.nanstd(reps[:, lo], ddof=1)) / p[lo])
        r = p[hi] / p[lo]
        spread = math.exp(z_value(CONFIDENCE) * se)
        return r / spread, r * spread
    rates = []
    for g in range(len(p)):
        low, high = RATE_METHODS[method](float(p[g]), reps[:, g], counts[g], m)
        rates.append((float(p[g]), low, high))
    got = ratio_interval(rates)
    return (None, None) if got is None else got


@dataclass
class Tally:
    """Hits and trials per (identities, quantity, method)."""

    hits: dict[tuple[int, str, str], int] = field(default_factory=dict)
    trials: dict[tuple[int, str, str], int] = field(default_factory=dict)

    def add(self, key: tuple[int, str, str], bounds: Bounds, truth: float) -> None:
        """Count one interval: a hit when it holds the truth (no interval is a miss)."""
        low, high = bounds
        hit = low is not None and high is not None and low <= truth <= high
        self.hits[key] = self.hits.get(key, 0) + int(hit)
        self.trials[key] = self.trials.get(key, 0) + 1

    def coverage(self, key: tuple[int, str, str]) -> float:
        """Share of the intervals that held the truth."""
        return self.hits[key] / self.trials[key]

    def standard_error(self, key: tuple[int, str, str]) -> float:
        """Binomial simulation error of :meth:`coverage`."""
        c, n = self.coverage(key), self.trials[key]
        return math.sqrt(max(c * (1 - c), 0.05 * 0.95) / n)


def run(identities: tuple[int, ...], sims: int, reps: int, seed: int = 2024) -> Tally:
    """Simulate ``sims`` audits per size and tally every method's coverage."""
    tally = Tally()
    true_ratio = {"fmr_ratio": max(TRUE_FMR) / min(TRUE_FMR),
                  "fnmr_ratio": max(TRUE_FNMR) / min(TRUE_FNMR)}
    for m in identities:
        rng = np.random.default_rng([seed, m])
        for _ in range(sims):
            audit = simulate(m, reps, rng)
            for kind, p, r, counts, truth in (
                ("fmr", audit.fmr, audit.fmr_reps, audit.fmr_counts, TRUE_FMR),
                ("fnmr", audit.fnmr, audit.fnmr_reps, audit.fnmr_counts, TRUE_FNMR),
            ):
                for method in METHODS:
                    for g in (0, 1):
                        bounds = RATE_METHODS[method](float(p[g]), r[:, g], counts[g], m)
                        tally.add((m, kind, method), bounds, truth[g])
                    tally.add((m, f"{kind}_ratio", method),
                              ratio_bounds(method, p, r, counts, m), true_ratio[f"{kind}_ratio"])
    return tally


def table(tally: Tally, identities: tuple[int, ...], sims: int, reps: int) -> str:
    """The markdown coverage table."""
    lines = [
        f"| identities per group | quantity | {' | '.join(METHODS)} |",
        "|---|---|" + "---|" * len(METHODS),
    ]
    for m in identities:
        for q in QUANTITIES:
            keys = [(m, q, meth) for meth in METHODS]
            cells = [f"{tally.coverage(k):.3f} ± {tally.standard_error(k):.3f}" for k in keys]
            lines.append(f"| {m} | `{q}` | {' | '.join(cells)} |")
    lines.append(
        f"\n{sims} simulated audits per size, {reps} bootstrap replicates each; FMR and FNMR "
        "pool both groups' intervals (2 per audit). ± is one binomial standard error."
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the simulation and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sims", type=int, default=300)
    parser.add_argument("--reps", type=int, default=200)
    parser.add_argument("--identities", type=int, nargs="+", default=[30, 100])
    parser.add_argument("--seed", type=int, default=2024)
    args = parser.parse_args(argv)
    sizes = tuple(args.identities)
    start = time.perf_counter()
    tally = run(sizes, args.sims, args.reps, args.seed)
    print(table(tally, sizes, args.sims, args.reps))
    print(f"({time.perf_counter() - start:.0f} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
