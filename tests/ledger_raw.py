"""What an attacker with write access to the ledger's storage does, on either backend: read
and overwrite the raw lines and the head witness (files, or rows of PostgreSQL tables)."""

from __future__ import annotations

import psycopg

from faceaudit.ledger import Ledger


def _url(led: Ledger) -> str | None:
    return led.home.database_url_in_force()


def read_raw(led: Ledger) -> bytes:
    """The ledger's bytes: every line and its newline (and, for files, any torn tail)."""
    return led.log.snapshot()


def write_raw(led: Ledger, data: bytes) -> None:
    """Replace the ledger's content by ``data`` (on PostgreSQL: one row per line; a final
    fragment without newline becomes a row of its own)."""
    url = _url(led)
    if url is None:
        led.path.write_bytes(data)
        return
    lines = data.split(b"\n")
    if lines[-1] == b"":
        lines.pop()
    with psycopg.connect(url) as con:
        con.execute("DELETE FROM events")
        with con.cursor() as cur:
            cur.executemany("INSERT INTO events(position, line) VALUES (%s, %s)",
                            list(enumerate(lines, start=1)))


def append_raw(led: Ledger, fragment: bytes) -> None:
    """Append raw bytes to the ledger file (files only: a torn write)."""
    with open(led.path, "ab") as fh:
        fh.write(fragment)


def write_head_raw(led: Ledger, record: bytes | None) -> None:
    """Overwrite (or, with None, delete) the head witness."""
    url = _url(led)
    if url is None:
        if record is None:
            led.head_path.unlink()
        else:
            led.head_path.write_bytes(record)
        return
    with psycopg.connect(url) as con:
        con.execute("DELETE FROM ledger_head")
        if record is not None:
            con.execute("INSERT INTO ledger_head(id, record) VALUES (1, %s)", (record,))


def read_head_raw(led: Ledger) -> bytes:
    """The head witness's stored bytes."""
    url = _url(led)
    if url is None:
        return led.head_path.read_bytes()
    with psycopg.connect(url) as con:
        return bytes(con.execute("SELECT record FROM ledger_head").fetchone()[0])


def delete_tree_heads_raw(led: Ledger) -> None:
    """Delete every signed tree head."""
    url = _url(led)
    if url is None:
        led.sth_log.path.unlink()
        return
    with psycopg.connect(url) as con:
        con.execute("DELETE FROM ledger_sth")


def flip_tree_leaf_raw(led: Ledger, index: int) -> None:
    """Flip one bit of the stored Merkle tree's leaf ``index``."""
    url = _url(led)
    if url is None:
        data = bytearray(led.tree.level_path(0).read_bytes())
        data[index * 32] ^= 1
        led.tree.level_path(0).write_bytes(bytes(data))
        return
    with psycopg.connect(url) as con:
        leaf = bytearray(con.execute("SELECT hash FROM ledger_tree WHERE level = 0 AND idx = %s",
                                     (index,)).fetchone()[0])
        leaf[0] ^= 1
        con.execute("UPDATE ledger_tree SET hash = %s WHERE level = 0 AND idx = %s",
                    (bytes(leaf), index))


def delete_tree_raw(led: Ledger) -> None:
    """Delete the stored Merkle tree."""
    url = _url(led)
    if url is None:
        for path in led.tree.directory.iterdir():
            path.unlink()
        return
    with psycopg.connect(url) as con:
        con.execute("DELETE FROM ledger_tree")


def read_tree_heads_raw(led: Ledger) -> list[bytes]:
    """The stored signed tree heads, one canonical JSON line each."""
    url = _url(led)
    if url is None:
        path = led.sth_log.path
        return path.read_bytes().splitlines() if path.exists() else []
    with psycopg.connect(url) as con:
        return [bytes(r[0]) for r in con.execute(
            "SELECT line FROM ledger_sth ORDER BY position").fetchall()]


def write_tree_heads_raw(led: Ledger, lines: list[bytes]) -> None:
    """Replace the stored signed tree heads by ``lines`` (canonical JSON, one head each)."""
    url = _url(led)
    if url is None:
        led.sth_log.path.write_bytes(b"".join(line + b"\n" for line in lines))
        return
    with psycopg.connect(url) as con:
        con.execute("DELETE FROM ledger_sth")
        with con.cursor() as cur:
            cur.executemany("INSERT INTO ledger_sth(position, line) VALUES (%s, %s)",
                            list(enumerate(lines, start=1)))


def rebuild_tree_raw(led: Ledger) -> None:
    """Recompute the stored Merkle tree from the ledger's lines with the project's own
    hashing code (``faceaudit.ledger.merkle``), as an insider fixing the tree would."""
    from faceaudit.ledger import merkle

    lines = read_raw(led).split(b"\n")[:-1]
    levels = merkle.build_levels([merkle.leaf_hash(line) for line in lines])
    url = _url(led)
    if url is None:
        directory = led.tree.directory
        directory.mkdir(exist_ok=True)
        for path in directory.iterdir():
            path.unlink()
        for level, hashes in enumerate(levels):
            if hashes:
                (directory / f"level-{level:02d}").write_bytes(b"".join(hashes))
        return
    with psycopg.connect(url) as con:
        con.execute("DELETE FROM ledger_tree")
        with con.cursor() as cur:
            cur.executemany("INSERT INTO ledger_tree(level, idx, hash) VALUES (%s, %s, %s)",
                            [(level, i, h) for level, hashes in enumerate(levels)
                             for i, h in enumerate(hashes)])


def rechain_raw(led: Ledger, events: list[dict]) -> None:
    """The insider's consistent rewrite: re-chain every event with the project's hashing code
    (``faceaudit.ledger.canonical``), then fix the head witness and the stored Merkle tree.
    Without the signing key no signed tree head can be made for it."""
    from faceaudit.ledger.canonical import canonical, event_hash

    prev = "0" * 64
    for seq, event in enumerate(events, start=1):
        event["seq"], event["prev_hash"] = seq, prev
        event["hash"] = prev = event_hash(event)
    write_raw(led, b"".join(canonical(e) + b"\n" for e in events))
    write_head_raw(led, canonical({"hash": prev, "seq": len(events)}) + b"\n")
    rebuild_tree_raw(led)
