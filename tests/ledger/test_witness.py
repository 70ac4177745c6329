"""``faceaudit witness``: an overseer that saw head N detects any later rewrite of events 1..N,
even when every file of the deployment home was replaced. The tests that do not copy the home's
files around run on the home's files and on PostgreSQL."""

import json
import shutil

import pytest
from ledger_raw import (
    delete_tree_heads_raw,
    read_raw,
    rechain_raw,
    write_raw,
    write_tree_heads_raw,
)
from typer.testing import CliRunner

from faceaudit.base.home import Home
from faceaudit.cli import app
from faceaudit.ledger import Ledger
from faceaudit.ledger.canonical import canonical, event_hash
from faceaudit.ledger.signer import FileSigner
from faceaudit.ledger.signing import generate_keypair
from faceaudit.ledger.sth import make_sth

runner = CliRunner()


def witness(state, home, *extra, public_key=None):
    args = ["witness", "--json", "--state", str(state), "--home", str(home.root)]
    if public_key is not None:
        args += ["--public-key", str(public_key)]
    args += [str(a) for a in extra]
    result = runner.invoke(app, args)
    summary = json.loads(result.stdout) if result.stdout.strip() else None
    return result.exit_code, summary, result.stderr


def grow(home, n, actor="alice"):
    led = Ledger(home, sth_every=1)
    for i in range(n):
        led.append(actor, "identify", purpose="p", case="c",
                   result={"result_id": f"{actor}-{i}", "candidates": i % 4})
    return led


def _deployment(tmp_path, home):
    grow(home, 10)
    pinned = tmp_path / "dpo" / "deployment.pub"
    pinned.parent.mkdir()
    shutil.copy(home.public_key_path, pinned)
    state = tmp_path / "dpo" / "witness"
    code, summary, _ = witness(state, home, public_key=pinned)
    assert code == 0 and summary["status"] == "first-contact"
    assert summary["head"]["tree_size"] == 10
    return home, state, pinned, tmp_path


@pytest.fixture
def deployment(tmp_path, database_url, monkeypatch):
    """A home with 10 events, its public key copied out of band, and a witness that saw it —
    its ledger in files or (``$FACEAUDIT_DATABASE_URL``) in PostgreSQL."""
    if database_url is not None:
        monkeypatch.setenv("FACEAUDIT_DATABASE_URL", database_url)
    return _deployment(tmp_path, Home(tmp_path / "home"))


@pytest.fixture
def files_deployment(tmp_path):
    """The same, in files only: for the tests that copy the home's files around."""
    return _deployment(tmp_path, Home(tmp_path / "home"))


def resign_rewritten(home, events):
    """An insider holding the home's own key (a file key in the home: not insider-proof)
    rewrites history and re-signs everything with the project's own code: chain, head witness,
    stored tree and one fresh signed tree head."""
    led = Ledger(home)
    rechain_raw(led, events)
    head = make_sth(FileSigner(home.signing_key_path, in_home=True), len(events),
                    led.tree.root(len(events)))
    write_tree_heads_raw(led, [canonical(head.to_dict())])
    assert Ledger(home).verify().ok  # the deployment's own verification cannot tell


def test_honest_growth_is_accepted(deployment):
    home, state, _, _ = deployment
    assert witness(state, home)[1]["status"] == "unchanged"
    grow(home, 5)
    code, summary, _ = witness(state, home)
    assert code == 0 and summary["status"] == "extended" and summary["previous_size"] == 10
    assert summary["head"]["tree_size"] == 15
    assert len((state / "heads.jsonl").read_text().splitlines()) == 2


def test_one_event_edited_and_everything_recomputed_is_detected(deployment):
    home, state, _, _ = deployment
    events = list(Ledger(home).events())
    events[3]["actor"] = "nobody"  # hide who searched
    resign_rewritten(home, events)
    code, summary, err = witness(state, home)
    assert code == 4 and summary["status"] == "fork" and "fork" in err
    grow(home, 6)  # more events on top do not hide it
    code, summary, _ = witness(state, home)
    assert code == 4 and summary["status"] == "fork"


def test_history_rewritten_and_extended_is_detected(deployment):
    home, state, _, _ = deployment
    events = list(Ledger(home).events())[:4]  # drop events 5..10 and write others instead
    resign_rewritten(home, events)
    grow(home, 12, actor="mallory")
    code, summary, _ = witness(state, home)
    assert code == 4 and summary["status"] == "fork"


def test_whole_home_replaced_by_an_older_copy_is_detected(files_deployment):
    home, state, _, tmp_path = files_deployment
    old = tmp_path / "backup"
    shutil.copytree(home.root, old)
    grow(home, 5)
    assert witness(state, home)[0] == 0  # the witness saw 15
    shutil.rmtree(home.root)
    shutil.copytree(old, home.root)  # every file back to the 10-event state
    assert Ledger(home).verify().ok
    code, summary, _ = witness(state, home)
    assert code == 4 and summary["status"] == "rollback"


