"""Tamper fuzz: thousands of random mutations of a real ledger, every one detected."""

import json
import random

import pytest
from ledger_raw import read_raw, write_raw

from faceaudit.base.home import Home
from faceaudit.ledger import Ledger
from faceaudit.ledger.canonical import canonical, event_hash
from faceaudit.ledger.signing import generate_keypair

N_EVENTS = 200
N_MUTATIONS = 1200


@pytest.fixture(scope="module", params=["files", "postgres"])
def ledger(request, tmp_path_factory):
    """One ledger of N_EVENTS, in the home's files or in PostgreSQL."""
    url = None
    if request.param == "postgres":
        url = request.getfixturevalue("make_postgres_database")()
    root = tmp_path_factory.mktemp("fuzz")
    home = Home(root / "home", url)
    key = root / "keys" / "signing.pem"
    generate_keypair(key, home.ensure().public_key_path)
    led = Ledger(home, signing_key=key, sth_every=50)
    rng = random.Random(1)
    actions = ["enrol", "identify", "verify", "review", "erase", "refused", "audit"]
    while read_raw(led).count(b"\n") < N_EVENTS:
        action = rng.choice(actions)
        led.append(
            rng.choice(["alice", "bob", "ünïcode-officer"]),
            action,
            purpose=rng.choice([None, "burglary", "missing person"]),
            case=rng.choice([None, "C-1", "C-2"]),
            backend_id="dlib-resnet:1",
            threshold=rng.choice([None, 0.6123]),
            result={"result_id": f"r{rng.randrange(10**6)}", "candidates": rng.randrange(11)},
        )
    assert led.verify().tree_heads_verified >= 3
    return led


def _lines(data: bytes) -> list[bytes]:
    return data.split(b"\n")[:-1]


def _join(lines: list[bytes]) -> bytes:
    return b"".join(line + b"\n" for line in lines)


def _edit(event: dict, rng: random.Random) -> None:
    field = rng.choice(["actor", "purpose", "case", "time", "threshold", "result", "action",
                        "seq", "backend_id", "prev_hash"])
    if field == "seq":
        event["seq"] += rng.choice([-1, 1, 7])
    elif field == "threshold":
        event["threshold"] = (event["threshold"] or 0.5) + 0.01
    elif field == "result":
        event["result"] = {**(event["result"] or {}), "candidates": 99}
    elif field == "action":
        event["action"] = "verify" if event["action"] != "verify" else "identify"
    elif field == "prev_hash":
        event["prev_hash"] = "f" * 64
    else:
        event[field] = (event[field] or "") + "x"


def mutate(data: bytes, rng: random.Random) -> tuple[str, bytes, int | None]:
    """Return (kind, mutated bytes, expected first bad position or None if not predicted)."""
    lines = _lines(data)
    n = len(lines)
    kind = rng.choice(["edit", "edit_rehash", "delete", "insert", "swap", "flip", "truncate",
                       "duplicate"])
    i = rng.randrange(n)
    if kind in ("edit", "edit_rehash"):
        event = json.loads(lines[i])
        _edit(event, rng)
        if kind == "edit_rehash":
            event["hash"] = event_hash(event)
        lines[i] = canonical(event)
        expected = i + 1 if kind == "edit" or i == n - 1 else None
        return kind, _join(lines), expected
    if kind == "delete":
        del lines[i]
        return kind, _join(lines), i + 1
    if kind == "insert":
        j = rng.randrange(n + 1)
        lines.insert(j, lines[i])
        return kind, _join(lines), j + 1 if j < i else j + 2 if j == i else None
    if kind == "swap":
        j = rng.choice([k for k in range(n) if k != i])
        lines[i], lines[j] = lines[j], lines[i]
        return kind, _join(lines), min(i, j) + 1
    if kind == "duplicate":
        lines.append(lines[-1])
        return kind, _join(lines), n + 1
    if kind == "flip":
        buf = bytearray(data)
        pos = rng.randrange(len(buf))
        buf[pos] ^= rng.randrange(1, 256)
        return kind, bytes(buf), None
    cut = rng.randrange(len(data))
    return kind, data[:cut], None


def test_untouched_ledger_verifies(ledger):
    report = ledger.verify()
    n_lines = read_raw(ledger).count(b"\n")
    assert n_lines >= N_EVENTS
    assert report.ok and report.n_events == n_lines and report.first_bad_seq is None


def _on_postgres(ledger) -> bool:
    return ledger.home.database_url is not None


def test_every_random_mutation_is_detected(ledger):
    original = read_raw(ledger)
    rng = random.Random(20250131)
    kinds: dict[str, int] = {}
    # a database round trip per mutation: a quarter of the (storage-independent) mutations
    n_mutations = N_MUTATIONS // 4 if _on_postgres(ledger) else N_MUTATIONS
    try:
        for _ in range(n_mutations):
            kind, mutated, expected = mutate(original, rng)
            assert mutated != original
            write_raw(ledger, mutated)
            report = ledger.verify()
            assert not report.ok, f"{kind} mutation not detected"
            assert report.reason
            if expected is not None:
                assert report.first_bad_seq == expected, (kind, report)
            kinds[kind] = kinds.get(kind, 0) + 1
    finally:
        write_raw(ledger, original)
    assert len(kinds) == 8 and min(kinds.values()) > n_mutations // 12
    assert ledger.verify().ok


def test_truncation_at_every_line_boundary_names_the_first_missing_event(ledger):
    original = read_raw(ledger)
    lines = _lines(original)
    try:
        for keep in range(0, len(lines), 5 if _on_postgres(ledger) else 1):
            write_raw(ledger, _join(lines[:keep]))
            report = ledger.verify()
            assert not report.ok and report.first_bad_seq == keep + 1
            assert "truncated" in report.reason
    finally:
        write_raw(ledger, original)
