"""1:N search latency per probe template, exact vs FAISS HNSW index, with recall@10.

Synthetic galleries of clustered 128-D unit vectors (faceaudit.gallery.synthetic), searched
through the same TemplateSearch class that `faceaudit identify` uses, top-10 with no score
threshold (the worst case: identify only ranks templates above the calibrated threshold).

    .venv/bin/python bench/identify.py                      # 10k, 100k, 1M
    .venv/bin/python bench/identify.py --sizes 10000,100000 --probes 100

Targets on 2 cores: exact 1M p50 < 50 ms; indexed 1M p50 < 5 ms at recall@10 >= 0.99.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np
from rich.progress import Progress

from faceaudit.gallery.search import TemplateSearch
from faceaudit.gallery.store import TemplateSet
from faceaudit.gallery.synthetic import synthetic_gallery

K = 10


def latencies(search: TemplateSearch, probes: np.ndarray) -> tuple[np.ndarray, list[set[int]]]:
    for probe in probes[:5]:  # warm-up
        search.search(probe, K)
    times, found = [], []
    for probe in probes:
        start = time.perf_counter()
        hits = search.search(probe, K)
        times.append(time.perf_counter() - start)
        found.append({h.template_id for h in hits})
    return np.asarray(times) * 1e3, found


def run(n: int, n_probes: int, seed: int, progress: Progress) -> dict:
    task = progress.add_task(f"{n:>9,} templates", total=4)
    embeddings, owners, probes = synthetic_gallery(n, n_probes=n_probes, seed=seed)
    templates = TemplateSet(np.arange(1, n + 1, dtype=np.int64), [f"s{o}" for o in owners],
                            embeddings, generation=0)
    progress.advance(task)
    exact = TemplateSearch(templates, index_min=n + 1)
    exact_ms, truth = latencies(exact, probes)
    del exact
    progress.advance(task)
    start = time.perf_counter()
    indexed = TemplateSearch(templates, index_min=0)
    build_s = time.perf_counter() - start
    progress.advance(task)
    index_ms, found = latencies(indexed, probes)
    progress.advance(task)
    recall = float(np.mean([len(t & f) / K for t, f in zip(truth, found, strict=True)]))
    return {
        "n": n,
        "exact_p50": np.percentile(exact_ms, 50), "exact_p99": np.percentile(exact_ms, 99),
        "index_p50": np.percentile(index_ms, 50), "index_p99": np.percentile(index_ms, 99),
        "recall": recall, "build_s": build_s,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000",
                        help="comma-separated gallery sizes (default 10k,100k,1M)")
    parser.add_argument("--probes", type=int, default=200, help="probe templates per size")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    with Progress(transient=True) as progress:
        rows = [run(n, args.probes, args.seed, progress) for n in sizes]
    print(f"1:N search, top-{K}, 128-D, {args.probes} probes; {platform.processor() or 'cpu'}, "
          f"{os.cpu_count()} cores\n")
    print("| templates | exact p50 ms | exact p99 ms | HNSW p50 ms | HNSW p99 ms | "
          "recall@10 | HNSW build s |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['n']:,} | {r['exact_p50']:.2f} | {r['exact_p99']:.2f} | "
              f"{r['index_p50']:.2f} | {r['index_p99']:.2f} | {r['recall']:.3f} | "
              f"{r['build_s']:.1f} |")


if __name__ == "__main__":
    main()
