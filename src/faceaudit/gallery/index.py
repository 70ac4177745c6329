"""A FAISS inverted-file index (IVF-Flat, inner product) for large galleries.

IVF is chosen over HNSW because it removes entries for real (``remove_ids``): an erased
subject's vectors leave the index at once, instead of lingering as tombstones until a rebuild.
The index is never written to disk — it is rebuilt from the database when a process loads the
gallery — so the database stays the only file that ever holds an embedding.
"""

from __future__ import annotations

import math

import faiss
import numpy as np

NITER = 10
TRAIN_POINTS_PER_LIST = 40


def default_nlist(n: int) -> int:
    """Number of inverted lists for ``n`` vectors: about 4·√n, at least 1."""
    return max(1, int(4 * math.sqrt(n)))


def default_nprobe(nlist: int) -> int:
    """Lists probed per query: one in 8, at least 16 (recall@10 ≥ 0.99 in ``bench/identify``)."""
    return min(nlist, max(16, nlist // 8))


class IvfIndex:
    """Approximate inner-product search over unit vectors, with add and remove by id."""

    def __init__(self, embeddings: np.ndarray, ids: np.ndarray, *, seed: int = 0):
        """Train the coarse quantiser on a sample of ``embeddings`` and add them all."""
        embeddings = np.ascontiguousarray(embeddings, dtype=np.float32)
        n, dim = embeddings.shape
        self.nlist = default_nlist(n)
        quantiser = faiss.IndexFlatIP(dim)
        self._index = faiss.IndexIVFFlat(quantiser, dim, self.nlist, faiss.METRIC_INNER_PRODUCT)
        self._quantiser = quantiser  # the IVF index does not own it; keep it alive
        self._index.cp.niter = NITER
        self._index.cp.seed = seed
        n_train = min(n, TRAIN_POINTS_PER_LIST * self.nlist)
        sample = np.random.default_rng(seed).choice(n, n_train, replace=False)
        self._index.train(embeddings[np.sort(sample)])
        self._index.nprobe = default_nprobe(self.nlist)
        self.add(embeddings, ids)

    def __len__(self) -> int:
        """Number of vectors in the index."""
        return int(self._index.ntotal)

    @property
    def nprobe(self) -> int:
        """Inverted lists visited per query (more: slower, higher recall)."""
        return int(self._index.nprobe)

    @nprobe.setter
    def nprobe(self, value: int) -> None:
        self._index.nprobe = max(1, min(int(value), self.nlist))

    def add(self, embeddings: np.ndarray, ids: np.ndarray) -> None:
        """Add rows of ``embeddings`` under the int64 ``ids``."""
        self._index.add_with_ids(
            np.ascontiguousarray(embeddings, dtype=np.float32), np.asarray(ids, dtype=np.int64)
        )

    def remove(self, ids: np.ndarray) -> int:
        """Remove the vectors stored under ``ids``; returns how many were removed."""
        return int(self._index.remove_ids(np.asarray(ids, dtype=np.int64)))

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` (scores, ids) per query row; missing slots have id -1."""
        queries = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        return self._index.search(queries, k)
