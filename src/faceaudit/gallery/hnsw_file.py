"""The FAISS HNSW index of a gallery, kept in the deployment home so a new process loads it.

Building the graph of 10⁶ templates takes minutes; loading a saved one takes about a second.
The file (``HOME/gallery.hnsw``) records what it was built from, and is used only when all of
it matches the gallery as stored now:

* the backend id, the store's ``generation`` (bumped by every change to the templates) and the
  template count;
* ``templates_sha256``: a digest of the template ids and their subjects, in id order,
  recomputed from the store on every load;
* ``body_sha256``: a digest of the serialised graph, checked before FAISS parses a byte.

The header also records ``vectors_sha256``, a digest of the template ids and the vectors the
graph was built from (in id order). The embeddings are *not* read back from the store to check
it on every load — reading 10⁶ of them costs seconds, which is what the file saves. What ties
the file to their content is the store's generation (bumped in the same transaction as every
change to the templates) and a spot check: the vectors of :data:`SPOT_CHECKS` random templates
of the graph must be the ones the store holds for their subjects.

The file is never trusted: a missing, truncated, corrupt, foreign or stale file — or a graph
whose structure does not add up (node levels, neighbour lists, entry point) — is reported as a
reason and the caller rebuilds; nothing here raises on bad content. Writes go to a temporary
file that is renamed over the old one, under an ``flock`` on ``gallery.hnsw.lock`` that also
serialises erasure's rewrite, with the store's generation checked again under the lock so a
writer can never put back a graph that an erasure has since made stale.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import struct
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

import faiss
import numpy as np

from faceaudit.gallery.errors import GalleryError
from faceaudit.gallery.hnsw_index import HnswIndex
from faceaudit.gallery.records import TemplateSet

MAGIC = b"FAHNSW\x00\x01"
FORMAT = "faceaudit.hnsw/1"
MAX_HEADER_BYTES = 1 << 20
CHUNK_BYTES = 1 << 24
SPOT_CHECKS = 16
_LENGTH = struct.Struct("<Q")


@dataclass(frozen=True)
class IndexSource:
    """What a graph was built from: the gallery's backend, generation and templates."""

    backend_id: str
    generation: int
    template_ids: np.ndarray
    subject_ids: list[str]

    @classmethod
    def of(cls, backend_id: str, templates: TemplateSet) -> IndexSource:
        """The source description of ``templates`` (embeddings are not needed)."""
        return cls(backend_id, int(templates.generation),
                   np.asarray(templates.template_ids, dtype=np.int64),
                   list(templates.subject_ids))

    def templates_sha256(self) -> str:
        """Digest of the template ids and their subjects, in id order."""
        ids = self.template_ids
        if np.all(ids[1:] > ids[:-1]):
            subjects = self.subject_ids
        else:
            order = np.argsort(ids, kind="stable")
            ids, subjects = ids[order], [self.subject_ids[i] for i in order.tolist()]
        digest = hashlib.sha256(ids.astype("<i8").tobytes())
        digest.update("\n".join(subjects).encode())
        return digest.hexdigest()


def vectors_sha256(index: HnswIndex) -> str:
    """Digest of the live ids and their stored vectors, in id order."""
    ids, positions = index.live()
    order = np.argsort(ids, kind="stable")
    digest = hashlib.sha256(ids[order].astype("<i8").tobytes())
    digest.update(np.ascontiguousarray(index.stored_vectors()[positions[order]],
                                       dtype="<f4").tobytes())
    return digest.hexdigest()


