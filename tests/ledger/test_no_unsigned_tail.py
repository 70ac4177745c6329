"""No unsigned tail (issue 21, attacks 3 and 4): every append is covered by a signed tree head
before it returns, the heads form their own chain, and a home whose ledger does not verify
against its newest head refuses every append — the ledger's own ``verify``, the next operation
and a witness that saw an earlier head each catch the insider.

The insider edits the storage (the home's files, or the PostgreSQL tables) with the project's
own hashing code (``faceaudit.ledger.canonical`` / ``merkle``) and without the private key:
the deployment's key lives outside the home here, as docs/ledger.md asks.
"""

from __future__ import annotations

import json
import shutil

import pytest
from ledger_raw import (
    read_raw,
    read_tree_heads_raw,
    rechain_raw,
    write_head_raw,
    write_tree_heads_raw,
)
from typer.testing import CliRunner

from faceaudit.base.home import Home
from faceaudit.cli import app
from faceaudit.ledger import Ledger, LedgerTamperedError
from faceaudit.ledger.canonical import canonical, event_hash
from faceaudit.ledger.genesis import init_home
from faceaudit.ledger.signing import generate_keypair

runner = CliRunner()
N = 12


@pytest.fixture
def setup(tmp_path, database_url, monkeypatch):
    """A home (files or PostgreSQL) whose key lives outside it, N events (an identify, then
    refusals and erasures at the tail), and a witness that saw the head of the first N-3."""
    if database_url is not None:
        monkeypatch.setenv("FACEAUDIT_DATABASE_URL", database_url)
    key = tmp_path / "keys" / "deployment.pem"
    generate_keypair(key, Home(tmp_path / "home").ensure().public_key_path)
    monkeypatch.setenv("FACEAUDIT_SIGNING_KEY", str(key))
    home = init_home(tmp_path / "home", database_url)  # the genesis event: event 1
    led = Ledger(home)
    for i in range(N - 4):
        led.append("alice", "identify", purpose="p", case="c",
                   result={"result_id": f"r{i}", "candidates": 2})
    pinned = tmp_path / "dpo" / "deployment.pub"
    pinned.parent.mkdir()
    shutil.copy(home.public_key_path, pinned)
    state = tmp_path / "dpo" / "witness"
    assert witness(state, home, "--public-key", pinned)[0] == 0
    led.append("alice", "refused", result={"rule": "no-purpose"})
    led.append("alice", "erase", result={"subject_id": "s1"})
    led.append("alice", "erase", result={"subject_id": "s2"})
    assert Ledger(home).verify().ok
    return home, state, tmp_path


def witness(state, home, *extra):
    result = runner.invoke(app, ["witness", "--json", "--state", str(state), "--home",
                                 str(home.root), *map(str, extra)])
    summary = json.loads(result.stdout) if result.stdout.strip() else None
    return result.exit_code, summary


def verify_cli(home):
    return runner.invoke(app, ["ledger", "verify", "--home", str(home.root)])


def lines_of(led: Ledger) -> list[bytes]:
    return read_raw(led).split(b"\n")[:-1]


def rewrite(led: Ledger, events: list[dict]) -> None:
    """The insider's consistent rewrite (:func:`ledger_raw.rechain_raw`)."""
    rechain_raw(led, events)


def refused_everywhere(home, state, witness_status: str | None, reason: str) -> None:
    """``ledger verify`` (exit 4), the next append and the witness all refuse."""
    report = Ledger(home).verify()
    assert not report.ok and reason in report.reason, report.reason
    assert verify_cli(home).exit_code == 4
    before = read_raw(Ledger(home))
    with pytest.raises(LedgerTamperedError):
        Ledger(home).append("alice", "identify", purpose="p", case="c")
    assert read_raw(Ledger(home)) == before  # nothing appended, nothing "repaired"
    if witness_status is not None:
        code, summary = witness(state, home)
        assert code == 4 and summary["status"] == witness_status, summary


def test_dropping_the_last_events_and_fixing_witness_and_tree(setup):
    home, state, _ = setup
    led = Ledger(home)
    events = [json.loads(line) for line in lines_of(led)][:-3]  # the refusal and erasures
    rewrite(led, events)
    refused_everywhere(home, state, "missing-prefix", "truncated")


