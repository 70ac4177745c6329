"""Signed tree heads: made automatically and on demand, checked by ``verify`` against the
ledger; legacy checkpoint events still verify. Every test runs on the home's files and on
PostgreSQL."""

import pytest
from ledger_raw import (
    delete_tree_heads_raw,
    delete_tree_raw,
    flip_tree_leaf_raw,
    read_raw,
    write_head_raw,
    write_raw,
    write_tree_heads_raw,
)

from faceaudit.base.home import Home
from faceaudit.ledger import Ledger, LedgerError
from faceaudit.ledger.canonical import canonical, event_hash
from faceaudit.ledger.errors import LedgerNoSignerError
from faceaudit.ledger.schema import event as new_event
from faceaudit.ledger.signing import checkpoint_message, generate_keypair, load_private_key, sign
from faceaudit.ledger.sth import SignedTreeHead, head_hash, sth_message
from faceaudit.ledger.verify import Head, head_bytes


@pytest.fixture
def home(tmp_path, database_url):
    """A home whose ledger is in files or in PostgreSQL."""
    return Home(tmp_path / "home", database_url)


@pytest.fixture
def setup(tmp_path, home):
    key = tmp_path / "keys" / "a.pem"
    generate_keypair(key, home.ensure().public_key_path)
    return home, key, tmp_path


def legacy_head(private, size: int, root: bytes) -> SignedTreeHead:
    """A faceaudit-sth/1 head, as homes from before chained heads hold."""
    from faceaudit.ledger.signing import fingerprint

    stamp, key_id = "2025-01-01T00:00:00.000000+00:00", fingerprint(private.public_key())
    return SignedTreeHead(size, root.hex(), stamp, key_id,
                          sign(private, sth_message(size, root.hex(), stamp, key_id)))


def rewrite_consistently(led: Ledger, events: list[dict]) -> None:
    """What an attacker with write access does: re-chain every event, the head witness and the
    stored Merkle tree."""
    prev = "0" * 64
    for seq, event in enumerate(events, start=1):
        event["seq"], event["prev_hash"] = seq, prev
        event["hash"] = prev = event_hash(event)
    write_raw(led, b"".join(canonical(e) + b"\n" for e in events))
    write_head_raw(led, canonical({"hash": prev, "seq": len(events)}) + b"\n")
    led.rebuild_tree()


def test_a_new_home_gets_its_own_key_and_a_first_signed_head(tmp_path, home):
    led = Ledger(home)
    led.append("a", "enrol")
    assert home.signing_key_path.exists() and home.public_key_path.exists()
    assert oct(home.signing_key_path.stat().st_mode & 0o777) == "0o600"
    assert [h.tree_size for h in led.sth_log.heads()] == [1]
    report = led.verify()
    assert report.ok and report.tree_heads_verified == 1 and report.signed_size == 1


def test_a_process_without_the_key_appends_nothing(setup):
    home, key, _ = setup
    led = Ledger(home)  # the key lives outside the home and is not configured
    with pytest.raises(LedgerNoSignerError, match="FACEAUDIT_SIGNING_KEY") as caught:
        led.append("a", "enrol")
    assert caught.value.exit_code == 4 and caught.value.http_status == 503
    assert read_raw(led) == b"" and led.sth_log.heads() == []


def test_sth_on_demand_is_signed_chained_and_verified(setup):
    home, key, _ = setup
    led = Ledger(home, signing_key=key)
    led.append("a", "enrol")
    led.append("a", "enrol")
    head = Ledger(home).sign_tree_head(key)
    assert head.tree_size == 2 and head.root == led.tree.root(2)
    heads = led.sth_log.heads()
    assert [h.tree_size for h in heads] == [1, 2, 2]
    assert head.prev_head_hash == head_hash(heads[1]) and head.prev_tree_size == 2
    report = led.verify()
    assert report.ok and report.tree_heads_verified == 3
    assert "3 signed tree heads verified" in report.summary()


def test_every_append_has_its_own_chained_head(setup, monkeypatch):
    home, key, _ = setup
    monkeypatch.setenv("FACEAUDIT_SIGNING_KEY", str(key))
    led = Ledger(home)
    for _ in range(5):
        led.append("a", "enrol")
    heads = led.sth_log.heads()
    assert [h.tree_size for h in heads] == [1, 2, 3, 4, 5]
    assert heads[0].prev_head_hash == "0" * 64 and heads[0].prev_tree_size == 0
    assert all(h.format == "faceaudit-sth/2" for h in heads)
    assert all(b.prev_head_hash == head_hash(a) for a, b in zip(heads, heads[1:], strict=False))
    assert led.verify().tree_heads_verified == 5


