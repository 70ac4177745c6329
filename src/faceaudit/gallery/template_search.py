"""1:N search over the templates of one backend, kept in step with enrolment and erasure.

Below :data:`INDEX_MIN_TEMPLATES` templates a query is one matrix product over every template
(exact). From that size on, a FAISS HNSW index (:class:`~faceaudit.gallery.hnsw_index.HnswIndex`) is
built as well and answers queries; the exact matrix is kept so the index can be rebuilt (when
erasures pile up) and results checked. A deployment saves the index in its home and starts
from it (:meth:`TemplateSearch.from_index`) instead of rebuilding it; see
:mod:`faceaudit.gallery.hnsw_file`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from faceaudit.gallery.hnsw_index import HnswIndex
from faceaudit.gallery.records import TemplateSet

INDEX_MIN_TEMPLATES = 50_000


@dataclass(frozen=True)
class Hit:
    """One template returned by a search."""

    template_id: int
    subject_id: str
    score: float


def score_matrix(
    matrix: np.ndarray, queries: np.ndarray, subject_starts: np.ndarray | None = None
) -> np.ndarray:
    """Scores ``(Q, n)`` of every query against every row of ``matrix``: one matrix product.

    With ``subject_starts`` (the first row of each subject, rows sorted by subject), each
    column is a subject and holds the best score of its templates, as
    :meth:`TemplateSearch.search_subjects` ranks subjects.
    """
    scores = np.atleast_2d(np.asarray(queries, dtype=np.float32)) @ np.asarray(
        matrix, dtype=np.float32
    ).T
    if subject_starts is not None and 0 < len(subject_starts) < scores.shape[1]:
        scores = np.maximum.reduceat(scores, np.asarray(subject_starts, dtype=np.intp), axis=1)
    return scores


def top_k_rows(
    scores: np.ndarray, k: int, threshold: float | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` best columns of every row of ``scores`` ``(Q, n)``, best first; only columns
    scoring at least ``threshold`` when it is given.

    Returns (column indices, scores), each ``(Q, min(k, n))``; ties keep column order. Rows
    with fewer than ``k`` columns at or above ``threshold`` are padded with column ``-1`` and
    score ``-inf``.
    """
    scores = np.atleast_2d(scores)
    q, n = scores.shape
    k = max(0, min(k, n))
    if threshold is not None:  # sparse: only the columns at or above the threshold
        rows, cols = np.nonzero(scores >= threshold)
        picked = scores[rows, cols]
        order = np.lexsort((cols, -picked, rows))  # by row, best first, then column
        rows, cols, picked = rows[order], cols[order], picked[order]
        starts = np.searchsorted(rows, np.arange(q))
        rank = np.arange(len(rows)) - starts[rows]
        keep = rank < k
        out_cols = np.full((q, k), -1, dtype=np.intp)
        out_scores = np.full((q, k), -np.inf, dtype=scores.dtype)
        out_cols[rows[keep], rank[keep]] = cols[keep]
        out_scores[rows[keep], rank[keep]] = picked[keep]
        return out_cols, out_scores
    if k < n:
        cols = np.argpartition(-scores, k - 1, axis=1)[:, :k] if k else scores[:, :0].astype(int)
    else:
        cols = np.broadcast_to(np.arange(n), scores.shape)
    picked = np.take_along_axis(scores, cols, axis=1)
    # best first; among equal scores the lower column first (a deterministic order)
    order = np.lexsort((cols, -picked), axis=1) if k else cols
    cols = np.take_along_axis(cols, order, axis=1)
    return cols, np.take_along_axis(scores, cols, axis=1)