class IndexFile:
    """Save, load, and discard one home's persisted HNSW graph (``gallery.hnsw``)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        #: why the last :meth:`load` returned None (``"missing"``, ``"stale: …"``, …)
        self.last_reason: str | None = None

    @property
    def lock_path(self) -> Path:
        """The lock file that serialises writers of the index file."""
        return self.path.with_name(self.path.name + ".lock")

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the exclusive writer lock of the index file."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    # -- reading ---------------------------------------------------------------------------

    def header(self) -> dict[str, Any] | None:
        """The file's header, or None when there is no readable, well-formed one."""
        try:
            with open(self.path, "rb") as f:
                return _read_header(f)[0]
        except (OSError, ValueError):
            return None

    def load(
        self, source: IndexSource, stored: Callable[[str], np.ndarray] | None = None
    ) -> HnswIndex | None:
        """The saved graph if it was built from exactly ``source``, else None (the reason in
        :attr:`last_reason`). Never raises on a bad file.

        ``stored(subject_id)`` returns that subject's templates from the store
        (:meth:`GalleryStore.subject_templates`): the vectors of SPOT_CHECKS random templates
        in the graph must be among them, a check of the graph's content against the store's
        that reads a few rows, not all of them.
        """
        try:
            index, reason = self._load(source, stored)
        except (OSError, ValueError, TypeError, KeyError, RuntimeError, MemoryError,
                GalleryError) as exc:
            index, reason = None, f"unreadable: {type(exc).__name__}"
        self.last_reason = reason
        return index

    def _load(
        self, source: IndexSource, stored: Callable[[str], np.ndarray] | None
    ) -> tuple[HnswIndex | None, str | None]:
        if not self.path.exists():
            return None, "missing"
        with open(self.path, "rb") as f:
            header, body_offset = _read_header(f)
        if header is None:
            return None, "corrupt: no valid header"
        expected = {"backend_id": source.backend_id, "generation": source.generation,
                    "count": len(source.template_ids)}
        for key, value in expected.items():
            if header.get(key) != value:
                return None, f"stale: {key} {header.get(key)!r}, the gallery has {value!r}"
        if header.get("templates_sha256") != source.templates_sha256():
            return None, "stale: built from other templates"
        given = [header.get(k) for k in ("faiss_bytes", "labels", "erased")]
        sizes = [v for v in given if isinstance(v, int) and v >= 0]
        if len(sizes) < len(given):
            return None, "corrupt: bad sizes in the header"
        body_size = sizes[0] + 8 * (sizes[1] + sizes[2])
        with open(self.path, "rb") as f:
            if os.fstat(f.fileno()).st_size != body_offset + body_size:
                return None, "corrupt: truncated or extended"
            # one pass to check the body, then FAISS parses the same open file: writers
            # replace the file by renaming, so the bytes under this descriptor do not change
            f.seek(body_offset)
            digest = hashlib.sha256()
            while chunk := f.read(CHUNK_BYTES):
                digest.update(chunk)
            if digest.hexdigest() != header.get("body_sha256"):
                return None, "corrupt: body checksum differs"
            f.seek(body_offset)
            labels = np.frombuffer(f.read(8 * sizes[1]), dtype="<i8").astype(np.int64)
            erased = np.frombuffer(f.read(8 * sizes[2]), dtype="<i8").astype(np.int64)
            raw = faiss.read_index(faiss.PyCallbackIOReader(f.read, CHUNK_BYTES))
        problem = _graph_problem(raw, len(labels), header.get("dim"))
        if problem:
            return None, f"corrupt: {problem}"
        if len(erased) and (erased.min() < 0 or erased.max() >= len(labels)
                            or len(np.unique(erased)) != len(erased)):
            return None, "corrupt: erased positions out of range"
        index = HnswIndex.restore(raw, labels, erased)
        live_ids, _ = index.live()
        if not np.array_equal(np.sort(live_ids), np.sort(source.template_ids)):
            return None, "stale: the graph holds other template ids"
        if stored is not None and not _spot_check(index, source, stored):
            return None, "stale: the graph's vectors differ from the gallery's"
        return index, None

    # -- writing ---------------------------------------------------------------------------

    def save(self, index: HnswIndex, source: IndexSource, current_generation: Any) -> bool:
        """Write ``index`` (built from ``source``) atomically, if the store is still at
        ``source.generation``: ``current_generation()`` is asked under the writer lock, so a
        graph an erasure made stale is never put back. Returns whether it was written."""
        blob, labels, erased = index.parts()
        body = [labels.astype("<i8").tobytes(), erased.astype("<i8").tobytes(), blob.tobytes()]
        digest = hashlib.sha256()
        for part in body:
            digest.update(part)
        header = {
            "format": FORMAT, "backend_id": source.backend_id, "generation": source.generation,
            "count": len(source.template_ids), "dim": index.dim,
            "templates_sha256": source.templates_sha256(),
            "vectors_sha256": vectors_sha256(index),
            "faiss_bytes": len(body[2]), "labels": len(labels), "erased": len(erased),
            "body_sha256": digest.hexdigest(),
            "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        encoded = json.dumps(header).encode()
        with self.locked():
            if current_generation() != source.generation:
                return False
            tmp = self.path.with_name(self.path.name + ".tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                with os.fdopen(fd, "wb") as f:
                    f.write(MAGIC + _LENGTH.pack(len(encoded)) + encoded)
                    for part in body:
                        f.write(part)
                    f.flush()
                    os.fsync(f.fileno())
                os.replace(tmp, self.path)
            finally:
                tmp.unlink(missing_ok=True)
            _fsync_dir(self.path.parent)
        return True

    def discard(self) -> None:
        """Delete the index file (call with :meth:`locked` held when racing writers)."""
        self.path.unlink(missing_ok=True)
        self.path.with_name(self.path.name + ".tmp").unlink(missing_ok=True)
        _fsync_dir(self.path.parent)

    def discard_older_than(self, generation: int) -> bool:
        """Under the writer lock, delete the file unless it was saved at ``generation`` or
        later; returns whether a file was deleted. A graph of an older generation may hold
        vectors erased since, so it is never kept."""
        if not self.path.exists():
            return False
        with self.locked():
            if not self.path.exists():
                return False
            header = self.header()
            saved = header.get("generation") if header is not None else None
            if isinstance(saved, int) and saved >= generation:
                return False
            self.discard()
            return True


def _spot_check(
    index: HnswIndex, source: IndexSource, stored: Callable[[str], np.ndarray]
) -> bool:
    """Whether SPOT_CHECKS random templates of the graph hold their vector in the store."""
    n = len(source.template_ids)
    rows = np.random.default_rng().choice(n, size=min(SPOT_CHECKS, n), replace=False)
    vectors = index.vectors_of(source.template_ids[rows])
    for row, vector in zip(rows.tolist(), vectors, strict=True):
        candidates = stored(source.subject_ids[row])
        if candidates.size == 0 or not np.any(np.all(candidates == vector, axis=1)):
            return False
    return True


def _read_header(f: BinaryIO) -> tuple[dict[str, Any] | None, int]:
    """(header, offset of the body) of an open index file; (None, 0) if it has none."""
    head = f.read(len(MAGIC) + _LENGTH.size)
    if len(head) != len(MAGIC) + _LENGTH.size or not head.startswith(MAGIC):
        return None, 0
    (size,) = _LENGTH.unpack(head[len(MAGIC):])
    if size > MAX_HEADER_BYTES:
        return None, 0
    try:
        header = json.loads(f.read(size))
    except ValueError:
        return None, 0
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        return None, 0
    return header, len(head) + size


def _graph_problem(raw: faiss.Index, n_labels: int, dim: Any) -> str | None:
    """Why a deserialised index is not a well-formed inner-product HNSW graph, or None."""
    index = faiss.downcast_index(raw)
    if not isinstance(index, faiss.IndexHNSWFlat):
        return f"not an HNSW flat index ({type(index).__name__})"
    if index.metric_type != faiss.METRIC_INNER_PRODUCT or index.d != dim:
        return "wrong metric or dimension"
    n = int(index.ntotal)
    storage = faiss.downcast_index(index.storage)
    if n != n_labels or not isinstance(storage, faiss.IndexFlat) or storage.ntotal != n \
            or storage.d != index.d or storage.codes.size() != n * index.d * 4:
        return "node count differs from its labels or storage"
    hnsw = index.hnsw
    levels = faiss.vector_to_array(hnsw.levels)
    offsets = faiss.vector_to_array(hnsw.offsets).astype(np.int64)
    neighbors = faiss.vector_to_array(hnsw.neighbors)
    cum = faiss.vector_to_array(hnsw.cum_nneighbor_per_level).astype(np.int64)
    if len(levels) != n or len(offsets) != n + 1 or n == 0:
        return "node levels or offsets missing"
    if levels.min() < 1 or levels.max() >= len(cum):
        return "node level out of range"
    if offsets[0] != 0 or offsets[-1] != len(neighbors) \
            or not np.array_equal(np.diff(offsets), cum[levels]):
        return "neighbour offsets inconsistent"
    if len(neighbors) and (neighbors.min() < -1 or neighbors.max() >= n):
        return "neighbour id out of range"
    entry = int(hnsw.entry_point)
    if not 0 <= entry < n or int(hnsw.max_level) != int(levels[entry]) - 1:
        return "entry point out of range"
    return None


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
