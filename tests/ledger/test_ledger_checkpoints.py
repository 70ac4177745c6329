
import pytest

from faceaudit.home import Home
from faceaudit.ledger import Ledger, LedgerError
from faceaudit.ledger.canonical import canonical, event_hash
from faceaudit.ledger.signing import generate_keypair


@pytest.fixture
def setup(tmp_path):
    home = Home(tmp_path / "home")
    key = tmp_path / "keys" / "a.pem"
    generate_keypair(key, home.ensure().public_key_path)
    return home, key, tmp_path


def _rewrite_consistently(led: Ledger, events: list[dict]) -> None:
    """What an attacker with write access does: re-chain every event and the head witness."""
    prev = "0" * 64
    for seq, event in enumerate(events, start=1):
        event["seq"], event["prev_hash"] = seq, prev
        if event["action"] == "checkpoint":
            event["result"]["covers_hash"] = prev
        event["hash"] = prev = event_hash(event)
    led.path.write_bytes(b"".join(canonical(e) + b"\n" for e in events))
    led.head_path.write_bytes(canonical({"hash": prev, "seq": len(events)}) + b"\n")


def test_checkpoint_is_signed_and_verified(setup):
    home, key, _ = setup
    led = Ledger(home)
    led.append("a", "enrol")
    cp = led.checkpoint(key, actor="auditor")
    assert cp["action"] == "checkpoint" and cp["actor"] == "auditor"
    assert cp["result"]["covers_seq"] == 1
    led.append("a", "enrol")
    report = led.verify()
    assert report.ok and report.checkpoints_verified == 1
    assert oct(key.stat().st_mode & 0o777) == "0o600"


def test_interval_checkpoints_when_a_key_is_configured(setup, monkeypatch):
    home, key, _ = setup
    monkeypatch.setenv("FACEAUDIT_SIGNING_KEY", str(key))
    led = Ledger(home, checkpoint_every=10)
    for _ in range(25):
        led.append("a", "enrol")
    checkpoints = [e for e in led.events() if e["action"] == "checkpoint"]
    assert [c["result"]["covers_seq"] for c in checkpoints] == [10, 20]
    assert led.verify().checkpoints_verified == 2


def test_checkpoint_signed_with_another_key_is_detected(setup):
    home, key, tmp_path = setup
    led = Ledger(home)
    led.append("a", "enrol")
    genuine_public = home.public_key_path.read_bytes()
    forger_key = tmp_path / "keys" / "forger.pem"
    generate_keypair(forger_key, home.public_key_path)  # attacker swaps the public key …
    led.checkpoint(forger_key)
    home.public_key_path.write_bytes(genuine_public)  # … but the verifier holds the real one
    report = led.verify()
    assert not report.ok and report.first_bad_seq == 2
    assert "another key" in report.reason


def test_rewritten_history_is_caught_by_the_signature(setup):
    home, key, _ = setup
    led = Ledger(home)
    led.append("alice", "identify", purpose="p", case="c", result={"candidates": 4})
    led.checkpoint(key)
    led.append("a", "enrol")
    events = list(led.events())
    events[0]["actor"] = "nobody"  # hide who searched, then fix every hash
    _rewrite_consistently(led, events)
    report = led.verify()
    assert not report.ok and report.first_bad_seq == 2
    assert "forged" in report.reason


def test_checkpoint_refuses_a_key_that_is_not_the_deployments(setup):
    home, _, tmp_path = setup
    other = tmp_path / "other.pem"
    generate_keypair(other, tmp_path / "other.pub")
    with pytest.raises(LedgerError, match="does not match"):
        Ledger(home).checkpoint(other)


def test_checkpoint_needs_the_public_key_in_the_home(tmp_path):
    key = tmp_path / "k.pem"
    generate_keypair(key, tmp_path / "k.pub")
    with pytest.raises(LedgerError, match="keygen"):
        Ledger(Home(tmp_path / "home")).checkpoint(key)


def test_verify_with_an_independent_copy_of_the_public_key(setup):
    home, key, tmp_path = setup
    led = Ledger(home)
    led.append("a", "enrol")
    led.checkpoint(key)
    pinned = tmp_path / "pinned.pub"
    pinned.write_bytes(home.public_key_path.read_bytes())
    generate_keypair(tmp_path / "x.pem", home.public_key_path)  # home's copy replaced
    assert not led.verify().ok
    assert led.verify(pinned).ok


def test_malformed_signing_key_is_a_ledger_error(tmp_path):
    bad = tmp_path / "bad.pem"
    bad.write_text("not a key")
    with pytest.raises(LedgerError):
        Ledger(Home(tmp_path / "h"), signing_key=bad).append("a", "enrol")