def test_dropping_the_last_events_and_their_heads_is_caught_by_the_witness(setup):
    """Events and heads rolled back together: every remaining byte is as the deployment
    signed it at N-3 events; only a witness that saw a later head can tell (docs/ledger.md)."""
    home, state, _ = setup
    assert witness(state, home)[1]["status"] == "extended"  # the witness saw N
    led = Ledger(home)
    rewrite(led, [json.loads(line) for line in lines_of(led)][:-3])
    write_tree_heads_raw(led, read_tree_heads_raw(led)[:-3])
    code, summary = witness(state, home)
    assert code == 4 and summary["status"] == "rollback"


def test_editing_the_last_event_and_rehashing(setup):
    home, state, _ = setup
    led = Ledger(home)
    events = [json.loads(line) for line in lines_of(led)]
    events[-1]["result"] = {"subject_id": "someone-else"}
    rewrite(led, events)
    refused_everywhere(home, state, "fork", "history rewritten")


def test_appending_a_forged_event(setup):
    home, state, _ = setup
    led = Ledger(home)
    events = [json.loads(line) for line in lines_of(led)]
    forged = {**events[-1], "action": "audit", "actor": "auditor",
              "result": {"report_sha256": "ab" * 32, "passed": True}}
    rewrite(led, [*events, forged])
    refused_everywhere(home, state, "unsigned-tail", "covered by no signed tree head")


def test_deleting_the_heads_refuses_until_they_are_restored(setup):
    home, state, tmp_path = setup
    assert witness(state, home)[0] == 0  # the witness saw every head up to N
    led = Ledger(home)
    write_tree_heads_raw(led, [])
    refused_everywhere(home, state, "no-head", "no signed tree head")
    refused_everywhere(home, state, None, "no signed tree head")  # still, after an attempt
    result = runner.invoke(app, ["ledger", "restore-heads", str(state / "heads.jsonl"),
                                 "--home", str(home.root), "--actor", "dpo"])
    assert result.exit_code == 0, result.output
    report = Ledger(home).verify()
    assert report.ok and report.n_events == N + 1, report.reason
    recovery = list(Ledger(home).events())[-1]
    assert recovery["action"] == "ledger_recovery" and recovery["actor"] == "dpo"
    assert recovery["result"]["kind"] == "restore-heads"
    Ledger(home).append("alice", "identify", purpose="p", case="c")
    assert Ledger(home).verify().ok
    assert witness(state, home)[1]["status"] == "extended"


def test_deleting_every_head_and_rewriting_an_old_event(setup):
    home, state, _ = setup
    assert witness(state, home)[0] == 0
    led = Ledger(home)
    events = [json.loads(line) for line in lines_of(led)]
    events[2]["actor"] = "nobody"  # hide who searched
    rewrite(led, events)
    write_tree_heads_raw(led, [])
    refused_everywhere(home, state, "no-head", "no signed tree head")
    # the witness's copy does not launder it: the history is not what its newest head signed
    result = runner.invoke(app, ["ledger", "restore-heads", str(state / "heads.jsonl"),
                                 "--home", str(home.root)])
    assert result.exit_code == 4, result.output
    assert not Ledger(home).verify().ok


def test_deleting_the_newer_heads_and_rewriting_what_they_covered(setup):
    home, state, _ = setup
    assert witness(state, home)[0] == 0  # the witness saw N
    led = Ledger(home)
    events = [json.loads(line) for line in lines_of(led)]
    for event in events[-3:]:
        event["actor"] = "nobody"
    rewrite(led, events)
    write_tree_heads_raw(led, read_tree_heads_raw(led)[:-3])
    refused_everywhere(home, state, "rollback", "covered by no signed tree head")


def test_a_reordered_head_chain_is_refused(setup):
    home, state, _ = setup
    led = Ledger(home)
    heads = read_tree_heads_raw(led)
    heads[3], heads[4] = heads[4], heads[3]
    write_tree_heads_raw(led, heads)
    refused_everywhere(home, state, None, "head chain broken")


