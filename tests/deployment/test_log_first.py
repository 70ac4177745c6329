"""Log first, or not at all: the gallery and the ledger agree whatever step fails.

Each operation writes an ``intent`` event, commits the store together with the outcome it owes
the ledger, then appends the outcome. These tests make the ledger fail at every step — too-long
fields, a tampered ledger, an ``OSError`` from the disk, SIGKILL between the steps — and check
that the store and the ledger agree afterwards (after the recovery a Deployment runs on open) —
on the home's SQLite/files and on PostgreSQL (every test runs on both).
"""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys

import numpy as np
import psycopg
import pytest
from ledger_raw import read_raw, write_raw

from faceaudit.base.home import Home
from faceaudit.deployment.operations import Deployment
from faceaudit.deployment.oplog import OperationLog
from faceaudit.deployment.reviews import TaskRef
from faceaudit.gallery import InvalidRequestError
from faceaudit.gallery.store import open_gallery_store
from faceaudit.ledger import Ledger
from faceaudit.ledger.errors import LedgerTamperedError
from faceaudit.ledger.genesis import init_home

LONG = "x" * 1100
BACKEND = "dlib-resnet:1"
OUTCOMES = {"enrol", "erase", "purge", "identify", "review", "aborted"}


@pytest.fixture
def home(tmp_path, database_url) -> Home:
    """An empty deployment home, its gallery and ledger in files or in PostgreSQL."""
    return init_home(tmp_path / "home", database_url)


def open_claims(home: Home) -> int:
    """How many operations are still claimed (claim files, or rows of ``intents``)."""
    url = home.database_url_in_force()
    if url is None:
        return len(list((home.root / "intents").glob("*")))
    with psycopg.connect(url) as con:
        return con.execute("SELECT count(*) FROM intents").fetchone()[0]


def unit(seed: int) -> np.ndarray:
    vector = np.random.default_rng(seed).standard_normal(128).astype(np.float32)
    return vector / np.linalg.norm(vector)


def enrol(deployment: Deployment, subject: str, seed: int = 0, **kwargs) -> dict:
    return deployment.enrol_templates(
        actor="clerk", subject_id=subject, backend_id=BACKEND, embeddings=unit(seed)[None],
        basis="consent", evidence=f"form-{subject}", **kwargs)


def assert_store_and_ledger_agree(home: Home) -> None:
    """Every intent has exactly one outcome; nothing is pending; the subjects in the store
    are exactly those the ledger says were enrolled and not erased since."""
    events = list(Ledger(home).events())
    intents = {e["result"]["intent_id"] for e in events if e["action"] == "intent"}
    outcomes: dict[str, int] = {}
    for e in events:
        if e["action"] in OUTCOMES and e["result"].get("intent_id"):
            outcomes[e["result"]["intent_id"]] = outcomes.get(e["result"]["intent_id"], 0) + 1
    assert set(outcomes) == intents, "an intent without outcome, or an outcome without intent"
    assert all(n == 1 for n in outcomes.values())
    live: set[str] = set()
    for e in events:
        if e["action"] == "enrol":
            live.add(e["result"]["subject_id"])
        elif e["action"] == "erase":
            live.discard(e["result"]["subject_id"])
        elif e["action"] == "purge":
            live -= set(e["result"]["subject_ids"])
    store = open_gallery_store(home)
    assert {s["subject_id"] for s in store.list_subjects()} == live
    assert store.pending_intent_ids() == []
    assert open_claims(home) == 0
    assert Ledger(home).verify().ok


def tamper(home: Home) -> None:
    """Edit the last event in place (a changed count), as an insider with file access would."""
    ledger = Ledger(home)
    data = read_raw(ledger)
    last = data.rstrip(b"\n").rsplit(b"\n", 1)[-1]
    write_raw(ledger, data.replace(last, last.replace(b'"seq":', b'"seq": ')))


# -- bad input: a 4xx before anything is stored or logged --------------------------------------


