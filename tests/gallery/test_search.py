"""Template search: exact top-k, the FAISS index's recall against it, and staying in step."""

from __future__ import annotations

import numpy as np

from faceaudit.gallery import TemplateSearch, exact_top_k
from faceaudit.gallery.store import TemplateSet
from faceaudit.gallery.synthetic import synthetic_gallery


def template_set(embeddings: np.ndarray, owners: np.ndarray) -> TemplateSet:
    ids = np.arange(1, len(embeddings) + 1, dtype=np.int64)
    return TemplateSet(ids, [f"s{o}" for o in owners], embeddings, generation=7)


def test_exact_top_k_is_sorted_and_thresholded():
    matrix = np.eye(5, dtype=np.float32)
    query = np.array([0.1, 0.9, 0.0, 0.5, 0.3], dtype=np.float32)
    rows, scores = exact_top_k(matrix, query, 3)
    assert rows.tolist() == [1, 3, 4]
    np.testing.assert_allclose(scores, [0.9, 0.5, 0.3])
    rows, _ = exact_top_k(matrix, query, 3, threshold=0.4)
    assert rows.tolist() == [1, 3]


def test_index_recall_at_10_against_exact():
    embeddings, owners, probes = synthetic_gallery(20_000, n_probes=100, seed=1)
    exact = TemplateSearch(template_set(embeddings, owners), index_min=10**9)
    indexed = TemplateSearch(template_set(embeddings, owners), index_min=10_000)
    assert not exact.indexed and indexed.indexed
    recalls = []
    for probe in probes:
        truth = {h.template_id for h in exact.search(probe, 10)}
        found = {h.template_id for h in indexed.search(probe, 10)}
        recalls.append(len(truth & found) / 10)
    assert np.mean(recalls) >= 0.95
    # the probe's own identity is always found first
    for probe in probes[:20]:
        assert exact.search(probe, 1)[0].subject_id == indexed.search(probe, 1)[0].subject_id


def test_index_kept_in_step_with_add_and_remove():
    embeddings, owners, probes = synthetic_gallery(12_000, n_probes=20, seed=2)
    search = TemplateSearch(template_set(embeddings, owners), index_min=10_000)
    assert search.indexed
    target = search.search(probes[0], 1)[0]
    same_subject = [i + 1 for i, o in enumerate(owners) if f"s{o}" == target.subject_id]
    search.remove(same_subject, generation=8)
    assert target.subject_id not in {h.subject_id for h in search.search(probes[0], 50)}
    assert len(search) == 12_000 - len(same_subject) and search.generation == 8
    search.add([99_999], "newcomer", probes[0][None], generation=9)
    assert search.search(probes[0], 1)[0].subject_id == "newcomer"
    assert search.search_subjects(probes[0], 3)[0].subject_id == "newcomer"
    # dropping below the threshold falls back to exact search with the same answers
    search.remove(list(range(1, 3_000)), generation=10)
    assert not search.indexed
    assert search.search(probes[0], 1)[0].subject_id == "newcomer"


def test_search_subjects_deduplicates_and_respects_threshold():
    embeddings, owners, probes = synthetic_gallery(300, per_identity=3, n_probes=5, seed=3)
    search = TemplateSearch(template_set(embeddings, owners))
    hits = search.search_subjects(probes[0], 5)
    assert len({h.subject_id for h in hits}) == len(hits) == 5
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert all(h.score >= 0.8 for h in search.search_subjects(probes[0], 5, threshold=0.8))


def test_erased_vectors_are_zeroed_inside_the_index():
    import faiss

    from faceaudit.gallery.hnsw_index import HnswIndex

    embeddings, _, probes = synthetic_gallery(2_000, n_probes=1, seed=5)
    index = HnswIndex(embeddings, np.arange(100, 2_100))
    assert index.search(embeddings[7], 1)[1][0][0] == 107
    assert index.remove(np.array([107])) == 1
    stored = faiss.vector_to_array(faiss.downcast_index(index._index.storage).codes)
    assert embeddings[7].tobytes() not in stored.tobytes()
    assert 107 not in index.search(embeddings[7], 50)[1][0]
    assert len(index) == 1_999
