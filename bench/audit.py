"""Benchmark of the audit scorer: bare blockwise E @ E.T vs the full scorer vs a naive per-pair
table, and peak memory for 200,000 synthetic templates.

    .venv/bin/python bench/audit.py [--embeddings E.parquet --attributes A.csv --by sex]
    .venv/bin/python bench/audit.py --large 200000      # peak memory only (runs minutes)
    .venv/bin/python bench/audit.py --table-rows 100000000   # exact scores-table audit
    .venv/bin/python bench/audit.py --identification --lfw PATH  # 1:N audit vs exhaustive 1:1

The scores-table mode builds a synthetic vendor table (4-decimal scores on 0-100, 4 groups,
subject columns) of N rows in memory and times the exact audit (thresholds from the sorted
impostor scores, no bootstrap) and reports its peak RSS, and bytes per row beyond the table.

--identification times the whole identification audit (``faceaudit audit --mode
identification``: one template per enrolled identity, half the identities enrolled, 20 seeded
splits, every probe of a split searched as one matrix product, 1,000 identity-bootstrap
replicates) against the whole exhaustive 1:1 audit of the same templates (every pair, same
bootstrap), both as the CLI runs them.

Without --embeddings it uses synthetic unit vectors: 13,233 × 128 with 5,749 identities
(LFW's shape). The naive version is timed on a subset and extrapolated per pair (said so).
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from faceaudit.audit.scoring import BLOCK, TemplateScores, quantise


def synthetic(n: int, n_ids: int, dim: int = 128, seed: int = 0):
    rng = np.random.default_rng(seed)
    identity = np.sort(np.r_[np.arange(n_ids), rng.integers(0, n_ids, n - n_ids)])
    centres = rng.standard_normal((n_ids, dim)).astype(np.float32)
    emb = centres[identity] + 0.6 * rng.standard_normal((n, dim)).astype(np.float32)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    group = (identity % 4 == 0).astype(np.intp)
    return emb, identity, group


def bare(emb: np.ndarray, block: int = BLOCK) -> float:
    start = time.perf_counter()
    for i in range(0, len(emb), block):
        for j in range(i, len(emb), block):
            emb[i : i + block] @ emb[j : j + block].T
    return time.perf_counter() - start


def naive_per_pair(emb, identity, group, n: int) -> float:
    """A pandas table with one row per pair, then per-group FMR/FNMR at one threshold."""
    start = time.perf_counter()
    e, ids, g = emb[:n], identity[:n], group[:n]
    i, j = np.triu_indices(n, 1)
    df = pd.DataFrame(
        {
            "score": np.einsum("ij,ij->i", e[i], e[j]),
            "id_a": ids[i],
            "id_b": ids[j],
            "group_a": g[i],
            "group_b": g[j],
        }
    )
    df["genuine"] = df.id_a == df.id_b
    df["bin"] = quantise(df.score.to_numpy())
    thr = df.loc[~df.genuine, "score"].quantile(1 - 1e-3)
    df["match"] = df.score >= thr
    df[df.group_a == df.group_b].groupby(["group_a", "genuine"])["match"].mean()
    return (time.perf_counter() - start) / len(df)


def peak_rss_gib() -> float:
    """Peak resident memory of this process (VmHWM; ru_maxrss would include the parent's)."""
    try:
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 2**20
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def rss_gib() -> float:
    """Current resident memory of this process (VmRSS)."""
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 2**20
    return 0.0


def reset_peak_rss() -> None:
    """Start a new peak-RSS measurement (Linux: writing 5 to clear_refs resets VmHWM)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def large(n: int) -> None:
    emb, identity, group = synthetic(n, n // 3)
    start = time.perf_counter()
    scorer = TemplateScores(emb, identity, group, 2)
    scorer.score()
    peak = peak_rss_gib()
    print(f"large,{n},{time.perf_counter() - start:.1f},{peak:.2f}")


def table(rows: int) -> None:
    """Exact audit of a synthetic N-row scores table: time and peak memory (no bootstrap)."""
    from faceaudit.audit.engine import AuditSettings, analyse_scores
    from faceaudit.audit.scoring import score_table

    rng = np.random.default_rng(0)
    G, subjects = 4, 10_000
    genuine = rng.random(rows) < 0.01
    group = rng.integers(0, G, rows).astype(np.intp)
    score = np.round(np.where(genuine, rng.normal(70, 8, rows), rng.normal(30, 9, rows)), 4)
    sa = rng.integers(0, subjects, rows)
    sb = np.where(genuine, sa, (sa + rng.integers(1, subjects, rows)) % subjects)
    sa, sb = sa * G + group, sb * G + group  # subjects within their group
    base = rss_gib()
    reset_peak_rss()
    targets = (1e-2, 1e-3, 1e-4, 1e-5)
    start = time.perf_counter()
    scores = score_table(score, genuine, group, group, ["a", "b", "c", "d"], sa, sb,
                         targets=targets)
    analyse_scores(scores, AuditSettings(targets=targets, reps=0))
    elapsed = time.perf_counter() - start
    peak = peak_rss_gib()
    table_bytes = score.nbytes + genuine.nbytes + group.nbytes + sa.nbytes + sb.nbytes
    print(
        f"table,{rows},{elapsed:.1f},{peak:.2f},{table_bytes / 2**30:.2f},"
        f"{(peak - base) * 2**30 / rows:.0f}"
    )


def identification_vs_exhaustive(e, attributes, by: str, source: str) -> None:
    """Time the identification audit against the exhaustive 1:1 audit of the same templates."""
    from faceaudit.audit.engine import AuditSettings
    from faceaudit.audit.identification_run import audit_identification
    from faceaudit.audit.run import audit_embeddings

    settings = AuditSettings()
    t0 = time.perf_counter()
    ident = audit_identification(e, attributes, [by], settings, candidates=10, repeats=20,
                                 gallery_templates="one", gallery_sizes=[1000],
                                 input_kind="bench", input_path=source)
    t_ident = time.perf_counter() - t0
    t0 = time.perf_counter()
    audit_embeddings(e, attributes, [by], settings, input_kind="bench", input_path=source)
    t_exhaustive = time.perf_counter() - t0
    section = ident["identification"]
    n = ident["data"]["templates"]
    searches = sum(g["non_mated_searches"] + g["mated_searches"]
                   for g in section["operating_points"][0]["groups"])
    print(f"input: {source}; {n:,} templates, {ident['data']['identities']:,} identities\n")
    print("| audit | time (s) |")
    print("|---|---|")
    print(f"| identification: 20 splits, {section['gallery']['subjects']:,} enrolled subjects, "
          f"{searches:,} searches in all, bootstrap {settings.reps} | {t_ident:.1f} |")
    print(f"| exhaustive 1:1: {n * (n - 1) // 2:,} pairs, bootstrap {settings.reps} "
          f"| {t_exhaustive:.1f} |")
    print(f"\nidentification / exhaustive: {t_ident / t_exhaustive:.2f}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lfw", help="LFW folder: embeddings (cached) and sex labels from lfw-meta")
    ap.add_argument("--embeddings")
    ap.add_argument("--attributes")
    ap.add_argument("--by", default="sex")
    ap.add_argument("--naive-n", type=int, default=2000)
    ap.add_argument("--large", type=int, default=0, help="peak memory run with N templates")
    ap.add_argument("--large-n", type=int, default=200_000, help="templates for the memory run")
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--table-rows", type=int, default=0, help="exact scores-table run, N rows")
    ap.add_argument("--identification", action="store_true",
                    help="time the 1:N identification audit against the exhaustive 1:1 audit")
    args = ap.parse_args()
    if args.table_rows:
        print("mode,rows,seconds,peak_rss_gib,table_gib,extra_bytes_per_row")
        table(args.table_rows)
        return
    if args.large:
        large(args.large)
        return
    if args.embeddings or args.lfw:
        from faceaudit.audit import inputs
        from faceaudit.batch import embed_dataset

        if args.lfw:
            e = inputs.embeddings_from_table(embed_dataset(Path(args.lfw)), args.lfw)
            attributes = inputs.read_lfw_attributes(Path(args.lfw))
        else:
            e = inputs.read_embeddings(args.embeddings)
            attributes = inputs.read_attributes(args.attributes)
        if args.identification:
            identification_vs_exhaustive(e, attributes, args.by, args.lfw or args.embeddings)
            return
        g = inputs.group_templates(e.paths, e.identities, attributes, [args.by])
        keep = g.codes >= 0
        emb = e.matrix[keep] / np.linalg.norm(e.matrix[keep], axis=1, keepdims=True)
        identity = np.unique(np.asarray(e.identities)[keep], return_inverse=True)[1]
        group, source = g.codes[keep], args.lfw or args.embeddings
    else:
        emb, identity, group = synthetic(13_233, 5_749)
        source = "synthetic 13,233 x 128, 5,749 identities"
        if args.identification:
            from faceaudit.audit import inputs

            e = inputs.Embeddings(paths=[f"{i}/{k}.jpg" for k, i in enumerate(identity)],
                                  identities=[str(i) for i in identity], matrix=emb,
                                  backend_id=None, no_face_paths=[], model_sha256=None)
            attributes = inputs.Attributes("identity", {str(i): {"sex": str(group[k])}
                                           for k, i in enumerate(identity)}, ["sex"])
            identification_vs_exhaustive(e, attributes, "sex", source)
            return
    n = len(emb)
    pairs = n * (n - 1) // 2
    t_bare = min(bare(emb) for _ in range(2))
    scorer = TemplateScores(emb, identity, group, int(group.max()) + 1, workers=args.workers)
    t_pass1 = float("inf")
    for _ in range(2):  # best of two, like the bare product: both warm
        t0 = time.perf_counter()
        scores = scorer.score()
        t_pass1 = min(t_pass1, time.perf_counter() - t0)
    G = scores.impostor_hist.shape[0]
    imp = scores.impostor_hist[np.triu(np.ones((G, G), dtype=bool))].sum(axis=0)
    k = int(np.argmax(np.cumsum(imp[::-1])[::-1] <= 1e-3 * imp.sum()))
    t_pass2 = float("inf")
    for _ in range(2):
        t0 = time.perf_counter()
        scorer.count_impostors(np.array([k - 300, k, k + 300]))
        t_pass2 = min(t_pass2, time.perf_counter() - t0)
    per_pair = naive_per_pair(emb, identity, group, args.naive_n)
    t_naive = per_pair * pairs
    peak = (
        subprocess.run(
            [sys.executable, __file__, "--large", str(args.large_n)],
            capture_output=True,
            text=True,
            check=True,
        )
        .stdout.strip()
        .split(",")
    )
    print(f"input: {source}; {n:,} templates, {pairs:,} comparisons; workers={scorer.workers}\n")
    print("| step | time (s) | vs bare |")
    print("|---|---|---|")
    print(f"| bare blockwise E @ E.T | {t_bare:.2f} | 1.0x |")
    print(
        f"| scorer pass 1: per-group histograms + genuine scores | {t_pass1:.2f} "
        f"| {t_pass1 / t_bare:.2f}x |"
    )
    print(
        f"| scorer pass 2: per-identity counts at 3 thresholds (bootstrap) | {t_pass2:.2f} "
        f"| {t_pass2 / t_bare:.2f}x |"
    )
    print(
        f"| naive per-pair pandas table (timed on {args.naive_n:,} templates, extrapolated) "
        f"| {t_naive:.1f} | {t_naive / t_bare:.1f}x |"
    )
    print(
        f"\nfull scorer (pass 1 + 2) is {t_naive / (t_pass1 + t_pass2):.0f}x faster than naive; "
        f"pass 1 alone {t_naive / t_pass1:.0f}x"
    )
    print(
        f"{int(peak[1]):,} synthetic templates (pass 1): "
        f"{float(peak[2]):.0f} s, peak RSS {float(peak[3]):.2f} GiB"
    )


if __name__ == "__main__":
    main()