def test_too_long_fields_are_refused_before_the_store_or_ledger_is_touched(deployment, mdtf):
    enrol(deployment, "s-1")
    before = list(Ledger(deployment.home).events())
    with pytest.raises(InvalidRequestError, match="evidence"):
        deployment.enrol_templates(actor="clerk", subject_id="s-long", backend_id=BACKEND,
                                   embeddings=unit(1)[None], basis="consent", evidence=LONG)
    with pytest.raises(InvalidRequestError, match="evidence"):
        deployment.enrol(actor="clerk", subject_id="s-long", images=[mdtf / "1.png"],
                         basis="consent", evidence=LONG)
    with pytest.raises(InvalidRequestError, match="purpose"):
        deployment.erase(actor="dpo", subject_id="s-1", purpose=LONG)
    with pytest.raises(InvalidRequestError, match="purpose"):
        deployment.identify(actor="officer", image=mdtf / "2.png", purpose=LONG, case="c")
    with pytest.raises(InvalidRequestError, match="case"):
        deployment.verify(actor="officer", image_a=mdtf / "2.png", subject_id="s-1",
                          purpose="p", case=LONG)
    with pytest.raises(InvalidRequestError, match="actor"):
        deployment.erase(actor=LONG, subject_id="s-1")
    assert [s["subject_id"] for s in deployment.list_subjects()] == ["s-1"]
    assert list(Ledger(deployment.home).events()) == before
    with deployment.store.storage.read() as con:
        assert con.execute("SELECT count(*) FROM results").fetchone()[0] == 0
    assert_store_and_ledger_agree(deployment.home)


# -- a damaged ledger stops every operation before it acts -------------------------------------


def test_a_tampered_ledger_stops_every_operation_before_it_acts(deployment, mdtf):
    enrol(deployment, "s-1")
    result = deployment.identify(actor="officer", image=mdtf / "2.png", purpose="p", case="c")
    tamper(deployment.home)
    frozen = read_raw(Ledger(deployment.home))
    attempts = [
        lambda: enrol(deployment, "s-2", seed=2),
        lambda: deployment.erase(actor="dpo", subject_id="s-1"),
        lambda: deployment.purge(actor="dpo"),
        lambda: deployment.identify(actor="officer", image=mdtf / "2.png", purpose="p",
                                    case="c"),
        lambda: deployment.review(actor="sgt-b", decision="confirm", ref=TaskRef(
            result_id=result["result_id"], face=0, subject_id="s-1")),
    ]
    for attempt in attempts:
        with pytest.raises(LedgerTamperedError):
            attempt()
    with pytest.raises(LedgerTamperedError):  # listing the gallery is refused too
        deployment.list_subjects()
    assert [s["subject_id"] for s in deployment.store.list_subjects()] == ["s-1"]
    # reading the result is refused too (fail closed); the store itself is unchanged
    stored = deployment.store.get_result(result["result_id"])
    assert all(t["decisions"] == [] for t in stored["tasks"])
    with deployment.store.storage.read() as con:
        assert con.execute("SELECT count(*) FROM results").fetchone()[0] == 1
    assert read_raw(Ledger(deployment.home)) == frozen


# -- a full disk at each step -------------------------------------------------------------------


def _failing_append(monkeypatch, fail_on: int) -> None:
    """Make the ``fail_on``-th ledger append of this test raise ENOSPC (a full disk)."""
    original = Ledger.append
    calls = {"n": 0}

    def append(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == fail_on:
            raise OSError(errno.ENOSPC, "No space left on device")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Ledger, "append", append)


