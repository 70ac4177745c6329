"""The transparency part of ``ledger verify``: the stored Merkle tree and every signed tree
head must agree with the ledger's events, the heads must form one chain, and the newest must
cover every event (no unsigned tail)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from faceaudit.ledger import merkle
from faceaudit.ledger.signing import load_public_key
from faceaudit.ledger.sth import SignedTreeHead, head_hash
from faceaudit.ledger.tree import HASH_SIZE
from faceaudit.ledger.verify import VerifyReport


def check_transparency(
    report: VerifyReport,
    lines: Sequence[bytes],
    stored_levels: Sequence[bytes],
    heads: Sequence[SignedTreeHead],
    public_key_path: Path | None,
    allow_unsigned_tail: bool = False,
    restoring: bool = False,
) -> VerifyReport:
    """Extend a chain-verified ``report`` of the ledger ``lines`` with the checks of the stored
    tree (``stored_levels``: raw level files) and of the signed tree heads ``heads``: each head
    signed by the deployment's key, chained to the one before it, agreeing with the events —
    and the newest covering every event. ``allow_unsigned_tail`` (``ledger sth --upgrade``
    only) accepts events after a newest head of an older home's ``faceaudit-sth/1``;
    ``restoring`` (``ledger restore-heads``) trusts the first head not to chain further back."""
    n = len(lines)
    built = merkle.build_levels([merkle.leaf_hash(line) for line in lines])

    def bad(position: int | None, reason: str) -> VerifyReport:
        return replace(report, ok=False, first_bad_seq=position, reason=reason)

    problem = _tree_problem(stored_levels, built, n)
    if problem is not None:
        return bad(*problem)
    key_path = Path(public_key_path) if public_key_path else None
    public_key = load_public_key(key_path) if key_path and key_path.exists() else None
    if heads and public_key is None:
        return bad(None, "signed tree heads but no public key to check them")
    if not heads:
        return bad(None, f"no signed tree head although the ledger holds {n} events "
                         f"(ledger.sth.jsonl deleted?); {RESTORE_HINT}")
    previous: SignedTreeHead | None = None
    for number, head in enumerate(heads, start=1):
        assert public_key is not None
        why = head.problem(public_key)
        if why:
            return bad(None, f"signed tree head {number}: {why}")
        if head.tree_size > n:
            return bad(n + 1, f"signed tree head {number} covers {head.tree_size} events but the "
                              f"ledger holds {n} (truncated, deleted or rolled back)")
        if head.tree_size == 0 or merkle.levels_root(built, head.tree_size) != head.root:
            return bad(None, (
                f"the first {head.tree_size} events differ from what signed tree head {number} "
                "signed (history rewritten)"))
        why = head.follows_problem(previous)
        if why and not (previous is None and (restoring or _restored(head, lines))):
            return bad(None, f"signed tree head {number}: {why}")
        previous = head
    assert previous is not None
    if previous.tree_size < n and not (allow_unsigned_tail and not previous.chained):
        if not previous.chained:
            return bad(previous.tree_size + 1, (
                f"events {previous.tree_size + 1}..{n} follow the newest signed head, a "
                "faceaudit-sth/1 head of a home from before every event was signed: run "
                "`faceaudit ledger sth --upgrade` once (docs/ledger.md)"))
        return bad(previous.tree_size + 1, (
            f"events {previous.tree_size + 1}..{n} are covered by no signed tree head "
            "(appended without the signing key, or newer heads deleted)"))
    return replace(report, tree_heads_verified=len(heads), signed_size=previous.tree_size)


RESTORE_HINT = ("the home stays refused until its heads are restored from a witness's or a "
                "backup's copy: `faceaudit ledger restore-heads FILE` (docs/ledger.md)")


def restored_head_hash(event: dict[str, Any]) -> str | None:
    """The hash of the head a ``ledger_recovery`` event of ``restore-heads`` restored, or None."""
    result = event.get("result") or {}
    if event.get("action") != "ledger_recovery" or result.get("kind") != "restore-heads":
        return None
    value = result.get("restored_head_hash")
    return value if isinstance(value, str) else None


def _restored(head: SignedTreeHead, lines: Sequence[bytes]) -> bool:
    """Whether ``head``, the first of the log, is one ``faceaudit ledger restore-heads`` put
    there: a ``ledger_recovery`` event (covered by a later signed head) names its hash."""
    want = head_hash(head)
    for line in lines[head.tree_size:]:
        if b'"ledger_recovery"' in line and restored_head_hash(json.loads(line)) == want:
            return True
    return False


def _tree_problem(stored_levels: Sequence[bytes], built: Sequence[Sequence[bytes]],
                  n: int) -> tuple[int | None, str] | None:
    """Why the stored tree disagrees with the ledger, or None. The stored tree may lag the
    ledger (an append interrupted before its leaf was written; the next append catches up)."""
    if not stored_levels:
        return None
    t = len(stored_levels[0]) // HASH_SIZE
    if t > n:
        return n + 1, f"the stored Merkle tree has {t} leaves but the ledger {n} events"
    for level, data in enumerate(stored_levels):
        count = t >> level
        if count == 0:
            break
        want = b"".join(built[level][:count])
        have = data[: count * HASH_SIZE]
        if have != want:
            i = next(i for i in range(count)
                     if have[i * HASH_SIZE:(i + 1) * HASH_SIZE] != built[level][i])
            return (i << level) + 1, "the stored Merkle tree differs from the ledger"
    return None

