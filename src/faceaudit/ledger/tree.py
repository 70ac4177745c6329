"""The stored Merkle tree of a ledger: one append-only file of 32-byte node hashes per level.

``DIR/level-00`` holds the leaf hashes, ``DIR/level-k`` item ``i`` the hash of the complete
subtree over leaves ``[i*2^k, (i+1)*2^k)``. An append writes one leaf and the ≤ log2(n) parents
it completes, so the tree is kept up to date on every ledger append for O(log n) work; any
subtree a proof asks for is one read (aligned) or ≤ log2(n) reads (the right edge of a tree).
The tree is derived data: it can always be rebuilt from the ledger (:meth:`StoredTree.rebuild`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from faceaudit.ledger import merkle
from faceaudit.ledger.errors import LedgerError

HASH_SIZE = 32
MAX_LEVELS = 64


class StoredTree:
    """The node files under ``directory`` (read-only use never creates anything)."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    def level_path(self, level: int) -> Path:
        """The file of level ``level`` (0 = leaf hashes)."""
        return self.directory / f"level-{level:02d}"

    def exists(self) -> bool:
        """Whether the tree has been created (its leaf file exists)."""
        return self.level_path(0).exists()

    @property
    def size(self) -> int:
        """The number of leaves stored (whole hashes only)."""
        try:
            return self.level_path(0).stat().st_size // HASH_SIZE
        except FileNotFoundError:
            return 0

    # -- reading -----------------------------------------------------------------------------

    def node(self, level: int, index: int) -> bytes:
        """Return the stored hash of complete subtree ``index`` at ``level``."""
        try:
            with open(self.level_path(level), "rb") as fh:
                data = os.pread(fh.fileno(), HASH_SIZE, index * HASH_SIZE)
        except FileNotFoundError:
            data = b""
        if len(data) != HASH_SIZE:
            raise LedgerError(
                f"the stored Merkle tree lacks node {index} of level {level}; "
                "run `faceaudit ledger verify`"
            )
        return data

    def leaf(self, index: int) -> bytes:
        """Return the hash of leaf ``index`` (0-based)."""
        return self.node(0, index)

    def subtree(self, start: int, end: int) -> bytes:
        """Return ``MTH(D[start:end])`` from the stored nodes."""
        return merkle.subtree_hash(self.node, start, end)

    def root(self, size: int) -> bytes:
        """Return the root hash of the tree made of the first ``size`` leaves."""
        self._check_size(size)
        return self.subtree(0, size) if size else merkle.EMPTY_ROOT

    def inclusion(self, index: int, size: int) -> list[bytes]:
        """Return the audit path of leaf ``index`` in the tree of the first ``size`` leaves."""
        self._check_size(size)
        return merkle.inclusion_path(index, size, self.subtree)

    def consistency(self, first: int, second: int) -> list[bytes]:
        """Return the consistency proof between the trees of ``first`` and ``second`` leaves."""
        self._check_size(second)
        return merkle.consistency_path(first, second, self.subtree)

    def levels(self) -> list[bytes]:
        """Return the raw contents of every level file (for verification)."""
        out = []
        for level in range(MAX_LEVELS):
            path = self.level_path(level)
            if not path.exists():
                break
            out.append(path.read_bytes())
        return out

    # -- writing (callers hold the ledger lock) ----------------------------------------------

    def append(self, leaf_hashes: Iterable[bytes]) -> int:
        """Append leaf hashes and every parent they complete; return the new size."""
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        size = self.repair()
        files: dict[int, int] = {}
        pending: dict[int, list[bytes]] = {}
        try:
            for leaf in leaf_hashes:
                level, index, current = 0, size, leaf
                pending.setdefault(0, []).append(leaf)
                while index & 1:
                    left = self._read_pending(files, pending, level, index - 1)
                    current = merkle.node_hash(left, current)
                    level, index = level + 1, index >> 1
                    pending.setdefault(level, []).append(current)
                size += 1
                if len(pending[0]) >= 4096:
                    self._flush(files, pending)
            self._flush(files, pending)
        finally:
            for fd in files.values():
                os.close(fd)
        return size

    def rebuild(self, leaf_hashes: Sequence[bytes]) -> None:
        """Replace the stored tree with the tree of ``leaf_hashes``."""
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        for level in range(MAX_LEVELS):
            self.level_path(level).unlink(missing_ok=True)
        self.level_path(0).touch(mode=0o600)
        self.append(leaf_hashes)

    def truncate(self, size: int) -> None:
        """Cut the tree back to its first ``size`` leaves."""
        for level in range(MAX_LEVELS):
            path = self.level_path(level)
            if not path.exists():
                break
            keep = (size >> level) * HASH_SIZE
            if path.stat().st_size > keep:
                os.truncate(path, keep)

    def repair(self) -> int:
        """Bring the upper levels in line with the leaf level after an interrupted append
        (a partial hash is cut, a missing parent is recomputed); return the size."""
        size = self.size
        leaf_path = self.level_path(0)
        if leaf_path.exists() and leaf_path.stat().st_size != size * HASH_SIZE:
            os.truncate(leaf_path, size * HASH_SIZE)
        for level in range(1, MAX_LEVELS):
            want = size >> level
            path = self.level_path(level)
            have = path.stat().st_size // HASH_SIZE if path.exists() else 0
            if want == 0 and have == 0:
                break
            if have > want or (path.exists() and path.stat().st_size != have * HASH_SIZE):
                os.truncate(path, min(have, want) * HASH_SIZE)
                have = min(have, want)
            if have < want:
                with open(path, "ab") as fh:
                    for i in range(have, want):
                        fh.write(merkle.node_hash(self.node(level - 1, 2 * i),
                                                  self.node(level - 1, 2 * i + 1)))
        return size

    def _read_pending(self, files: dict[int, int], pending: dict[int, list[bytes]],
                      level: int, index: int) -> bytes:
        """Read node (level, index), which may still be in the not-yet-written batch."""
        stored = self._stored_count(files, level)
        if index >= stored:
            return pending[level][index - stored]
        return os.pread(self._fd(files, level), HASH_SIZE, index * HASH_SIZE)

    def _stored_count(self, files: dict[int, int], level: int) -> int:
        return os.fstat(self._fd(files, level)).st_size // HASH_SIZE

    def _fd(self, files: dict[int, int], level: int) -> int:
        if level not in files:
            files[level] = os.open(self.level_path(level),
                                   os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
        return files[level]

    def _flush(self, files: dict[int, int], pending: dict[int, list[bytes]]) -> None:
        # parents first, leaves last: a crash leaves a leaf level that ``repair`` trusts
        for level in sorted(pending, reverse=True):
            if pending[level]:
                os.write(self._fd(files, level), b"".join(pending[level]))
        pending.clear()

    def _check_size(self, size: int) -> None:
        if not 0 <= size <= self.size:
            raise LedgerError(f"the log has {self.size} entries, not {size}")