@pytest.mark.parametrize("operation", ["enrol", "erase"])
@pytest.mark.parametrize("fail_on", [1, 2], ids=["intent", "outcome"])
def test_a_full_disk_at_any_append_leaves_store_and_ledger_agreeing(
    deployment, monkeypatch, operation, fail_on
):
    enrol(deployment, "s-1")
    _failing_append(monkeypatch, fail_on)
    with pytest.raises(OSError, match="No space"):
        if operation == "enrol":
            enrol(deployment, "s-2", seed=2)
        else:
            deployment.erase(actor="dpo", subject_id="s-1")
    monkeypatch.undo()
    subjects = {s["subject_id"] for s in deployment.list_subjects()}
    if fail_on == 1:  # the intent could not be logged: nothing happened
        assert subjects == {"s-1"}
    else:  # committed with its outcome pending: the next open rolls it forward
        assert subjects == ({"s-1", "s-2"} if operation == "enrol" else set())
    recovered = Deployment(deployment.home, calibration=deployment.calibration).recover
    assert recovered() == []  # the open already reconciled it
    if fail_on == 2:
        last = list(Ledger(deployment.home).events())[-1]
        assert last["action"] == operation and last["result"]["recovered"] is True
    assert_store_and_ledger_agree(deployment.home)


def test_a_failed_store_write_is_recorded_as_aborted(deployment, monkeypatch):
    enrol(deployment, "s-1")

    def broken(*args, **kwargs):
        raise OSError(errno.EIO, "I/O error")

    monkeypatch.setattr(type(deployment.store), "enrol", broken)
    with pytest.raises(OSError):
        enrol(deployment, "s-2", seed=2)
    last = list(Ledger(deployment.home).events())[-1]
    assert last["action"] == "aborted" and last["result"]["operation"] == "enrol"
    assert last["result"]["reason"] == "OSError"
    monkeypatch.undo()
    assert_store_and_ledger_agree(deployment.home)


# -- SIGKILL between the steps ------------------------------------------------------------------

KILLER = """
import os, signal, sys
import numpy as np
from faceaudit.engine.calibration import Calibration
from faceaudit.deployment.operations import Deployment
from faceaudit.gallery.store import open_gallery_store
from faceaudit.base.home import Home
from faceaudit.ledger import Ledger
from pathlib import Path

home, operation, step = sys.argv[1:4]
Store = type(open_gallery_store(Home(Path(home))))  # SQLite, or PostgreSQL per the home

def die(*a, **k):
    os.kill(os.getpid(), signal.SIGKILL)

if step == "before-intent":
    Ledger.append = die
elif step == "before-commit":
    setattr(Store, operation, die)
elif step == "after-commit":
    original = getattr(Store, operation)
    def commit_then_die(self, *a, **k):
        original(self, *a, **k)
        die()
    setattr(Store, operation, commit_then_die)
elif step == "after-outcome":
    Store.clear_intent = die
calibration = Calibration(backend_id="dlib-resnet:1", threshold=np.array([0.0, 0.92, 1.0]),
                          fmr=np.array([1.0, 1e-3, 1e-7]), n_impostor=10**8, source="tests")
from pathlib import Path
d = Deployment(Home(Path(home)), calibration=calibration)
if operation == "enrol":
    v = np.zeros(128, np.float32); v[7] = 1.0
    d.enrol_templates(actor="clerk", subject_id="s-2", backend_id="dlib-resnet:1",
                      embeddings=v[None], basis="consent", evidence="form-2")
else:
    d.erase(actor="dpo", subject_id="s-1")
sys.exit(3)
"""

STEPS = ["before-intent", "before-commit", "after-commit", "after-outcome"]


