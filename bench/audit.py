"""Benchmark of the audit scorer: bare blockwise E @ E.T vs the full scorer vs a naive per-pair
table, and peak memory for 200,000 synthetic templates.

    .venv/bin/python bench/audit.py [--embeddings E.parquet --attributes A.csv --by sex]
    .venv/bin/python bench/audit.py --large 20000   # whole audit: time vs bare, peak RSS
    .venv/bin/python bench/audit.py --table-rows 100000000   # exact scores-table audit
    .venv/bin/python bench/audit.py --identification --lfw PATH  # 1:N audit vs exhaustive 1:1
    .venv/bin/python bench/audit.py --cluster local:2 --lfw PATH   # Dask path vs in-process

The cluster mode times both passes of the scorer (histograms; bootstrap counts at 3
thresholds with the two-way pairs) in-process on N threads and on the Dask cluster, on LFW (or
--embeddings) and on --cluster-n synthetic templates (default 200,000), checks the results are
equal, and measures the cost of one full BLOCK x BLOCK block on a worker: the numbers behind the
10^6-template plan in docs/scaling.md.

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

from faceaudit.audit import fused
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
    """The whole 1:1 audit (both passes, identity bootstrap, every section) of ``n`` synthetic
    templates in two groups, beside the bare blockwise product; prints a CSV line with the
    seconds of each and the peak RSS (memory is bounded by the blocks, not by n^2)."""
    from faceaudit.audit.all_pairs import score_templates
    from faceaudit.audit.engine import AuditSettings, analyse_scores

    emb, identity, group = synthetic(n, n // 3)
    scorer = TemplateScores(emb, identity, group, 2)
    warm_kernels(scorer)
    t0 = time.perf_counter()
    bare_blocks(scorer)
    t_bare = time.perf_counter() - t0
    del scorer
    start = time.perf_counter()
    scores = score_templates(emb, identity, group, ["g0", "g1"])
    t_pass1 = time.perf_counter() - start
    counter, t_pass2 = scores.counter, [0.0]
    assert counter is not None

    def timed_counter(*args, **kw):
        t0 = time.perf_counter()
        out = counter(*args, **kw)
        t_pass2[0] += time.perf_counter() - t0
        return out

    scores.counter = timed_counter
    analyse_scores(scores, AuditSettings())
    elapsed = time.perf_counter() - start
    peak = peak_rss_gib()
    row = f"large,{n},{elapsed:.1f},{peak:.2f},{t_bare:.1f},{t_pass1:.1f},{t_pass2[0]:.1f}"
    print(row)
    print_large(row.split(","))


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
def _timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def _thresholds(hist: np.ndarray) -> np.ndarray:
    """Bins around the all-groups FMR 1e-3 threshold (what the bootstrap pass counts at)."""
    G = hist.shape[0]
    imp = hist[np.triu(np.ones((G, G), dtype=bool))].sum(axis=0)
    k = int(np.argmax(np.cumsum(imp[::-1])[::-1] <= 1e-3 * imp.sum()))
    return np.array([k - 300, k, k + 300])


def _block_cost(thr: np.ndarray) -> dict:
    """On a worker: CPU seconds and result bytes of one full BLOCK x BLOCK block, both passes."""
    import pickle

    from faceaudit.audit.scoring import Blocks, pass1_block, pass2_block

    emb, identity, _ = synthetic(2 * BLOCK, BLOCK)
    unit_of = np.unique(identity, return_inverse=True)[1]
    none = np.empty(0, np.intp)
    data = Blocks(emb, identity, unit_of, [(0, BLOCK, 0), (BLOCK, 2 * BLOCK, 0)],
                  none, none, none, int(unit_of.max()) + 1)
    def cpu_s(fn) -> float:  # CPU seconds: what a dedicated core would take, load or not
        t0 = time.process_time()
        fn()
        return time.process_time() - t0

    r1, r2 = pass1_block(data, 0, 1), pass2_block(data, 0, 1, thr, thr)  # warm
    t1 = min(cpu_s(lambda: pass1_block(data, 0, 1)) for _ in range(3))
    t2 = min(cpu_s(lambda: pass2_block(data, 0, 1, thr, thr)) for _ in range(3))
    return {"pass1_s": t1, "pass2_s": t2, "pass1_bytes": len(pickle.dumps(r1)),
            "pass2_bytes": len(pickle.dumps(r2))}


def _worker_peak_gib() -> float:
    return peak_rss_gib()


def cluster_compare(emb, identity, group, address: str, label: str) -> dict:
    """Both passes in-process and on the cluster; returns the timings (results must agree)."""
    from faceaudit.audit.distributed import DaskScores
    from faceaudit.base.dask_cluster import open_cluster

    G = int(group.max()) + 1
    with open_cluster(address) as client:
        workers = len(client.scheduler_info()["workers"])
        here = TemplateScores(emb, identity, group, G, workers=workers)
        cpu = time.process_time()
        t_here1, want = _timed(here.score)
        thr = _thresholds(want.impostor_hist)
        t_here2, want2 = _timed(lambda: here.count_impostors(thr, pair_thresholds=thr))
        cpu_here = time.process_time() - cpu
        # CPU seconds of every process on the Dask path: this one (client, scheduler of a
        # LocalCluster, the reduction) and the workers; robust to a machine shared with others
        def cluster_cpu() -> float:
            return time.process_time() + sum(client.run(time.process_time).values())

        # what the cluster's processes burn doing nothing (event loops, heartbeats): CPU
        # seconds per wall second, subtracted below to show the cost of the work itself
        idle, t0 = cluster_cpu(), time.perf_counter()
        time.sleep(5)
        idle_rate = (cluster_cpu() - idle) / (time.perf_counter() - t0)
        cpu = cluster_cpu()
        there = DaskScores(client, emb, identity, group, G)
        t_there1, got = _timed(there.score)
        t_there2, got2 = _timed(lambda: there.count_impostors(thr, pair_thresholds=thr))
        cpu_there = cluster_cpu() - cpu
        peaks = client.run(_worker_peak_gib)
        block = client.submit(_block_cost, thr, pure=False).result()
    assert np.array_equal(got.impostor_hist, want.impostor_hist)
    assert got.genuine_scores.tobytes() == want.genuine_scores.tobytes()
    assert all(np.array_equal(a, b) for a, b in zip(got2[:2], want2[:2], strict=True))
    n = len(emb)
    return {
        "label": label, "n": n, "blocks": len(here.blocks), "workers": workers,
        "here": (t_here1, t_here2), "there": (t_there1, t_there2),
        "cpu_here": cpu_here, "cpu_there": cpu_there, "idle_rate": idle_rate,
        "worker_peak_gib": max(peaks.values()), "block": block,
    }


def print_cluster_header(address: str) -> None:
    print(f"Dask path ({address}) against the in-process scorer on as many threads; "
          "results equal bit for bit\n")
    print("| input | templates | blocks | in-process pass 1 + 2 (s) | Dask pass 1 + 2 (s) "
          "| wall Dask / in-process | CPU s in-process | CPU s Dask (all processes) "
          "| CPU Dask / in-process | the same less idle background | worker peak RSS (GiB) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|", flush=True)


def print_cluster_row(r: dict) -> None:
    here, there = sum(r["here"]), sum(r["there"])
    print(f"| {r['label']} | {r['n']:,} | {r['blocks']:,} | {r['here'][0]:.1f} + "
          f"{r['here'][1]:.1f} | {r['there'][0]:.1f} + {r['there'][1]:.1f} | "
          f"{there / here:.2f}x | {r['cpu_here']:.1f} | {r['cpu_there']:.1f} | "
          f"{r['cpu_there'] / r['cpu_here']:.2f}x | "
          f"{(r['cpu_there'] - r['idle_rate'] * there) / r['cpu_here']:.2f}x "
          f"({r['idle_rate']:.3f} CPU s/s idle) | {r['worker_peak_gib']:.2f} |", flush=True)


def print_plan(rows: list[dict]) -> None:
    b = rows[-1]["block"]
    per_block = b["pass1_s"] + b["pass2_s"]
    n6 = 1_000_000
    blocks6 = (n6 // BLOCK + 1) * (n6 // BLOCK + 2) // 2
    cpu_h = blocks6 * per_block / 3600
    templates_gib = n6 * (128 * 4 + 4 * 8) / 2**30
    print(f"\none {BLOCK} x {BLOCK} block on a worker: pass 1 {b['pass1_s']:.3f} CPU s "
          f"({b['pass1_bytes'] / 1024:.0f} KiB back), pass 2 {b['pass2_s']:.3f} CPU s "
          f"({b['pass2_bytes'] / 1024:.0f} KiB back)")
    print(f"10^6 templates: {blocks6:,} blocks per pass, {cpu_h:.1f} worker-thread hours for "
          f"both passes; on 32 single-thread workers {cpu_h / 32:.2f} h, on 128 "
          f"{cpu_h / 128:.2f} h; templates on every worker {templates_gib:.2f} GiB; pass-1 "
          f"results to the client {blocks6 * b['pass1_bytes'] / 2**30:.1f} GiB in all")


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
    ap.add_argument("--n", type=int, default=13_233,
                    help="synthetic templates for the side-by-side timing (LFW's 13,233)")
    ap.add_argument("--repeat", type=int, default=2, help="best of this many warm runs")
    ap.add_argument("--table-rows", type=int, default=0, help="exact scores-table run, N rows")
    ap.add_argument("--identification", action="store_true",
                    help="time the 1:N identification audit against the exhaustive 1:1 audit")
    ap.add_argument("--cluster", help="Dask address (local:N): Dask path vs in-process")
    ap.add_argument("--cluster-n", type=int, default=200_000,
                    help="synthetic templates for the cluster comparison (0: skip)")
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
        from faceaudit.engine.embed_files import embed_dataset

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
        n_ids = max(2, round(args.n * 5_749 / 13_233))
        emb, identity, group = synthetic(args.n, n_ids)
        source = f"synthetic {args.n:,} x 128, {n_ids:,} identities"
        if args.identification:
            from faceaudit.audit import inputs

            e = inputs.Embeddings(paths=[f"{i}/{k}.jpg" for k, i in enumerate(identity)],
                                  identities=[str(i) for i in identity], matrix=emb,
                                  backend_id=None, no_face_paths=[], model_sha256=None)
            attributes = inputs.Attributes("identity", {str(i): {"sex": str(group[k])}
                                           for k, i in enumerate(identity)}, ["sex"])
            identification_vs_exhaustive(e, attributes, "sex", source)
            return
    if args.cluster:
        label = "LFW" if args.lfw else "embeddings" if args.embeddings else "LFW-shaped synthetic"
        print_cluster_header(args.cluster)
        rows = [cluster_compare(emb, identity, group, args.cluster, label)]
        print_cluster_row(rows[-1])
        if args.cluster_n:
            big = synthetic(args.cluster_n, args.cluster_n // 3)
            rows.append(cluster_compare(*big, args.cluster, "synthetic"))
            print_cluster_row(rows[-1])
        print_plan(rows)
        return
    n = len(emb)
    pairs = n * (n - 1) // 2
    scorer = TemplateScores(emb, identity, group, int(group.max()) + 1, workers=args.workers)
    t_compile = warm_kernels(scorer)
    paths = [("reference (numpy)", False)] + ([("fused kernel (numba)", True)]
                                              if fused.AVAILABLE else [])
    scores: dict = {}
    with fused.use(False):
        thr = _thresholds(scorer.score().impostor_hist)
    wall: dict = {}
    cpu: dict = {}

    def timed(key, fn) -> None:
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        t, c = time.perf_counter() - t0, time.process_time() - c0
        wall[key], cpu[key] = min(wall.get(key, t), t), min(cpu.get(key, c), c)

    # rounds interleave every step, so that a load from other processes falls on all alike
    for _ in range(args.repeat):
        timed("bare", lambda: bare_blocks(scorer))
        for name, on in paths:
            with fused.use(on):
                timed((1, name), lambda: scores.update(s=scorer.score()))
                timed((2, name), lambda: scorer.count_impostors(thr))
    t_bare, c_bare = wall["bare"], cpu["bare"]
    t_pass1 = {name: wall[1, name] for name, _ in paths}
    t_pass2 = {name: wall[2, name] for name, _ in paths}
    if len(t_pass1) == 2:
        check_equal(scorer, thr)
    print(f"input: {source}; {n:,} templates, {pairs:,} comparisons; workers={scorer.workers}; "
          f"numba threads per worker={max(1, fused.threads() // scorer.workers)}; "
          f"best of {args.repeat}\n")
    if fused.AVAILABLE:
        print(f"kernels compiled or loaded from cache in {t_compile:.1f} s (not in the times)\n")
    print("| step | wall (s) | wall vs bare | CPU s (all threads) | CPU vs bare | target: "
          "met in wall / in CPU s |")
    print("|---|---|---|---|---|---|")
    print(f"| bare blockwise E @ E.T (the scorer's blocks, one BLAS thread per worker) "
          f"| {t_bare:.3f} | 1.00x | {c_bare:.3f} | 1.00x | |")
    for p, label, times, target in (
            (1, "pass 1: per-group histograms + genuine scores", t_pass1, 1.3),
            (2, "pass 2: per-identity counts at 3 thresholds", t_pass2, 1.2)):
        for name, t in times.items():
            ratio, c_ratio = t / t_bare, cpu[p, name] / c_bare

            def met(r: float, target: float = target) -> str:
                return "met" if r <= target else "not met"

            print(f"| {label}, {name} | {t:.3f} | {ratio:.2f}x | {cpu[p, name]:.3f} | "
                  f"{c_ratio:.2f}x | <= {target}x: {met(ratio)} / {met(c_ratio)} |")
    if len(t_pass1) == 2:
        print("\nfused kernel and reference: histograms, genuine scores and pass-2 counts equal "
              "bit for bit")
    if args.naive_n:
        t_naive = naive_per_pair(emb, identity, group, args.naive_n) * pairs
        t_full = min(t_pass1.values()) + min(t_pass2.values())
        print(f"\nnaive per-pair pandas table (timed on {args.naive_n:,} templates, "
              f"extrapolated): {t_naive:.1f} s, {t_naive / t_full:.0f}x the faster scorer")
    if args.large_n:
        peak = (
            subprocess.run([sys.executable, __file__, "--large", str(args.large_n)],
                           capture_output=True, text=True, check=True)
            .stdout.strip().splitlines()[-2].split(",")
        )
        print_large(peak)


def print_large(row: list[str]) -> None:
    """One line for a ``large`` CSV row: the whole audit's time beside the bare product's."""
    n, t, peak, t_bare = int(row[1]), float(row[2]), float(row[3]), float(row[4])
    t1, t2 = float(row[5]), float(row[6])
    print(f"{n:,} synthetic templates, whole audit (pass 1, pass 2, bootstrap of 1,000, every "
          f"section): {t:.1f} s, {t / t_bare:.2f}x the bare blockwise product ({t_bare:.1f} s); "
          f"of it pass 1 {t1:.1f} s ({t1 / t_bare:.2f}x), pass 2 {t2:.1f} s ({t2 / t_bare:.2f}x), "
          f"the rest (bootstrap, rates, sections) {t - t1 - t2:.1f} s; peak RSS {peak:.2f} GiB")


def best_of(repeat: int, fn) -> float:
    """Best wall time of ``repeat`` warm runs of ``fn``."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def bare_blocks(scorer: TemplateScores) -> None:
    """Only the scorer's block products, on its threads (what binning must keep up with)."""
    for _ in scorer._map(_product_only):
        pass