def test_deleted_signed_heads_are_detected(deployment):
    home, state, _, _ = deployment
    delete_tree_heads_raw(Ledger(home))
    code, summary, _ = witness(state, home)
    assert code == 4 and summary["status"] == "no-head"


def test_missing_prefix_is_detected(files_deployment):
    home, state, _, _ = files_deployment
    grow(home, 3)
    led = Ledger(home)
    head = led.sth_log.latest()
    # the insider keeps the newest signed head but deletes the events and the tree behind it
    lines = led.path.read_bytes().splitlines(keepends=True)
    led.path.write_bytes(b"".join(lines[:5]))
    shutil.rmtree(led.tree.directory)
    assert led.sth_log.latest() == head
    code, summary, _ = witness(state, home)
    assert code == 4 and summary["status"] == "missing-prefix"


def test_a_fork_served_to_two_witnesses_is_detected(files_deployment):
    home, state_a, pinned, tmp_path = files_deployment
    state_b = tmp_path / "court" / "witness"
    assert witness(state_b, home, public_key=pinned)[0] == 0
    fork = Home(tmp_path / "fork")
    shutil.copytree(home.root, fork.root)  # the operator keeps two copies …
    grow(home, 3, actor="alice")
    grow(fork, 3, actor="mallory")  # … and shows each overseer a different history
    assert witness(state_a, home)[0] == 0
    assert witness(state_b, fork)[0] == 0  # each alone sees a log that only grew
    code, summary, err = witness(state_a, home, "--peer", state_b)
    assert code == 4 and summary["status"] == "fork" and "different" in err
    code, _, _ = witness(state_b, fork, "--peer", state_a)
    assert code == 4
    grow(fork, 2, actor="mallory")  # heads of different sizes: the proof fails instead
    assert witness(state_b, fork)[0] == 0
    assert witness(state_a, home, "--peer", state_b)[0] == 4


def test_a_replaced_public_key_is_detected(deployment):
    home, state, pinned, tmp_path = deployment
    # the insider makes a new key pair, re-signs a rewritten history and publishes the new key
    events = list(Ledger(home).events())
    events[0]["actor"] = "nobody"
    home.signing_key_path.unlink()
    home.public_key_path.unlink()
    generate_keypair(home.signing_key_path, home.public_key_path)
    resign_rewritten(home, events)
    code, summary, _ = witness(state, home)
    assert code == 4 and summary["status"] == "key-replaced"
    code, summary, _ = witness(state, home, public_key=home.public_key_path)
    assert code == 4 and summary["status"] == "key-replaced"
    # even if the new key file is hidden again, the heads are not signed by the pinned key
    home.public_key_path.unlink()
    code, summary, _ = witness(state, home)
    assert code == 4 and summary["status"] == "bad-signature"
    assert len((state / "heads.jsonl").read_text().splitlines()) == 1  # nothing accepted


def test_a_forged_signature_is_detected(files_deployment):
    home, state, _, _ = files_deployment
    grow(home, 1)
    path = Ledger(home).sth_log.path
    lines = path.read_bytes().splitlines()
    head = json.loads(lines[-1])
    head["root_hash"] = "ab" * 32
    path.write_bytes(b"\n".join([*lines[:-1], canonical(head)]) + b"\n")
    code, summary, _ = witness(state, home)
    assert code == 4 and summary["status"] == "bad-signature"


def test_bad_input_exits_2(tmp_path, deployment):
    home, state, _, _ = deployment
    assert witness(tmp_path / "new", home)[0] == 2  # first contact needs --public-key
    assert witness(state, Home(tmp_path / "absent"))[0] == 2
    assert witness(home.root / "w", home, public_key=home.public_key_path)[0] == 2
    result = runner.invoke(app, ["witness", "--state", str(state)])
    assert result.exit_code == 2 and "exactly one" in result.stderr


def test_a_ledger_deleted_or_edited_behind_an_intact_head_file_is_detected(deployment):
    home, state, _, _ = deployment
    led = Ledger(home)
    original = read_raw(led)
    lines = original.splitlines(keepends=True)
    write_raw(led, b"".join(lines[:7]))  # truncated, heads and tree left alone
    code, summary, _ = witness(state, home)
    assert code == 4 and summary["status"] == "missing-prefix"
    event = json.loads(lines[2])
    event["actor"] = "nobody"
    event["hash"] = event_hash(event)
    write_raw(led, b"".join([*lines[:2], canonical(event) + b"\n", *lines[3:]]))
    code, summary, _ = witness(state, home)
    assert code == 4 and summary["status"] == "fork"
    write_raw(led, original)
    assert witness(state, home)[0] == 0
