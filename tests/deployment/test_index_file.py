"""The saved HNSW graph: loaded instead of rebuilt when it matches, never trusted when not."""

from __future__ import annotations

import hashlib
import json
import shutil
import struct

import faiss
import numpy as np
import pytest
from audit_evidence import register_passing_audit

from faceaudit.base.home import Home
from faceaudit.deployment.operations import Deployment
from faceaudit.gallery import hnsw_index as index_module
from faceaudit.gallery.hnsw_file import FORMAT, MAGIC, IndexFile, IndexSource
from faceaudit.gallery.synthetic import synthetic_gallery
from faceaudit.gallery.template_search import exact_top_k
from faceaudit.ledger.genesis import init_home

BACKEND = "dlib-resnet:1"
SUBJECTS, PER_SUBJECT, INDEX_MIN = 30, 4, 60


@pytest.fixture(autouse=True)
def small_index_threshold(monkeypatch):
    """Galleries of INDEX_MIN templates or more are searched through the graph."""
    monkeypatch.setattr("faceaudit.gallery.template_search.INDEX_MIN_TEMPLATES", INDEX_MIN)


def enrol_synthetic(deployment: Deployment, seed: int = 0) -> np.ndarray:
    """Enrol SUBJECTS synthetic subjects; returns the probes (one per subject, in order)."""
    embeddings, owners, probes = synthetic_gallery(
        SUBJECTS * PER_SUBJECT, per_identity=PER_SUBJECT, n_probes=SUBJECTS, seed=seed)
    with deployment.searcher.deferred_saves():
        for subject in range(SUBJECTS):
            deployment.enrol_templates(
                actor="clerk", subject_id=f"s{seed}-{subject}", backend_id=BACKEND,
                embeddings=embeddings[owners == subject], basis="consent", evidence="form",
                allow_duplicate=True)
    return probes


def best_subjects(deployment: Deployment, probes: np.ndarray) -> list[str]:
    with deployment.searcher.session(BACKEND) as search:
        return [search.search_subjects(p, 1)[0].subject_id for p in probes]


def exact_best(deployment: Deployment, probes: np.ndarray) -> list[str]:
    templates = deployment.store.load_templates(BACKEND)
    return [templates.subject_ids[int(exact_top_k(templates.embeddings, p, 1)[0][0])]
            for p in probes]