# -- crashes: a head stored before its events, completed from ledger.pending ---------------


@pytest.fixture
def file_home(tmp_path, monkeypatch):
    key = tmp_path / "keys" / "deployment.pem"
    generate_keypair(key, Home(tmp_path / "home").ensure().public_key_path)
    monkeypatch.setenv("FACEAUDIT_SIGNING_KEY", str(key))
    home = init_home(tmp_path / "home")
    led = Ledger(home)
    for i in range(4):
        led.append("alice", "erase", result={"subject_id": f"s{i}"})
    return home


def crash_after_the_head(led: Ledger) -> bytes:
    """The state a SIGKILL leaves between storing the last append's signed head and writing
    its event: the event only in ``ledger.pending``, the witness and tree one behind."""
    lines = lines_of(led)
    last = lines[-1]
    led.log.pending_path.write_bytes(last + b"\n")
    led.path.write_bytes(b"".join(line + b"\n" for line in lines[:-1]) + last[:17])  # torn
    before = json.loads(lines[-2])
    write_head_raw(led, canonical({"hash": before["hash"], "seq": before["seq"]}) + b"\n")
    led.tree.truncate(len(lines) - 1)
    return last


def test_a_crash_between_head_and_event_is_completed(file_home):
    led = Ledger(file_home)
    last = crash_after_the_head(led)
    report = Ledger(file_home).verify()  # completes the signed append first
    assert report.ok and report.n_events == 5, report.reason
    assert lines_of(led)[-1] == last and not led.log.pending_path.exists()
    crash_after_the_head(led)
    Ledger(file_home).append("alice", "erase", result={"subject_id": "s9"})
    assert [json.loads(x)["seq"] for x in lines_of(led)] == [1, 2, 3, 4, 5, 6]
    assert Ledger(file_home).verify().ok


def test_a_pending_append_whose_head_was_never_stored_is_dropped(file_home):
    led = Ledger(file_home)
    events = [json.loads(line) for line in lines_of(led)]
    never = {**events[-1], "seq": 6, "prev_hash": events[-1]["hash"], "actor": "mallory"}
    never["hash"] = event_hash(never)
    led.log.pending_path.write_bytes(canonical(never) + b"\n")
    assert Ledger(file_home).verify().ok
    assert not led.log.pending_path.exists() and len(lines_of(led)) == 5


def test_a_pending_append_that_is_not_what_the_head_signed_is_refused(file_home):
    led = Ledger(file_home)
    crash_after_the_head(led)
    event = json.loads(led.log.pending_path.read_bytes())
    event["result"] = {"subject_id": "someone-else"}
    event["hash"] = event_hash(event)
    led.log.pending_path.write_bytes(canonical(event) + b"\n")
    assert not Ledger(file_home).verify().ok
    with pytest.raises(LedgerTamperedError, match="not what it signed"):
        Ledger(file_home).append("alice", "erase")
    assert len(lines_of(led)) == 4


def _append_forever(root: str) -> None:
    led = Ledger(Home(__import__("pathlib").Path(root)))
    for i in range(10_000):
        led.append_many([{"actor": "w", "action": "erase", "purpose": None, "case": None,
                          "legal_basis": None, "backend_id": None, "threshold": None,
                          "result": {"subject_id": f"s{i}-{j}"}} for j in range(1 + i % 3)])


def test_sigkill_at_random_moments_never_leaves_an_unsigned_or_refused_home(file_home):
    import multiprocessing
    import random
    import signal
    import time

    rng = random.Random(21)
    ctx = multiprocessing.get_context("fork")
    for _ in range(8):
        proc = ctx.Process(target=_append_forever, args=(str(file_home.root),))
        proc.start()
        time.sleep(rng.uniform(0.05, 0.3))
        proc.kill()
        proc.join()
        assert proc.exitcode == -signal.SIGKILL
        report = Ledger(file_home).verify()
        assert report.ok and report.signed_size == report.n_events, report.reason
        Ledger(file_home).append("alice", "erase", result={"subject_id": "after"})