@pytest.mark.parametrize("operation", ["enrol", "erase"])
@pytest.mark.parametrize("step", STEPS)
def test_sigkill_between_the_steps_is_reconciled_on_the_next_open(
    deployment, operation, step
):
    enrol(deployment, "s-1")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.run([sys.executable, "-c", KILLER, str(deployment.home.root), operation,
                           step], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    committed = step in ("after-commit", "after-outcome")
    Deployment(deployment.home, calibration=deployment.calibration)  # recovery on open
    subjects = {s["subject_id"] for s in deployment.list_subjects()}
    if operation == "enrol":
        assert subjects == ({"s-1", "s-2"} if committed else {"s-1"})
    else:
        assert subjects == (set() if committed else {"s-1"})
    events = list(Ledger(deployment.home).events())
    if step == "before-commit":
        assert events[-1]["action"] == "aborted"
        assert events[-1]["result"]["reason"] == "interrupted"
    if step == "after-commit":
        assert events[-1]["action"] == operation and events[-1]["result"]["recovered"] is True
    assert_store_and_ledger_agree(deployment.home)


def test_recovery_leaves_operations_in_flight_alone(deployment):
    """Another process's operation between intent and outcome is not 'crashed'."""
    oplog = OperationLog(deployment.home, deployment.ledger, deployment.store)
    with oplog.claims.claim("f" * 32, "enrol", "clerk"):
        deployment.ledger.append("clerk", "intent",
                                 result={"intent_id": "f" * 32, "operation": "enrol"})
        assert Deployment(deployment.home, calibration=deployment.calibration).recover() == []
        assert list(Ledger(deployment.home).events())[-1]["action"] == "intent"
        assert "f" * 32 in oplog.claims.recover(lambda *_: [])[1]  # seen, still in flight
    # its owner died without resolving it: now the next open records it as aborted
    reopened = Deployment(deployment.home, calibration=deployment.calibration)
    last = list(Ledger(reopened.home).events())[-1]
    assert last["action"] == "aborted" and last["result"]["intent_id"] == "f" * 32
    assert_store_and_ledger_agree(deployment.home)


def test_cli_enrol_with_too_long_evidence_stores_nothing(home, mdtf):
    from typer.testing import CliRunner

    from faceaudit.cli import app

    args = ["--home", str(home.root)]
    result = CliRunner().invoke(app, ["gallery", "enrol", str(mdtf / "2.png"), "--subject",
                                      "s-long", "--basis", "consent", "--evidence", LONG, *args])
    assert result.exit_code == 2 and "evidence" in result.stderr
    listed = CliRunner().invoke(app, ["gallery", "list", "--json", *args])
    assert json.loads(listed.stdout) == []
    assert [e["action"] for e in Ledger(home).events()] == ["init"]
    assert open_gallery_store(home).list_subjects() == []


def test_cli_on_a_tampered_ledger_exits_4_and_does_nothing(home, mdtf):
    """The README's exit code 4 (ledger tampered) for every deployment command, not 2."""
    from typer.testing import CliRunner

    from faceaudit.cli import app

    args = ["--home", str(home.root)]
    enrolled = CliRunner().invoke(app, ["gallery", "enrol", str(mdtf / "1.png"), "--subject",
                                        "s-1", "--basis", "consent", "--evidence", "e", *args])
    assert enrolled.exit_code == 0, enrolled.stderr
    tamper(home)
    frozen = read_raw(Ledger(home))
    for command in (["gallery", "enrol", str(mdtf / "3.png"), "--subject", "s-2", "--basis",
                     "consent", "--evidence", "e"],
                    ["gallery", "erase", "s-1"],
                    ["identify", str(mdtf / "2.png"), "--purpose", "p", "--case", "c"]):
        result = CliRunner().invoke(app, [*command, *args])
        assert result.exit_code == 4, (command, result.stderr)
        assert len(result.stderr.strip().splitlines()) == 1 and "ledger" in result.stderr
    assert [s["subject_id"] for s in open_gallery_store(home).list_subjects()] == ["s-1"]
    assert read_raw(Ledger(home)) == frozen


def test_a_running_process_heals_before_its_next_operation(deployment, monkeypatch):
    """The service does not restart after a full disk: its next operation rolls forward first."""
    enrol(deployment, "s-1")
    _failing_append(monkeypatch, 2)  # the outcome of the next enrolment cannot be written
    with pytest.raises(OSError):
        enrol(deployment, "s-2", seed=2)
    monkeypatch.undo()
    enrol(deployment, "s-3", seed=3)  # same Deployment, no reopen
    recovered = [e for e in Ledger(deployment.home).events() if e["result"] and
                 e["result"].get("recovered")]
    assert [e["result"]["subject_id"] for e in recovered] == ["s-2"]
    assert_store_and_ledger_agree(deployment.home)