def exact_top_k(
    matrix: np.ndarray, query: np.ndarray, k: int, threshold: float | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Rows of ``matrix`` with the ``k`` highest inner products with ``query``, best first.

    Only rows scoring at least ``threshold`` are kept when it is given. Returns
    (row indices, scores), each of length ≤ k. The same two steps as a batch of queries
    (:func:`score_matrix`, :func:`top_k_rows`), which the identification audit runs.
    """
    rows, scores = top_k_rows(score_matrix(matrix, query), k, threshold)
    keep = rows[0] >= 0
    return rows[0][keep], scores[0][keep]


class TemplateSearch:
    """The templates of one backend in memory: exact search, plus HNSW above a size threshold."""

    def __init__(self, templates: TemplateSet, index_min: int = INDEX_MIN_TEMPLATES, *,
                 build_index: bool = True, index: HnswIndex | None = None):
        """Hold ``templates`` (from :meth:`GalleryStore.load_templates`).

        From ``index_min`` templates on, queries go to an HNSW graph: ``index`` when given
        (built over exactly these templates), else one built here — unless ``build_index`` is
        False, when search stays exact until :meth:`attach_index` (a build in the background).
        """
        self.index_min = index_min
        self.build_index = build_index
        self.generation = templates.generation
        n = len(templates.template_ids)
        dim = templates.embeddings.shape[1] if n else 0
        if not templates.embeddings.flags.writeable and n:
            # a read-only view of a loaded graph's vectors: copied before the first change
            self._matrix = templates.embeddings
            self._ids = np.array(templates.template_ids, dtype=np.int64)
        else:
            self._matrix = np.empty((max(n, 1024), dim), dtype=np.float32)
            self._matrix[:n] = templates.embeddings
            self._ids = np.empty(max(n, 1024), dtype=np.int64)
            self._ids[:n] = templates.template_ids
        self._view_owner = index if not self._matrix.flags.writeable else None
        self._subjects: list[str] = list(templates.subject_ids)
        self._row_map: dict[int, int] | None = None  # built on first use
        self._ids_sorted = bool(np.all(self._ids[1:n] > self._ids[: max(n - 1, 0)]))
        self._per_subject_count: Counter[str] | None = None
        self._n = n
        self._ann: HnswIndex | None = index
        self._sync_index()

    @classmethod
    def from_index(cls, owners: TemplateSet, index: HnswIndex,
                   index_min: int = INDEX_MIN_TEMPLATES) -> TemplateSearch:
        """A search over a loaded graph whose live ids are exactly ``owners.template_ids``
        (from :meth:`GalleryStore.template_owners`); the exact matrix is read from the graph's
        own stored vectors, so the embeddings need not be loaded from the store."""
        ids, positions = index.live()
        wanted = np.asarray(owners.template_ids, dtype=np.int64)
        if len(ids) == index.stored_vectors().shape[0] and np.array_equal(ids, wanted):
            embeddings = index.stored_vectors()  # same order: no copy until a change
        else:
            order = np.argsort(ids, kind="stable")
            rows = positions[order[np.searchsorted(ids[order], wanted)]]
            embeddings = index.stored_vectors()[rows]
        templates = TemplateSet(wanted, list(owners.subject_ids), embeddings, owners.generation)
        return cls(templates, index_min, index=index)

    @property
    def ann(self) -> HnswIndex | None:
        """The HNSW graph answering queries, or None while search is exact."""
        return self._ann

    @property
    def wants_index(self) -> bool:
        """Whether the gallery is large enough for a graph but has none (or a stale one)."""
        return self._n >= self.index_min and (self._ann is None or self._ann.needs_rebuild)

    def owners(self) -> TemplateSet:
        """The template ids and subjects held now (no embeddings), in row order."""
        return TemplateSet(self._ids[: self._n].copy(), list(self._subjects),
                           np.empty((0, 0), np.float32), self.generation)

    def matrix(self) -> tuple[np.ndarray, np.ndarray]:
        """A copy of (embeddings, template ids) held now: what a graph is built from."""
        return self._matrix[: self._n].copy(), self._ids[: self._n].copy()

    def attach_index(self, index: HnswIndex) -> None:
        """Answer queries with ``index``, a graph built over exactly the templates held now."""
        self._ann = index

    @property
    def _row(self) -> dict[int, int]:
        """Row of every template id held (built on first use)."""
        if self._row_map is None:
            self._row_map = dict(zip(self._ids[: self._n].tolist(), range(self._n),
                                     strict=True))
        return self._row_map

    @property
    def _per_subject(self) -> Counter[str]:
        """Templates held per subject (counted on first use)."""
        if self._per_subject_count is None:
            self._per_subject_count = Counter(self._subjects)
        return self._per_subject_count

    def _rows_of(self, template_ids: np.ndarray) -> list[int]:
        if self._row_map is None and self._ids_sorted:
            return np.searchsorted(self._ids[: self._n], template_ids).tolist()
        return [self._row[int(t)] for t in template_ids]

    def _own_matrix(self, capacity: int) -> None:
        """Make the matrix and ids writable arrays with room for ``capacity`` rows."""
        if self._matrix.flags.writeable and len(self._ids) >= capacity:
            return
        size = max(capacity, 2 * len(self._ids), 1024)
        dim = self._matrix.shape[1] if self._matrix.ndim == 2 else 0
        matrix = np.empty((size, dim), dtype=np.float32)
        matrix[: self._n] = self._matrix[: self._n]
        ids = np.empty(size, dtype=np.int64)
        ids[: self._n] = self._ids[: self._n]
        self._matrix, self._ids, self._view_owner = matrix, ids, None

    def __len__(self) -> int:
        """Number of templates held."""
        return self._n

    @property
    def indexed(self) -> bool:
        """Whether queries are answered by the FAISS index rather than exactly."""
        return self._ann is not None

    def _sync_index(self) -> None:
        if self._n < self.index_min:
            self._ann = None
        elif self._ann is not None and self._ann.needs_rebuild and not self.build_index:
            self._ann = None  # exact until the background build attaches a fresh graph
        elif self.wants_index and self.build_index:
            self._ann = HnswIndex(self._matrix[: self._n], self._ids[: self._n])

    def add(self, template_ids: list[int], subject_id: str, embeddings: np.ndarray,
            generation: int) -> None:
        """Add one subject's new templates (already committed to the store)."""
        embeddings = np.atleast_2d(np.asarray(embeddings, dtype=np.float32))
        m = len(template_ids)
        if self._matrix.shape[1] == 0:
            self._matrix = np.empty((1024, embeddings.shape[1]), dtype=np.float32)
        self._row  # noqa: B018 - the id → row map, built before the rows move
        self._per_subject  # noqa: B018 - counted before the change
        self._own_matrix(self._n + m)
        self._ids_sorted = False
        rows = slice(self._n, self._n + m)
        self._matrix[rows] = embeddings
        self._ids[rows] = template_ids
        for offset, template_id in enumerate(template_ids):
            self._row[int(template_id)] = self._n + offset
            self._subjects.append(subject_id)
        self._per_subject[subject_id] += m
        self._n += m
        if self._ann is not None:
            self._ann.add(embeddings, np.asarray(template_ids, dtype=np.int64))
        self._sync_index()
        self.generation = generation

    def remove(self, template_ids: list[int], generation: int) -> None:
        """Remove templates (already deleted from the store) from the matrix and the index."""
        self._row  # noqa: B018 - the id → row map, built before the rows move
        self._per_subject  # noqa: B018 - counted before the change
        self._own_matrix(self._n)
        self._ids_sorted = False
        for template_id in template_ids:
            row = self._row.pop(int(template_id), None)
            if row is None:
                continue
            last = self._n - 1
            subject = self._subjects[row]
            self._per_subject[subject] -= 1
            if self._per_subject[subject] == 0:
                del self._per_subject[subject]
            if row != last:
                self._matrix[row] = self._matrix[last]
                self._ids[row] = self._ids[last]
                self._subjects[row] = self._subjects[last]
                self._row[int(self._ids[row])] = row
            self._matrix[last] = 0.0
            self._subjects.pop()
            self._n -= 1
        if self._ann is not None:
            self._ann.remove(np.asarray(template_ids, dtype=np.int64))
        self._sync_index()
        self.generation = generation

    def search(self, query: np.ndarray, k: int, threshold: float | None = None) -> list[Hit]:
        """The ``k`` best templates for ``query`` (scoring ≥ ``threshold`` if given)."""
        if self._n == 0 or k <= 0:
            return []
        if self._ann is not None:
            scores, ids = self._ann.search(query, min(k, self._n))
            keep = ids[0] >= 0
            if threshold is not None:
                keep &= scores[0] >= threshold
            rows = self._rows_of(ids[0][keep])
            return [Hit(int(self._ids[r]), self._subjects[r], float(s))
                    for r, s in zip(rows, scores[0][keep], strict=True)]
        top_rows, top_scores = exact_top_k(self._matrix[: self._n], query, k, threshold)
        return [Hit(int(self._ids[r]), self._subjects[r], float(s))
                for r, s in zip(top_rows, top_scores, strict=True)]

    def search_subjects(
        self, query: np.ndarray, top: int, threshold: float | None = None
    ) -> list[Hit]:
        """The ``top`` best subjects for ``query``, each with its best-scoring template.

        Asks for ``top`` × (most templates any subject has) templates, so that (for exact
        search) no subject among the best ``top`` can be missed.
        """
        if not self._per_subject:
            return []
        per = max(self._per_subject.values())
        best: dict[str, Hit] = {}
        for hit in self.search(query, top * per, threshold):
            best.setdefault(hit.subject_id, hit)
        return sorted(best.values(), key=lambda h: -h.score)[:top]