def test_append_many_signs_one_head_over_all(setup):
    home, key, _ = setup
    led = Ledger(home, signing_key=key)
    led.append("a", "enrol")
    stored = led.append_many([new_event("a", "erase", result={"subject_id": f"s{i}"})
                              for i in range(4)])
    assert [e["seq"] for e in stored] == [2, 3, 4, 5]
    assert [h.tree_size for h in led.sth_log.heads()] == [1, 5]
    assert led.verify().ok
    with pytest.raises(LedgerError):  # one bad event: none is written
        led.append_many([new_event("a", "erase"), {**new_event("a", "erase"), "action": "nope"}])
    assert led.verify().n_events == 5


def test_head_signed_with_another_key_is_detected(setup):
    home, key, tmp_path = setup
    led = Ledger(home, signing_key=key)
    led.append("a", "enrol")
    genuine_public = home.public_key_path.read_bytes()
    home.public_key_path.unlink()
    forger_key = tmp_path / "keys" / "forger.pem"
    generate_keypair(forger_key, home.public_key_path)  # attacker swaps the public key …
    led.sign_tree_head(forger_key)
    home.public_key_path.write_bytes(genuine_public)  # … but the verifier holds the real one
    report = led.verify()
    assert not report.ok and "not by the pinned key" in report.reason


def test_rewritten_history_is_caught_by_the_signed_head(setup):
    home, key, _ = setup
    led = Ledger(home, signing_key=key)
    led.append("alice", "identify", purpose="p", case="c", result={"candidates": 4})
    led.append("a", "enrol")
    events = list(led.events())
    events[0]["actor"] = "nobody"  # hide who searched, then fix every hash and the tree
    rewrite_consistently(led, events)
    report = led.verify()
    assert not report.ok and "history rewritten" in report.reason


def test_deleting_the_signed_heads_is_detected(setup):
    home, key, _ = setup
    led = Ledger(home, signing_key=key)
    for _ in range(3):
        led.append("a", "enrol")
    delete_tree_heads_raw(led)
    report = led.verify()
    assert not report.ok and "no signed tree head" in report.reason


def test_deleting_the_ledger_is_not_intact(tmp_path, home):
    led = Ledger(home)
    for _ in range(3):
        led.append("a", "enrol")
    write_raw(led, b"")
    write_head_raw(led, None)
    report = led.verify()
    assert not report.ok and "0 events" not in report.summary()
    with pytest.raises(LedgerError, match="signed tree head covers"):
        led.append("a", "enrol")  # and nothing is appended to a deleted ledger


def test_truncation_below_a_signed_head_is_detected(tmp_path, home):
    led = Ledger(home, sth_every=1)
    for _ in range(4):
        led.append("a", "enrol")
    lines = read_raw(led).splitlines(keepends=True)
    write_raw(led, b"".join(lines[:2]))
    write_head_raw(led, head_bytes(Head(2, __import__("json").loads(lines[1])["hash"])))
    led.tree.truncate(2)
    report = led.verify()
    assert not report.ok and "truncated" in report.reason


def test_a_tampered_stored_tree_is_detected_and_blocks_appends(tmp_path, home):
    led = Ledger(home)
    for _ in range(5):
        led.append("a", "enrol")
    flip_tree_leaf_raw(led, 4)  # the last leaf
    report = led.verify()
    assert not report.ok and report.first_bad_seq == 5 and "Merkle tree" in report.reason
    with pytest.raises(LedgerError, match="Merkle tree"):
        led.append("a", "enrol")


def test_a_missing_tree_is_rebuilt_from_the_ledger(tmp_path, home):
    led = Ledger(home)
    for _ in range(5):
        led.append("a", "enrol")
    root = led.tree.root(5)
    delete_tree_raw(led)
    led.append("a", "enrol")
    assert led.tree.size == 6 and led.tree.root(5) == root and led.verify().ok


def test_sth_refuses_a_key_that_is_not_the_deployments(setup):
    home, key, tmp_path = setup
    Ledger(home, signing_key=key).append("a", "enrol")
    other = tmp_path / "other.pem"
    generate_keypair(other, tmp_path / "other.pub")
    with pytest.raises(LedgerError, match="does not match"):
        Ledger(home).sign_tree_head(other)


def test_sth_needs_the_public_key_in_the_home(tmp_path, home):
    key = tmp_path / "k.pem"
    generate_keypair(key, tmp_path / "k.pub")
    led = Ledger(home, signing_key=key)  # configured outside: no own key is made
    with pytest.raises(LedgerError, match="keygen"):
        led.append("a", "enrol")
    assert not home.signing_key_path.exists()
    assert read_raw(led) == b""  # refused before writing


