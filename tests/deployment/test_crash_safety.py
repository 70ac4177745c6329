"""Crash safety: four processes enrol at once, one is SIGKILLed mid-write, repeatedly."""

from __future__ import annotations

import random
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np

from faceaudit import api
from faceaudit.deployment.operations import Deployment
from faceaudit.ledger import Ledger

WORKER = Path(__file__).with_name("enrol_worker.py")
PER_WORKER = 12
ROUNDS = 3


def test_sigkill_during_concurrent_enrolment_loses_nothing_that_succeeded(home, mdtf, tmp_path):
    embeddings = np.stack([
        api.face_embeddings(api.load_image(mdtf / f"{i}.png"))[1][0] for i in range(1, 7)
    ])
    npy = tmp_path / "templates.npy"
    np.save(npy, embeddings)
    rng = random.Random(4)
    succeeded: set[str] = set()
    killed = 0
    for round_ in range(ROUNDS):
        procs = [
            subprocess.Popen(
                [sys.executable, str(WORKER), str(home.root), str(npy), f"{round_}{w}",
                 str(PER_WORKER)],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            )
            for w in range(4)
        ]
        victim = procs[rng.randrange(4)]
        seen = [victim.stdout.readline() for _ in range(rng.randint(1, 6))]
        victim.send_signal(signal.SIGKILL)
        for proc in procs:
            out, err = proc.communicate(timeout=120)
            lines = (seen + out.splitlines()) if proc is victim else out.splitlines()
            succeeded |= {line.split()[1] for line in lines if line.startswith("OK ")}
            if proc is victim:
                killed += proc.returncode == -signal.SIGKILL
            else:
                assert proc.returncode == 0, err
    assert killed == ROUNDS  # each victim died mid-run, not after finishing
    with sqlite3.connect(home.db_path) as con:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    report = Ledger(home).verify()
    assert report.ok, report.reason
    enrolled = {s["subject_id"] for s in Deployment(home).list_subjects()}
    assert succeeded <= enrolled
    assert len(succeeded) >= ROUNDS * 3 * PER_WORKER
    events = [e for e in Ledger(home).events() if e["action"] == "enrol"]
    logged = {e["result"]["subject_id"] for e in events}
    assert succeeded <= logged
