"""What binding the gallery to the ledger costs (issue 21, attack 5): at 10^4 and 10^6
templates, the per-operation checks (the candidates' rows against their enrol events'
commitments, which identify and verify run; the row counts against the record, which every
operation runs), the store write of an enrolment (which reads back its rows to commit to them),
and what a process pays once: verifying the ledger against its newest signed head, reading the
record of every enrolment and checking every subject's rows.

The gallery is written through ``GalleryStore.enrol`` (the deployment's own write path, with its
commitments) and its ``enrol`` events are appended in batches (``Ledger.append_many``), so a
10^6-template home builds in minutes instead of one fsynced operation per subject.

    .venv/bin/python bench/store_binding.py                       # 10^4 and 10^6 templates
    .venv/bin/python bench/store_binding.py --sizes 10000,100000 --per-subject 25
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from faceaudit.base.home import Home
from faceaudit.deployment.gallery_record import (
    GalleryRecord,
    check_census,
    check_every_subject,
    check_subjects,
)
from faceaudit.gallery.records import Consent, NewTemplate
from faceaudit.gallery.store import SqliteGalleryStore
from faceaudit.gallery.synthetic import synthetic_gallery
from faceaudit.ledger import Ledger
from faceaudit.ledger.genesis import init_home
from faceaudit.ledger.schema import event

BACKEND = "dlib-resnet:1"


def ms(values: list[float]) -> str:
    """p50 and p99 of ``values`` (seconds) in milliseconds."""
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
    return f"p50 {statistics.median(ordered) * 1e3:.2f} ms, p99 {p99 * 1e3:.2f} ms"


def build(root: Path, n: int, per_subject: int) -> tuple[Home, list[str], list[float]]:
    """A home with ``n`` templates, ``per_subject`` per subject, each enrolment recorded."""
    home = init_home(root / "home")
    store = SqliteGalleryStore(home.db_path)
    ledger = Ledger(home)
    now = datetime.now(UTC)
    embeddings, _, _ = synthetic_gallery(n, n_probes=1, seed=0)
    subjects, writes, batch = [], [], []
    for start in range(0, n, per_subject):
        subject = f"s{start // per_subject:07d}"
        consent = Consent("consent", f"form-{subject}", now)
        t0 = time.perf_counter()
        written = store.enrol(subject, display_name=None, consent=consent, backend_id=BACKEND,
                              templates=[NewTemplate(v) for v in
                                         embeddings[start: start + per_subject]],
                              images=[], now=now)
        writes.append(time.perf_counter() - t0)
        subjects.append(subject)
        batch.append(event("bench", "enrol", legal_basis="consent", backend_id=BACKEND, result={
            "subject_id": subject, "templates": len(written.template_ids),
            "template_commitments": [list(t) for t in written.template_commitments],
            "consent_commitment": written.consent_commitment}))
        if len(batch) == 1000:
            ledger.append_many(batch)
            batch = []
        if len(subjects) % 20_000 == 0:
            print(f"  {len(subjects) * per_subject:,}/{n:,} templates", file=sys.stderr,
                  flush=True)
    if batch:
        ledger.append_many(batch)
    return home, subjects, writes


def bench(n: int, per_subject: int, checks: int, rng: random.Random) -> None:
    """Build a gallery of ``n`` templates and print what the binding costs at that size."""
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        home, subjects, writes = build(Path(tmp), n, per_subject)
        print(f"{n:,} templates ({len(subjects):,} subjects) built in "
              f"{time.perf_counter() - t0:.0f} s; enrolment store write (with its row "
              f"commitments): {ms(writes)}")
        ledger = Ledger(home)
        t0 = time.perf_counter()
        events = ledger.check()
        verified = time.perf_counter() - t0
        record = GalleryRecord(ledger)
        t0 = time.perf_counter()
        record.current()
        read = time.perf_counter() - t0
        print(f"  once per process: ledger of {events:,} events verified in {verified:.2f} s, "
              f"the gallery's record read in {read:.2f} s")
        store = SqliteGalleryStore(home.db_path)
        times = []
        for _ in range(checks):
            candidates = rng.sample(subjects, 10)
            t0 = time.perf_counter()
            check_subjects(store, record, candidates)
            times.append(time.perf_counter() - t0)
        print(f"  per identify (10 candidate subjects, {10 * per_subject} templates checked): "
              f"{ms(times)}")
        t0 = time.perf_counter()
        check_every_subject(store, record)
        print(f"  once per process: every subject's rows checked in "
              f"{time.perf_counter() - t0:.2f} s")
        times = []
        for _ in range(checks):
            t0 = time.perf_counter()
            check_census(store, record)
            times.append(time.perf_counter() - t0)
        print(f"  per operation (the row counts against the record): {ms(times)}")


def main() -> None:
    """Run the benchmark for each ``--sizes``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,1000000")
    parser.add_argument("--checks", type=int, default=500)
    parser.add_argument("--per-subject", type=int, default=5,
                        help="templates per subject (one enrolment each: its store write is "
                             "fsynced, so 10^6 templates at 5 per subject take about an hour)")
    args = parser.parse_args()
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}, numpy {np.__version__}")
    rng = random.Random(0)
    for n in (int(s) for s in args.sizes.split(",")):
        bench(n, args.per_subject, args.checks, rng)


if __name__ == "__main__":
    main()
