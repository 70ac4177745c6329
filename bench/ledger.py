"""Transparency-log proof cost at 10^6 events: inclusion and consistency proofs from the stored
Merkle tree (the files ``faceaudit ledger prove`` and the REST proofs read), their size, and
verification time; plus the cost of a real ledger append with its tree update.

The 10^6-leaf tree is built directly from synthetic leaves with the same ``StoredTree.append``
the ledger uses on every event (appending 10^6 events through ``Ledger.append``, each fsynced,
takes far longer than the proofs being measured); the append cost is measured separately on a
real ledger of ``--appends`` events.

    .venv/bin/python bench/ledger.py                     # 10^6 leaves, 1000 proofs of each kind
    .venv/bin/python bench/ledger.py --size 100000 --proofs 200 --appends 500 --verify-events 20000
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import random
import statistics
import tempfile
import time
from pathlib import Path

from faceaudit.base.home import Home
from faceaudit.ledger import Ledger, merkle
from faceaudit.ledger.tree import StoredTree


def build(directory: Path, size: int) -> tuple[StoredTree, float]:
    tree = StoredTree(directory)
    start = time.perf_counter()
    batch = 100_000
    for first in range(0, size, batch):
        tree.append(merkle.leaf_hash(hashlib.sha256(i.to_bytes(8, "big")).digest())
                    for i in range(first, min(size, first + batch)))
    return tree, time.perf_counter() - start


def ms(values: list[float]) -> str:
    values = sorted(values)
    p50 = statistics.median(values) * 1e3
    p99 = values[int(0.99 * (len(values) - 1))] * 1e3
    return f"p50 {p50:.3f} ms, p99 {p99:.3f} ms"


def bench_proofs(tree: StoredTree, size: int, n: int, rng: random.Random) -> None:
    root = tree.root(size)
    make, check, lengths = [], [], []
    for _ in range(n):
        index = rng.randrange(size)
        t0 = time.perf_counter()
        path = tree.inclusion(index, size)
        t1 = time.perf_counter()
        assert merkle.verify_inclusion(index, size, tree.leaf(index), path, root)
        t2 = time.perf_counter()
        make.append(t1 - t0)
        check.append(t2 - t1)
        lengths.append(len(path))
    print(f"inclusion proof  (tree of {size:,}): make {ms(make)}; verify {ms(check)}; "
          f"{max(lengths)} hashes = {32 * max(lengths)} bytes at most")
    make, check, lengths = [], [], []
    for _ in range(n):
        first = rng.randrange(1, size)
        t0 = time.perf_counter()
        path = tree.consistency(first, size)
        t1 = time.perf_counter()
        first_root = tree.root(first)
        t2 = time.perf_counter()
        assert merkle.verify_consistency(first, size, first_root, root, path)
        t3 = time.perf_counter()
        make.append(t1 - t0)
        check.append(t3 - t2)
        lengths.append(len(path))
    print(f"consistency proof (m random, n {size:,}): make {ms(make)}; verify {ms(check)}; "
          f"{max(lengths)} hashes = {32 * max(lengths)} bytes at most")


def bench_appends(directory: Path, n: int) -> None:
    led = Ledger(Home(directory / "home"))
    times = []
    for i in range(n):
        t0 = time.perf_counter()
        led.append("bench", "identify", purpose="p", case="c",
                   result={"result_id": f"r{i}", "candidates": 3})
        times.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    receipt = led.receipt(n)
    receipt_s = time.perf_counter() - t0
    print(f"ledger append with tree update and a signed head on every append ({n} events): "
          f"{ms(times)}; receipt of the last event {receipt_s * 1e3:.2f} ms "
          f"({len(receipt['audit_path'])} hashes)")


def bench_first_verify(directory: Path, n: int) -> None:
    """What the first append of a process costs on a ledger of ``n`` events: it verifies the
    whole ledger against the newest signed head before it signs (docs/ledger.md)."""
    from faceaudit.ledger.schema import event

    led = Ledger(Home(directory / "verify-home"))
    for first in range(0, n, 1000):
        led.append_many([event("bench", "enrol", result={"subject_id": f"s{i}"})
                         for i in range(first, min(n, first + 1000))])
    fresh = Ledger(Home(directory / "verify-home"))
    t0 = time.perf_counter()
    fresh.check()
    full = time.perf_counter() - t0
    t0 = time.perf_counter()
    fresh.append("bench", "enrol")
    after = time.perf_counter() - t0
    print(f"first check of a process on {n:,} events: {full:.2f} s "
          f"({full / n * 1e6:.1f} µs per event); the append after it {after * 1e3:.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--proofs", type=int, default=1000)
    parser.add_argument("--appends", type=int, default=1000)
    parser.add_argument("--verify-events", type=int, default=100_000,
                        help="events of the ledger whose first full verification is timed")
    args = parser.parse_args()
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}")
    rng = random.Random(0)
    with tempfile.TemporaryDirectory() as tmp:
        tree, seconds = build(Path(tmp) / "tree", args.size)
        stored = sum(p.stat().st_size for p in tree.directory.iterdir())
        print(f"stored tree of {args.size:,} leaves built in {seconds:.1f} s, "
              f"{stored / 2**20:.1f} MiB on disk")
        bench_proofs(tree, args.size, args.proofs, rng)
        bench_appends(Path(tmp), args.appends)
        bench_first_verify(Path(tmp), args.verify_events)


if __name__ == "__main__":
    main()
