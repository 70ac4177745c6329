"""1:N search in PostgreSQL: exact below the store's size limit, pgvector HNSW from it on."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import psycopg
import pytest

from faceaudit.gallery.postgres_storage import HNSW_INDEX, vector_text
from faceaudit.gallery.store import PgGalleryStore
from faceaudit.gallery.synthetic import load_into_postgres, synthetic_gallery
from faceaudit.gallery.template_search import exact_top_k

BACKEND = "dlib-resnet:1"


def test_exact_below_the_limit_and_hnsw_with_high_recall_above(postgres_url):
    embeddings, owners, probes = synthetic_gallery(3000, n_probes=40, seed=3)
    small = PgGalleryStore(postgres_url, index_min=10**9)
    load_into_postgres(small, embeddings, owners, BACKEND)
    with psycopg.connect(postgres_url) as con:
        assert con.execute("SELECT to_regclass(%s)", (HNSW_INDEX,)).fetchone()[0] is None
    search = small.template_search(BACKEND)
    for probe in probes[:10]:  # exact: the same templates and scores as numpy
        rows, scores = exact_top_k(embeddings, probe, 10)
        hits = search.search(probe, 10)
        assert [h.subject_id for h in hits] == [f"s{owners[r]}" for r in rows]
        np.testing.assert_allclose([h.score for h in hits], scores, atol=1e-5)

    large = PgGalleryStore(postgres_url, index_min=2000)
    assert large.ensure_index()
    with psycopg.connect(postgres_url) as con:  # the HNSW path really uses the index
        con.execute("SET enable_seqscan = off")
        plan = "\n".join(r[0] for r in con.execute(
            "EXPLAIN SELECT template_id FROM templates ORDER BY embedding <=> %s::vector "
            "LIMIT 10", (vector_text(probes[0]),)))
        assert HNSW_INDEX in plan
    search = large.template_search(BACKEND)
    recalls = []
    for probe in probes:
        truth = {f"s{owners[r]}" for r in exact_top_k(embeddings, probe, 10)[0]}
        found = {h.subject_id for h in search.search(probe, 10)}
        recalls.append(len(truth & found) / len(truth))
    assert np.mean(recalls) >= 0.9
    best = search.search_subjects(probes[0], 3, threshold=0.5)
    assert best and all(h.score >= 0.5 for h in best)
    assert len({h.subject_id for h in best}) == len(best)


def test_a_lost_connection_is_a_database_error_and_the_next_call_reconnects(postgres_url):
    from faceaudit.base.database import DatabaseError

    store = PgGalleryStore(postgres_url)
    assert store.list_subjects() == []
    with psycopg.connect(postgres_url, autocommit=True) as con:  # the server drops the others
        con.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()")
    with pytest.raises(DatabaseError, match="database"):  # a 503 / one CLI line, no traceback
        store.list_subjects()
    assert store.list_subjects() == []  # the next call opens a fresh connection


def test_a_search_made_before_a_write_sees_it_once_told(postgres_url):
    """A deployment keeps one search and tells it of its own writes (``add``/``remove``, as
    the in-memory search is told); it must then answer for the gallery as it is now."""
    from faceaudit.gallery.store import Consent, NewTemplate

    embeddings, _, _ = synthetic_gallery(2, n_probes=1, seed=5)
    store = PgGalleryStore(postgres_url)
    search = store.template_search(BACKEND)  # made while the gallery is empty
    assert search.search_subjects(embeddings[0], 3) == []
    consent = Consent("consent", "form", datetime(2025, 1, 1, tzinfo=UTC))
    written = store.enrol("a", display_name=None, consent=consent, backend_id=BACKEND,
                          templates=[NewTemplate(v) for v in embeddings], images=[],
                          now=datetime(2025, 1, 1, tzinfo=UTC))
    search.add(written.template_ids, "a", embeddings, written.generation)
    assert [h.subject_id for h in search.search_subjects(embeddings[0], 3)] == ["a"]
    erased = store.erase("a")
    search.remove(erased.template_ids, erased.generation)
    assert search.search_subjects(embeddings[0], 3) == []