def _product_only(data, a: int, b: int) -> None:
    data.product(a, b)


def warm_kernels(scorer: TemplateScores) -> float:
    """Compile (or load from numba's cache) both kernels on one small block; seconds taken."""
    from faceaudit.audit.scoring import pass1_fused, pass2_fused

    if not fused.AVAILABLE:
        return 0.0
    t0 = time.perf_counter()
    thr = np.array([10_000, 15_000])
    pass1_fused(scorer.data, 0, 0)
    pass2_fused(scorer.data, 0, 0, thr, thr)
    pass2_fused(scorer.data, 0, 0, thr, None)
    return time.perf_counter() - t0


def check_equal(scorer: TemplateScores, thr: np.ndarray) -> None:
    """Both paths give the same counts, bit for bit (else the bench stops)."""
    out = {}
    for on in (False, True):
        with fused.use(on):
            s = scorer.score()
            out[on] = (s, scorer.count_impostors(thr, pair_thresholds=thr))
    (s0, c0), (s1, c1) = out[False], out[True]
    assert np.array_equal(s0.impostor_hist, s1.impostor_hist)
    assert s0.genuine_scores.tobytes() == s1.genuine_scores.tobytes()
    assert all(np.array_equal(x, y) for x, y in zip(c0[:2], c1[:2], strict=True))
    assert c0[2] is not None and c1[2] is not None
    assert np.array_equal(c0[2].matches, c1[2].matches)

if __name__ == "__main__":
    main()
