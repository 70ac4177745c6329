"""A FAISS HNSW graph index (inner product) for large galleries, with real erasure.

HNSW cannot delete a node from its graph, so erasing a template does two things at once: the
stored vector is overwritten with zeros in the index's own memory (the embedding is gone, not
just hidden) and the id is excluded from every later search by an id selector. When erased
nodes exceed :data:`REBUILD_FRACTION` of the graph, the owner rebuilds it from live templates.

A deployment keeps the graph in its home (:mod:`faceaudit.gallery.hnsw_file`) so that a new
process loads it instead of rebuilding it; :meth:`HnswIndex.parts` and :meth:`HnswIndex.restore`
are the two halves of that. Erased vectors are zeros in the parts too.
"""

from __future__ import annotations

from typing import Any

import faiss
import numpy as np

M = 32
EF_CONSTRUCTION = 40
EF_SEARCH = 256
REBUILD_FRACTION = 0.2


class HnswIndex:
    """Approximate inner-product search over unit vectors, with add and erase by id."""

    _owner: Any = None  # restore(): the SWIG object that owns a loaded graph

    def __init__(self, embeddings: np.ndarray, ids: np.ndarray, *, ef_search: int = EF_SEARCH):
        """Build the graph over ``embeddings`` (rows) labelled with the int64 ``ids``."""
        embeddings = np.ascontiguousarray(embeddings, dtype=np.float32)
        self._index = faiss.IndexHNSWFlat(embeddings.shape[1], M, faiss.METRIC_INNER_PRODUCT)
        self._index.hnsw.efConstruction = EF_CONSTRUCTION
        self.ef_search = ef_search
        self._labels = np.empty(0, dtype=np.int64)
        self._position_map: dict[int, int] | None = {}
        self._erased: set[int] = set()
        self._params: Any = None  # a faiss.SearchParametersHNSW, made on first search
        self._selector: tuple | None = None  # keeps the SWIG selector objects alive
        self.add(embeddings, ids)

    @classmethod
    def restore(
        cls, index: faiss.Index, labels: np.ndarray, erased: np.ndarray, *,
        ef_search: int = EF_SEARCH,
    ) -> HnswIndex:
        """An index around an already built (deserialised) HNSW flat graph: ``labels[i]`` is
        the id of node ``i``; ``erased`` lists the node positions erased (zeros, excluded from
        search)."""
        self = cls.__new__(cls)
        self._owner = index  # the SWIG object that owns the graph; the downcast view does not
        self._index = faiss.downcast_index(index)
        self.ef_search = ef_search
        self._labels = np.asarray(labels, dtype=np.int64)
        self._erased = {int(p) for p in erased}
        self._position_map = None  # built on the first add or erase, not on load
        self._params = None
        self._selector = None
        return self

    def parts(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(serialised FAISS index as uint8, node labels, erased node positions), which
        :meth:`restore` turns back into an equal index."""
        erased = np.asarray(sorted(self._erased), dtype=np.int64)
        return faiss.serialize_index(self._index), self._labels.copy(), erased

    @property
    def dim(self) -> int:
        """Dimension of the vectors."""
        return int(self._index.d)

    def stored_vectors(self) -> np.ndarray:
        """A read-only view of every node's stored vector (erased nodes: zeros)."""
        storage = faiss.downcast_index(self._index.storage)
        n, dim = int(self._index.ntotal), self.dim
        view = faiss.rev_swig_ptr(storage.get_xb(), n * dim).reshape(n, dim)
        view.flags.writeable = False
        return view

    def _positions(self) -> dict[int, int]:
        """Node position of every live id (built on first use)."""
        if self._position_map is None:
            self._position_map = dict(zip(self._labels.tolist(), range(len(self._labels)),
                                          strict=True))
            for position in self._erased:
                self._position_map.pop(int(self._labels[position]), None)
        return self._position_map

    def vectors_of(self, ids: np.ndarray) -> np.ndarray:
        """The stored vectors of live ``ids`` (rows in the order given)."""
        ids = np.asarray(ids, dtype=np.int64)
        labels = self._labels
        if np.all(labels[1:] > labels[:-1]):
            positions = np.searchsorted(labels, ids)
        else:
            order = np.argsort(labels, kind="stable")
            positions = order[np.searchsorted(labels[order], ids)]
        return np.array(self.stored_vectors()[positions])

    def live(self) -> tuple[np.ndarray, np.ndarray]:
        """(ids, node positions) of the live (not erased) vectors, in node order."""
        positions = np.arange(len(self._labels), dtype=np.int64)
        if self._erased:
            keep = np.ones(len(self._labels), dtype=bool)
            keep[np.fromiter(self._erased, dtype=np.int64)] = False
            positions = positions[keep]
        return self._labels[positions], positions

    def __len__(self) -> int:
        """Number of live (not erased) vectors."""
        return int(self._index.ntotal) - len(self._erased)

    @property
    def needs_rebuild(self) -> bool:
        """Whether erased nodes make up more than REBUILD_FRACTION of the graph."""
        return len(self._erased) > REBUILD_FRACTION * max(1, int(self._index.ntotal))

    def add(self, embeddings: np.ndarray, ids: np.ndarray) -> None:
        """Add rows of ``embeddings`` under the int64 ``ids``."""
        embeddings = np.ascontiguousarray(np.atleast_2d(embeddings), dtype=np.float32)
        ids = np.asarray(ids, dtype=np.int64)
        start = int(self._index.ntotal)
        self._index.add(embeddings)
        positions = self._positions()
        self._labels = np.concatenate([self._labels, ids])
        for offset, template_id in enumerate(ids.tolist()):
            positions[template_id] = start + offset

    def remove(self, ids: np.ndarray) -> int:
        """Erase the vectors stored under ``ids`` (zeroed in memory, never returned again)."""
        dim = self._index.d
        storage = faiss.downcast_index(self._index.storage)
        xb = storage.get_xb()
        stored = faiss.rev_swig_ptr(xb, int(self._index.ntotal) * dim)
        removed = 0
        positions = self._positions()
        for template_id in np.asarray(ids, dtype=np.int64).tolist():
            position = positions.pop(template_id, None)
            if position is None:
                continue
            stored[position * dim: (position + 1) * dim] = 0.0
            self._erased.add(position)
            removed += 1
        if removed:
            self._params = None
        return removed

    def _search_params(self, k: int) -> Any:
        if self._params is None:
            self._params = faiss.SearchParametersHNSW()
            if self._erased:
                batch = faiss.IDSelectorBatch(np.fromiter(self._erased, dtype=np.int64))
                self._selector = (batch, faiss.IDSelectorNot(batch))
                self._params.sel = self._selector[1]
        self._params.efSearch = max(self.ef_search, k)
        return self._params

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` (scores, ids) per query row, erased entries excluded; missing slots: -1."""
        queries = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        scores, positions = self._index.search(queries, k, params=self._search_params(k))
        ids = np.where(positions >= 0, self._labels[np.maximum(positions, 0)], -1)
        return scores, ids