@pytest.fixture(scope="module")
def saved_home(tmp_path_factory) -> tuple:
    """A home whose graph has been built and saved, made once; tests get a copy."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("faceaudit.gallery.template_search.INDEX_MIN_TEMPLATES", INDEX_MIN)
        home = init_home(tmp_path_factory.mktemp("saved") / "home")
        register_passing_audit(home)
        deployment = Deployment(home)  # the shipped calibration
        probes = enrol_synthetic(deployment)
        assert best_subjects(deployment, probes[:1])
        assert deployment.searcher.origin == "built"
        assert home.index_path.is_file()
    return home, probes


@pytest.fixture
def saved(saved_home, tmp_path, calibration) -> tuple[Deployment, np.ndarray]:
    """A deployment (a copy of the saved home) whose graph has been built and saved."""
    home, probes = saved_home
    shutil.copytree(home.root, tmp_path / "home")
    return Deployment(Home(tmp_path / "home"), calibration=calibration), probes


def reopen(deployment: Deployment, **kwargs) -> Deployment:
    return Deployment(deployment.home, calibration=deployment.calibration, **kwargs)


def test_a_new_process_loads_the_saved_graph_instead_of_rebuilding(saved, monkeypatch):
    deployment, probes = saved

    def no_build(*args, **kwargs):
        raise AssertionError("the graph was rebuilt although a matching one was saved")

    monkeypatch.setattr(index_module.HnswIndex, "__init__", no_build)
    again = reopen(deployment)
    assert best_subjects(again, probes) == exact_best(deployment, probes)
    assert again.searcher.origin == "loaded"
    with again.searcher.session(BACKEND) as search:
        assert search.indexed and len(search) == SUBJECTS * PER_SUBJECT


def test_an_enrolment_brings_the_saved_graph_to_the_new_generation(saved):
    deployment, probes = saved
    newcomer = probes[3] + 0.01 * np.random.default_rng(0).standard_normal(probes.shape[1])
    deployment.enrol_templates(actor="clerk", subject_id="newcomer", backend_id=BACKEND,
                               embeddings=newcomer / np.linalg.norm(newcomer), basis="consent",
                               evidence="form", allow_duplicate=True)
    header = IndexFile(deployment.home.index_path).header()
    assert header["generation"] == deployment.store.generation()
    again = reopen(deployment)
    assert best_subjects(again, probes[3:4]) == ["newcomer"]
    assert again.searcher.origin == "loaded"


def write_index_file(path, raw: faiss.Index, labels, source: IndexSource, **override) -> None:
    """An index file written by hand, checksums right, so only its content can be wrong."""
    body = np.asarray(labels, "<i8").tobytes() + faiss.serialize_index(raw).tobytes()
    header = {"format": FORMAT, "backend_id": source.backend_id,
              "generation": source.generation, "count": len(source.template_ids),
              "dim": raw.d, "templates_sha256": source.templates_sha256(),
              "vectors_sha256": "", "faiss_bytes": len(body) - 8 * len(labels),
              "labels": len(labels), "erased": 0,
              "body_sha256": hashlib.sha256(body).hexdigest(), **override}
    encoded = json.dumps(header).encode()
    path.write_bytes(MAGIC + struct.pack("<Q", len(encoded)) + encoded + body)


def corrupt(kind: str, deployment: Deployment) -> None:
    path = deployment.home.index_path
    data = bytearray(path.read_bytes())
    owners = deployment.store.template_owners(BACKEND)
    source = IndexSource.of(BACKEND, owners)
    if kind == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "bit-flip-in-graph":
        data[-100] ^= 0x10
        path.write_bytes(bytes(data))
    elif kind == "bit-flip-in-header":
        data[len(MAGIC) + 20] ^= 0x01
        path.write_bytes(bytes(data))
    elif kind == "random-bytes":
        path.write_bytes(np.random.default_rng(1).bytes(len(data)))
    elif kind == "huge-header-length":
        path.write_bytes(MAGIC + struct.pack("<Q", 2**62) + bytes(data[16:]))
    elif kind == "foreign-gallery":
        other = init_home(deployment.home.root.parent / "other-home")
        register_passing_audit(other)
        stranger = Deployment(other, calibration=deployment.calibration)
        probes = enrol_synthetic(stranger, seed=9)
        best_subjects(stranger, probes[:1])
        path.write_bytes(other.index_path.read_bytes())
    elif kind == "stale-generation":
        header = IndexFile(path).header()
        assert header["generation"] == source.generation
        stale = json.dumps({**header, "generation": header["generation"] - 1}).encode()
        body = bytes(data[len(MAGIC) + 8 + struct.unpack("<Q", data[8:16])[0]:])
        path.write_bytes(MAGIC + struct.pack("<Q", len(stale)) + stale + body)
    elif kind == "neighbour-out-of-range":
        rng = np.random.default_rng(2)
        raw = faiss.IndexHNSWFlat(128, 8, faiss.METRIC_INNER_PRODUCT)
        raw.add(rng.standard_normal((len(owners.template_ids), 128)).astype("float32"))
        neighbours = faiss.vector_to_array(raw.hnsw.neighbors)
        neighbours[neighbours >= 0] += 10**6
        faiss.copy_array_to_vector(neighbours, raw.hnsw.neighbors)
        write_index_file(path, raw, owners.template_ids, source)
    elif kind == "not-an-hnsw-index":
        raw = faiss.IndexFlatIP(128)
        raw.add(np.zeros((len(owners.template_ids), 128), "float32"))
        write_index_file(path, raw, owners.template_ids, source)
    elif kind == "other-vectors-same-ids":
        raw = faiss.IndexHNSWFlat(128, 8, faiss.METRIC_INNER_PRODUCT)
        raw.add(np.random.default_rng(3).standard_normal(
            (len(owners.template_ids), 128)).astype("float32"))
        write_index_file(path, raw, owners.template_ids, source, vectors_sha256="0" * 64)
    else:
        raise ValueError(kind)


HOSTILE = ["truncated", "empty", "bit-flip-in-graph", "bit-flip-in-header", "random-bytes",
           "huge-header-length", "foreign-gallery", "stale-generation",
           "neighbour-out-of-range", "not-an-hnsw-index", "other-vectors-same-ids"]


@pytest.mark.parametrize("kind", HOSTILE)
def test_a_hostile_index_file_is_rebuilt_never_trusted(saved, kind):
    deployment, probes = saved
    corrupt(kind, deployment)
    opened = reopen(deployment)  # a stale file is deleted on open; the others at first use
    assert best_subjects(opened, probes) == exact_best(deployment, probes)
    assert opened.searcher.origin == "built"
    header = IndexFile(deployment.home.index_path).header()
    assert header["generation"] == deployment.store.generation()  # replaced by a good one
    again = reopen(deployment)
    assert best_subjects(again, probes[:1]) and again.searcher.origin == "loaded"


def test_a_file_of_an_older_generation_is_deleted_when_the_deployment_opens(saved):
    deployment, _ = saved
    corrupt("stale-generation", deployment)
    reopen(deployment)
    assert not deployment.home.index_path.exists()


def test_the_service_answers_exactly_while_the_graph_builds_in_the_background(deployment):
    probes = enrol_synthetic(deployment)
    deployment.home.index_path.unlink()  # lost: the service must rebuild it
    service = reopen(deployment, background_index=True)
    assert best_subjects(service, probes) == exact_best(deployment, probes)
    assert service.searcher.origin in {"building", "built"}
    assert service.searcher.wait_for_index(timeout=60)
    with service.searcher.session(BACKEND) as search:
        assert search.indexed
    assert best_subjects(service, probes) == exact_best(deployment, probes)
    assert IndexFile(deployment.home.index_path).header()["generation"] == \
        deployment.store.generation()


def test_an_erasure_below_the_rebuild_fraction_zeroes_the_vectors_in_the_saved_graph(saved):
    """Erasing 4 of 120 templates does not rebuild the graph: their vectors are zeros in the
    rewritten file, and a new process that loads it never returns them."""
    deployment, probes = saved
    gone = deployment.store.subject_templates("s0-3")
    before = deployment.home.index_path.read_bytes()
    assert all(v.astype("<f4").tobytes() in before for v in gone)
    fresh = reopen(deployment)
    fresh.erase(actor="dpo", subject_id="s0-3")
    after = deployment.home.index_path.read_bytes()
    assert not any(v.astype("<f4").tobytes()[:64] in after for v in gone)
    header = IndexFile(deployment.home.index_path).header()
    assert header["erased"] == len(gone) and header["count"] == SUBJECTS * PER_SUBJECT - 4
    again = reopen(deployment)
    assert best_subjects(again, probes) == exact_best(deployment, probes)
    assert "s0-3" not in best_subjects(again, probes) and again.searcher.origin == "loaded"
