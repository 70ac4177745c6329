import json
import multiprocessing
import os
import signal
import time
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from ledger_raw import append_raw, read_head_raw, read_raw, write_head_raw, write_raw

from faceaudit.base.home import Home
from faceaudit.ledger import ACTIONS, Ledger, LedgerError, LedgerEventError
from faceaudit.ledger.canonical import GENESIS_HASH, canonical, event_hash


@pytest.fixture
def home(tmp_path, database_url):
    """A home whose ledger is in files or in PostgreSQL (every test runs on both)."""
    return Home(tmp_path / "home", database_url)


@pytest.fixture
def files_home(tmp_path):
    return Home(tmp_path / "home")


def test_append_returns_the_stored_chained_event(home):
    led = Ledger(home)
    first = led.append("alice", "enrol", legal_basis="consent", backend_id="dlib-resnet:1",
                       result={"subject_id": "s1", "templates": 2})
    second = led.append("alice", "identify", purpose="theft", case="C-1", threshold=0.62,
                        result={"result_id": "r1", "candidates": 3})
    assert first["seq"] == 1 and second["seq"] == 2
    assert first["prev_hash"] == GENESIS_HASH
    assert second["prev_hash"] == first["hash"]
    assert second["hash"] == event_hash(second)
    assert datetime.fromisoformat(second["time"]).tzinfo is not None
    lines = read_raw(led).splitlines()
    assert lines == [canonical(first), canonical(second)]
    assert list(led.events()) == [first, second]
    assert led.verify().ok and led.verify().n_events == 2


def test_an_empty_or_missing_ledger_is_not_intact(home):
    led = Ledger(home)
    assert list(led.events()) == []
    report = led.verify()  # no home at all
    assert not report.ok and report.n_events == 0
    home.ensure()
    report = led.verify()  # a home whose ledger is missing: every deployment has events
    assert not report.ok and "intact" not in report.summary()
    assert "empty or missing" in report.reason


@pytest.mark.parametrize(
    "result",
    [
        {"embedding": [0.1] * 128},
        {"faces": [{"embedding": [float(i) for i in range(17)]}]},
        {"image": b"\x89PNG"},
        {"embedding": np.zeros(128, dtype=np.float32)},
        {"photo": "A" * 5000},
        {1: "non-string key"},
    ],
)
def test_biometric_or_bulky_results_are_refused(home, result):
    led = Ledger(home)
    with pytest.raises(LedgerEventError):
        led.append("alice", "enrol", result=result)
    assert read_raw(led) == b""


def test_numpy_counts_are_stored_as_plain_numbers(home):
    event = Ledger(home).append("a", "identify", purpose="p", case="c",
                                result={"candidates": np.int64(3), "score": np.float32(0.5)})
    assert event["result"] == {"candidates": 3, "score": 0.5}
    assert type(event["result"]["candidates"]) is int


@pytest.mark.parametrize(
    ("actor", "action", "extra"),
    [
        ("alice", "delete_everything", {}),
        ("", "enrol", {}),
        ("alice", "verify", {"threshold": float("nan")}),
        ("alice", "verify", {"purpose": 3}),
    ],
)
def test_invalid_events_are_refused(home, actor, action, extra):
    with pytest.raises(LedgerEventError):
        Ledger(home).append(actor, action, **extra)


def test_every_documented_action_is_accepted(home):
    led = Ledger(home)
    for action in sorted(ACTIONS - {"checkpoint"}):
        led.append("a", action)
    assert led.verify().ok


def test_events_filters_by_time_and_recent_reads_backwards(home):
    led = Ledger(home)
    for i in range(5):
        led.append("a", "identify", purpose="p", case="c", result={"i": i})
    now = datetime.now(UTC)
    assert len(list(led.events(now - timedelta(minutes=5), now + timedelta(minutes=5)))) == 5
    assert list(led.events(now + timedelta(minutes=1))) == []
    assert list(led.events(end=now - timedelta(minutes=1))) == []
    naive = datetime.now(UTC).replace(tzinfo=None) - timedelta(minutes=5)
    assert len(list(led.events(naive))) == 5
    assert [e["seq"] for e in led.recent(now - timedelta(minutes=5))] == [5, 4, 3, 2, 1]
    assert list(led.recent(now + timedelta(minutes=1))) == []


