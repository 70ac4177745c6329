"""The transparency part of ``ledger verify``: the stored Merkle tree and every signed tree
head must agree with the ledger's events."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from faceaudit.ledger import merkle
from faceaudit.ledger.signing import load_public_key
from faceaudit.ledger.sth import SignedTreeHead
from faceaudit.ledger.tree import HASH_SIZE
from faceaudit.ledger.verify import VerifyReport


def check_transparency(
    report: VerifyReport,
    lines: Sequence[bytes],
    stored_levels: Sequence[bytes],
    heads: Sequence[SignedTreeHead],
    public_key_path: Path | None,
) -> VerifyReport:
    """Extend a chain-verified ``report`` of the ledger ``lines`` with the checks of the stored
    tree (``stored_levels``: raw level files) and of the signed tree heads ``heads``."""
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
    if public_key is not None and not heads:
        return bad(None, "no signed tree head although the deployment has a signing key "
                         "(ledger.sth.jsonl deleted?)")
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
        if previous is not None and head.tree_size < previous.tree_size:
            return bad(None, f"signed tree head {number} is smaller than the one before it")
        previous = head
    return replace(report, tree_heads_verified=len(heads),
                   signed_size=previous.tree_size if previous else 0)


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