def test_verify_with_an_independent_copy_of_the_public_key(setup):
    home, key, tmp_path = setup
    led = Ledger(home, signing_key=key)
    led.append("a", "enrol")
    pinned = tmp_path / "pinned.pub"
    pinned.write_bytes(home.public_key_path.read_bytes())
    home.public_key_path.unlink()
    generate_keypair(tmp_path / "x.pem", home.public_key_path)  # home's copy replaced
    assert not led.verify().ok
    assert led.verify(pinned).ok


def test_malformed_signing_key_is_a_ledger_error(tmp_path):
    bad = tmp_path / "bad.pem"
    bad.write_text("not a key")
    with pytest.raises(LedgerError):
        Ledger(Home(tmp_path / "h"), signing_key=bad).append("a", "enrol")


def test_legacy_checkpoint_events_still_verify(setup):
    """Ledgers written before signed tree heads carry checkpoint events; verify checks them
    (here under an sth/1 head, as such a home has, which the next append chains on to)."""
    home, key, _ = setup
    private = load_private_key(key)
    from faceaudit.ledger.signing import fingerprint

    first = {"seq": 1, "time": "2025-01-01T00:00:00.000000+00:00", "actor": "a",
             "action": "enrol", "purpose": None, "case": None, "legal_basis": None,
             "backend_id": None, "threshold": None, "result": None, "prev_hash": "0" * 64}
    first["hash"] = event_hash(first)
    event = {**first, "seq": 2, "actor": "dpo", "action": "checkpoint",
             "prev_hash": first["hash"],
             "result": {"covers_seq": 1, "covers_hash": first["hash"],
                        "key_id": fingerprint(private.public_key()),
                        "signature": sign(private, checkpoint_message(1, first["hash"]))}}
    event["hash"] = event_hash(event)
    led = Ledger(home, signing_key=key)
    assert not led.log.exists()  # (on PostgreSQL this creates the tables)
    write_raw(led, canonical(first) + b"\n" + canonical(event) + b"\n")
    write_head_raw(led, head_bytes(Head(2, event["hash"])))
    led.rebuild_tree()
    write_tree_heads_raw(led, [canonical(legacy_head(private, 2, led.tree.root(2)).to_dict())])
    report = led.verify()
    assert report.ok and report.checkpoints_verified == 1, report.reason
    led.append("a", "enrol")  # the first sth/2 head chains on to the sth/1 one
    assert led.sth_log.latest().prev_head_hash == head_hash(led.sth_log.heads()[0])
    report = led.verify()
    assert report.ok and report.checkpoints_verified == 1
    event["result"]["signature"] = sign(private, b"something else")
    event["hash"] = event_hash(event)
    lines = read_raw(led).splitlines(keepends=True)
    lines[1] = canonical(event) + b"\n"
    write_raw(led, b"".join(lines))
    report = led.verify()
    assert not report.ok and report.first_bad_seq == 2


def test_a_tree_one_leaf_behind_after_a_crash_verifies_and_catches_up(tmp_path, home):
    """A process killed between the ledger write and the tree update leaves the tree one leaf
    behind: that is not tampering, and the next append (or proof) catches the tree up."""
    led = Ledger(home)
    for _ in range(6):
        led.append("a", "enrol")
    led.tree.truncate(5)
    assert led.tree.size == 5 and led.verify().ok
    assert led.inclusion_proof(6)["tree_size"] == 6  # caught up under the lock
    led.tree.truncate(5)
    led.append("a", "enrol")
    assert led.tree.size == 7 and led.verify().ok


def test_receipts_prove_inclusion_under_a_signed_head(tmp_path, home):
    from faceaudit.ledger.signing import load_public_key
    from faceaudit.ledger.sth import receipt_problem

    led = Ledger(home, sth_every=1000)
    events = [led.append("a", "identify", purpose="p", case="c") for _ in range(9)]
    public = load_public_key(home.public_key_path)
    receipt = led.receipt(9)  # no head covers event 9 yet: one is signed for it
    assert receipt["sth"]["tree_size"] == 9 and led.sth_log.latest().tree_size == 9
    assert receipt_problem(receipt, public, events[8]) is None
    assert receipt_problem(led.receipt(4), public, events[3]) is None  # the latest head covers it
    assert receipt_problem(receipt, public, events[7]) == "the receipt is for another event"
    early = led.receipt(4)
    forged = {**early, "audit_path": list(reversed(early["audit_path"]))}
    assert len(early["audit_path"]) == 4
    assert "audit path" in receipt_problem(forged, public)
    with pytest.raises(LedgerError):
        led.receipt(10)