def test_torn_final_line_is_ignored_then_set_aside_by_the_next_append(files_home):
    """Files only: a PostgreSQL append is a transaction and cannot be torn."""
    home = files_home
    led = Ledger(home)
    for _ in range(3):
        led.append("a", "enrol")
    append_raw(led, b'{"action":"enrol","actor":"b","ca')  # killed mid-write
    report = led.verify()
    assert report.ok and report.n_events == 3 and report.torn_tail_bytes > 0
    assert len(list(led.events())) == 3
    event = led.append("a", "enrol")
    assert event["seq"] == 4
    assert led.verify().ok and led.verify().torn_tail_bytes == 0
    assert b'"actor":"b","ca' in bytes.fromhex(
        json.loads(led.torn_path.read_text().splitlines()[0])["bytes"]
    )


def test_a_removed_newline_is_tampering_not_a_torn_write(files_home):
    """Files only: PostgreSQL keeps lines in rows, with no newline to remove."""
    home = files_home
    led = Ledger(home)
    for _ in range(3):
        led.append("a", "enrol")
    data = read_raw(led)
    write_raw(led, data[:-1])
    report = led.verify()
    assert not report.ok and report.first_bad_seq == 3
    with pytest.raises(LedgerError, match="head witness"):
        led.append("a", "enrol")
    assert read_raw(led) == data[:-1]


def test_appender_stopped_before_the_head_update_is_caught_up(home):
    led = Ledger(home)
    events = [led.append("a", "enrol") for _ in range(3)]
    stale = canonical({"hash": events[1]["hash"], "seq": 2}) + b"\n"
    for _ in range(3):  # the witness lags one event behind, again and again
        write_head_raw(led, stale)
        assert led.verify().ok
        event = led.append("a", "enrol")
        assert led.verify().ok
        assert json.loads(read_head_raw(led)) == {"hash": event["hash"],
                                                          "seq": event["seq"]}
        stale = canonical({"hash": event["prev_hash"], "seq": event["seq"] - 1}) + b"\n"


def test_deleting_the_head_witness_is_detected(home):
    led = Ledger(home)
    for _ in range(3):
        led.append("a", "enrol")
    write_head_raw(led, None)
    report = led.verify()
    assert not report.ok and "head witness" in report.reason


def _append_many(home: Home, actor: str, n: int) -> None:
    led = Ledger(home)
    for i in range(n):
        led.append(actor, "enrol", result={"i": i})


def test_concurrent_appenders_from_four_processes_keep_one_chain(home):
    n = 200 if home.database_url else 40  # the replicas of a PostgreSQL deployment: 4 x 200
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_append_many, args=(home, f"p{k}", n))
             for k in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    led = Ledger(home)
    report = led.verify()
    assert report.ok and report.n_events == 4 * n
    seen = {(e["actor"], e["result"]["i"]) for e in led.events()}
    assert seen == {(f"p{k}", i) for k in range(4) for i in range(n)}


def test_verify_while_others_append_never_sees_a_false_alarm(home):
    led = Ledger(home)
    led.append("a", "init")  # every deployment has its genesis event before anyone verifies
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_append_many, args=(home, f"p{k}", 60))
             for k in range(2)]
    for p in procs:
        p.start()
    while any(p.is_alive() for p in procs):
        report = led.verify()
        assert report.ok, report
    for p in procs:
        p.join()
    assert led.verify().n_events == 121


def test_sigkilled_appender_leaves_a_verifiable_ledger(home):
    ctx = multiprocessing.get_context("fork")
    for round_ in range(3):
        proc = ctx.Process(target=_append_many, args=(home, f"k{round_}", 10_000))
        proc.start()
        time.sleep(0.3)
        os.kill(proc.pid, signal.SIGKILL)
        proc.join()
        led = Ledger(home)
        assert led.verify().ok
        led.append("survivor", "enrol")
        assert led.verify().ok
