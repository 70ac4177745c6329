"""RFC 9162 (Certificate Transparency 2.0) Merkle tree hashing, proofs and their verification.

Pure functions over 32-byte SHA-256 hashes; where the tree's nodes come from is the caller's
business: ``subtree(start, end)`` must return ``MTH(D[start:end])`` (see
:class:`faceaudit.ledger.tree.StoredTree`, which answers it in O(log n) from a stored tree).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

Subtree = Callable[[int, int], bytes]

EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(leaf: bytes) -> bytes:
    """Return ``SHA-256(0x00 || leaf)``, the hash of one leaf (RFC 9162 §2.1.1)."""
    return hashlib.sha256(b"\x00" + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Return ``SHA-256(0x01 || left || right)``, the hash of an interior node."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def split_point(n: int) -> int:
    """Return the largest power of two strictly smaller than ``n`` (``n >= 2``)."""
    return 1 << ((n - 1).bit_length() - 1)


def root_from_leaves(leaf_hashes: Sequence[bytes]) -> bytes:
    """Return ``MTH`` of a list of leaf hashes (in memory; for tests and rebuilding)."""
    return levels_root(build_levels(leaf_hashes), len(leaf_hashes))


def build_levels(leaf_hashes: Sequence[bytes]) -> list[list[bytes]]:
    """Return the complete-subtree hashes per level: level ``k`` item ``i`` is
    ``MTH(D[i*2^k : (i+1)*2^k])`` for every such range inside the tree."""
    levels = [list(leaf_hashes)]
    while len(levels[-1]) >= 2:
        below = levels[-1]
        levels.append([node_hash(below[i], below[i + 1]) for i in range(0, len(below) - 1, 2)])
    return levels


def levels_subtree(levels: Sequence[Sequence[bytes]]) -> Subtree:
    """Return a ``subtree(start, end)`` function answering from in-memory ``levels``."""

    def aligned(level: int, index: int) -> bytes:
        return levels[level][index]

    return lambda start, end: subtree_hash(aligned, start, end)


def levels_root(levels: Sequence[Sequence[bytes]], size: int) -> bytes:
    """Return ``MTH(D[0:size])`` from in-memory ``levels`` (``size`` may be a prefix)."""
    return levels_subtree(levels)(0, size) if size else EMPTY_ROOT


def subtree_hash(aligned: Callable[[int, int], bytes], start: int, end: int) -> bytes:
    """Return ``MTH(D[start:end])`` given ``aligned(level, index)``, the stored hash of the
    complete subtree ``D[index*2^level : (index+1)*2^level]``.

    The ranges proofs ask for are aligned complete subtrees (one read) or the right edge of a
    tree, which splits into at most log2(n) aligned ones.
    """
    width = end - start
    if width <= 0:
        raise ValueError("empty range")
    if width & (width - 1) == 0 and start % width == 0:
        return aligned(width.bit_length() - 1, start // width)
    k = split_point(width)
    return node_hash(subtree_hash(aligned, start, start + k),
                     subtree_hash(aligned, start + k, end))


def inclusion_path(index: int, size: int, subtree: Subtree) -> list[bytes]:
    """Return the audit path of leaf ``index`` in the tree of ``size`` leaves (RFC 9162
    §2.1.3.1), leaf-side first."""
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of {size} leaves")
    path: list[bytes] = []
    start, end = 0, size
    while end - start > 1:
        k = split_point(end - start)
        if index < start + k:
            path.append(subtree(start + k, end))
            end = start + k
        else:
            path.append(subtree(start, start + k))
            start += k
    return path[::-1]


def consistency_path(first: int, second: int, subtree: Subtree) -> list[bytes]:
    """Return the consistency proof between tree sizes ``first`` and ``second`` (RFC 9162
    §2.1.4.1); empty when the sizes are equal."""
    if not 0 < first <= second:
        raise ValueError(f"no consistency proof from size {first} to size {second}")
    path: list[bytes] = []
    start, end, m, complete = 0, second, first, True
    while True:
        n = end - start
        if m == n:
            if not complete:
                path.append(subtree(start, end))
            break
        k = split_point(n)
        if m <= k:
            path.append(subtree(start + k, end))
            end = start + k
        else:
            path.append(subtree(start, start + k))
            start, m, complete = start + k, m - k, False
    return path[::-1]


def root_from_inclusion(index: int, size: int, leaf: bytes, path: Sequence[bytes]) -> bytes | None:
    """Return the root implied by an audit path (RFC 9162 §2.1.3.2), or None when the path
    cannot belong to leaf ``index`` of a tree of ``size``."""
    if not 0 <= index < size:
        return None
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not (fn & 1 or fn == 0):
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    return r if sn == 0 else None


def verify_inclusion(index: int, size: int, leaf: bytes, path: Sequence[bytes],
                     root: bytes) -> bool:
    """Whether ``path`` proves leaf hash ``leaf`` is leaf ``index`` of the tree ``root``."""
    return root_from_inclusion(index, size, leaf, path) == root


def verify_consistency(first: int, second: int, first_root: bytes, second_root: bytes,
                       path: Sequence[bytes]) -> bool:
    """Whether ``path`` proves the tree ``first_root`` (``first`` leaves) is a prefix of the
    tree ``second_root`` (``second`` leaves) — RFC 9162 §2.1.4.2."""
    if not 0 < first <= second:
        return False
    if first == second:
        return not path and first_root == second_root
    path = list(path)
    if first & (first - 1) == 0:  # an exact power of two: the old root is a node of the new tree
        path = [first_root, *path]
    if not path:
        return False
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while not (fn & 1 or fn == 0):
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and fr == first_root and sr == second_root


def extended_root(aligned: Callable[[int, int], bytes], size: int,
                  new_leaves: Sequence[bytes]) -> bytes:
    """Return ``MTH`` of the first ``size`` leaves (stored nodes ``aligned(level, index)``)
    followed by ``new_leaves`` — the root a tree will have once they are appended, computed
    before anything is written (O(len(new_leaves) + log size) hashes)."""
    total = size + len(new_leaves)
    if total == 0:
        return EMPTY_ROOT

    def node(level: int, index: int) -> bytes:
        if (index + 1) << level <= size:
            return aligned(level, index)
        if level == 0:
            return new_leaves[index - size]
        return node_hash(node(level - 1, 2 * index), node(level - 1, 2 * index + 1))

    return subtree_hash(node, 0, total)
