"""1:N search in the PostgreSQL gallery: exact (a sequential scan) below the storage's
``index_min`` templates, through pgvector's HNSW index from that size on."""

from __future__ import annotations

import numpy as np

from faceaudit.gallery.postgres_storage import PgStorage, vector_text
from faceaudit.gallery.template_search import Hit

EF_SEARCH = 256


class PgTemplateSearch:
    """1:N search in the database, with the interface of
    :class:`~faceaudit.gallery.template_search.TemplateSearch`: exact below the storage's
    ``index_min`` templates, HNSW (``hnsw.ef_search`` = :data:`EF_SEARCH`) from that size on."""

    def __init__(self, storage: PgStorage, generation: int) -> None:
        self.storage = storage
        self.generation = generation
        self._stats: tuple[int, int] | None = None  # read on first use after each change

    @property
    def indexed(self) -> bool:
        """Whether queries go through the HNSW index rather than a sequential scan."""
        return self._current_stats()[0] >= self.storage.index_min

    @property
    def most_per_subject(self) -> int:
        """The most templates any one subject has."""
        return self._current_stats()[1]

    def __len__(self) -> int:
        """The number of templates searched."""
        return self._current_stats()[0]

    def _current_stats(self) -> tuple[int, int]:
        if self._stats is None:
            self._stats = self.storage.search_stats()
        return self._stats

    def add(self, template_ids: list[int], subject_id: str, embeddings: np.ndarray,
            generation: int) -> None:
        """The templates are in the database already: only the gallery's size changed."""
        self.generation, self._stats = generation, None

    def remove(self, template_ids: list[int], generation: int) -> None:
        """The templates left the database already: only the gallery's size changed."""
        self.generation, self._stats = generation, None

    def search(self, query: np.ndarray, k: int, threshold: float | None = None) -> list[Hit]:
        """The ``k`` best templates for ``query`` (scoring ≥ ``threshold`` if given)."""
        if k <= 0:
            return []
        q = vector_text(query)
        with self.storage.read() as tx:
            con = tx.connection
            if self.indexed:
                con.execute(f"SET LOCAL hnsw.ef_search = {max(EF_SEARCH, min(k, 1000))}")
            else:  # exact: a sequential scan even if an index is left from a larger gallery
                con.execute("SET LOCAL enable_indexscan = off")
            rows = con.execute(
                "SELECT c.template_id, s.subject_id, c.score FROM ("
                "SELECT template_id, subject_pk, 1 - (embedding <=> %s::vector) AS score "
                "FROM templates ORDER BY embedding <=> %s::vector LIMIT %s) c "
                "JOIN subjects s ON s.pk = c.subject_pk ORDER BY c.score DESC, c.template_id",
                (q, q, k)).fetchall()
        return [Hit(int(t), str(s), float(score)) for t, s, score in rows
                if threshold is None or score >= threshold]

    def search_subjects(self, query: np.ndarray, top: int,
                        threshold: float | None = None) -> list[Hit]:
        """The ``top`` best subjects for ``query``, each with its best-scoring template."""
        if self.most_per_subject == 0:
            return []
        best: dict[str, Hit] = {}
        for hit in self.search(query, top * self.most_per_subject, threshold):
            best.setdefault(hit.subject_id, hit)
        return sorted(best.values(), key=lambda h: -h.score)[:top]
