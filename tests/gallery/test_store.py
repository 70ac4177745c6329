"""The gallery store, on SQLite and on PostgreSQL + pgvector: consent, backends, erasure that
leaves no bytes, purge, reviews."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import psycopg
import pytest

from faceaudit.gallery import (
    AlreadyDecidedError,
    BackendMismatchError,
    Consent,
    GalleryStore,
    InvalidSubjectIdError,
    NewTemplate,
    SqliteGalleryStore,
    UnknownResultError,
    UnknownReviewTaskError,
    UnknownSubjectError,
)
from faceaudit.gallery.review_tasks import lead_state
from faceaudit.gallery.store import PgGalleryStore

NOW = datetime(2025, 1, 1, tzinfo=UTC)
#: a kept enrolment image: random bytes (incompressible, so stored as they are; TOASTed in
#: PostgreSQL)
IMAGE = b"JPEG-BYTES-OF-ALICE" + np.random.default_rng(7).bytes(8000)


def unit(seed: int, dim: int = 128) -> np.ndarray:
    v = np.random.default_rng(seed).standard_normal(dim).astype(np.float32)
    return v / np.linalg.norm(v)


def consent(expires: datetime | None = None) -> Consent:
    return Consent("consent", "form-17", NOW, expires)


def enrol(store, subject, seed, backend="dlib-resnet:1", expires=None, images=()):
    return store.enrol(subject, display_name=None, consent=consent(expires), backend_id=backend,
                       templates=[NewTemplate(unit(seed), 0.9)], images=list(images), now=NOW)


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest) -> str | None:
    """Each backend in turn: None (the SQLite file) or a fresh PostgreSQL database's URL."""
    if request.param == "sqlite":
        return None
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def store(tmp_path, database_url) -> GalleryStore:
    """The gallery store of each backend (every test here runs on both): the one
    :class:`GalleryStore` over SQLite's storage or PostgreSQL's."""
    if database_url is None:
        return SqliteGalleryStore(tmp_path / "g.db")
    return PgGalleryStore(database_url)


@pytest.fixture
def file_bytes(request, database_url):
    """Every byte the store keeps on disk: the SQLite file and its WAL, or (after a
    CHECKPOINT) every table, index and TOAST file of the PostgreSQL database (its directory
    under ``base/``) and the server's write-ahead log (``pg_wal``, shared by every test
    database: the vectors looked for are this file's own)."""
    if database_url is None:
        def read(store) -> bytes:
            data = store.path.read_bytes()
            wal = store.path.with_name(store.path.name + "-wal")
            return data + (wal.read_bytes() if wal.exists() else b"")
        return read
    server = request.getfixturevalue("postgres_server")

    def read_database(store) -> bytes:
        with psycopg.connect(database_url, autocommit=True) as con:
            con.execute("CHECKPOINT")
            oid = con.execute("SELECT oid FROM pg_database "
                              "WHERE datname = current_database()").fetchone()[0]
        files = [*(Path(server.pgdata) / "base" / str(oid)).iterdir(),
                 *(Path(server.pgdata) / "pg_wal").iterdir()]
        return b"".join(f.read_bytes() for f in sorted(files) if f.is_file())
    return read_database


def test_enrol_and_load_round_trip(store):
    first = enrol(store, "alice", 1)
    enrol(store, "bob", 2)
    loaded = store.load_templates("dlib-resnet:1")
    assert loaded.subject_ids == ["alice", "bob"]
    np.testing.assert_array_equal(loaded.embeddings[0], unit(1))
    assert loaded.generation == 2 and first.generation == 1
    assert [s["subject_id"] for s in store.list_subjects()] == ["alice", "bob"]
    assert "embedding" not in str(store.list_subjects())


def test_other_backend_templates_refused(store):
    enrol(store, "alice", 1)
    with pytest.raises(BackendMismatchError):
        enrol(store, "bob", 2, backend="arcface:1")
    assert [s["subject_id"] for s in store.list_subjects()] == ["alice"]


def test_invalid_subject_id(store):
    with pytest.raises(InvalidSubjectIdError):
        enrol(store, "no spaces please", 1)


def test_erasure_removes_embedding_bytes_from_db_and_wal(store, file_bytes):
    path = store
    # seeds no other test enrols: the scan covers the server's WAL, shared by every test
    enrol(store, "alice", 101, images=[IMAGE])
    enrol(store, "bob", 102)
    needle = unit(101).astype("<f4").tobytes()
    assert needle in file_bytes(path)
    assert IMAGE[:200] in file_bytes(path)  # a TOASTed value on PostgreSQL
    erased = store.erase("alice")
    assert len(erased.template_ids) == 1 and erased.images == 1
    assert needle not in file_bytes(path)
    assert needle[:32] not in file_bytes(path)
    assert IMAGE[:200] not in file_bytes(path)
    assert unit(102).astype("<f4").tobytes() in file_bytes(path)  # bob untouched
    assert store.load_templates("dlib-resnet:1").subject_ids == ["bob"]
    with pytest.raises(UnknownSubjectError):
        store.erase("alice")


def test_purge_removes_only_expired_subjects(store, file_bytes):
    enrol(store, "expired", 111, expires=NOW + timedelta(days=1))
    enrol(store, "current", 112, expires=NOW + timedelta(days=30))
    enrol(store, "forever", 113)
    enrol(store, "renewed", 114, expires=NOW + timedelta(days=1))
    enrol(store, "renewed", 115, expires=NOW + timedelta(days=60))
    purged = store.purge(NOW + timedelta(days=2))
    assert purged.subject_ids == ["expired"]
    assert unit(111).astype("<f4").tobytes() not in file_bytes(store)
    assert [s["subject_id"] for s in store.list_subjects()] == ["current", "forever", "renewed"]
    assert store.purge(NOW + timedelta(days=2)).subject_ids == []


def test_one_task_per_candidate_one_decision_per_reviewer_and_erasure_scrubs(store, file_bytes):
    enrol(store, "alice", 1)
    face = {"box": {"left": 0, "top": 0, "right": 10, "bottom": 10},
            "candidates": [{"subject_id": "alice", "score": 0.9, "fmr": 1e-5, "rank": 1},
                           {"subject_id": "bea", "score": 0.8, "fmr": 1e-4, "rank": 2}]}
    empty = {"box": face["box"], "candidates": []}
    store.save_result({"result_id": "r1", "created_at": "2025-01-01T00:00:00+00:00",
                       "actor": "ann", "purpose": "p", "case": "c", "backend_id": "dlib-resnet:1",
                       "threshold": 0.5, "fmr_target": 1e-4, "faces": [face, empty]})
    tasks = store.get_result("r1")["tasks"]
    assert sorted(t["candidate"]["subject_id"] for t in tasks) == ["alice", "bea"]
    assert {t["face"] for t in tasks} == {0} and len(tasks) == 2  # the empty face: no task
    alice = next(t["task_id"] for t in tasks if t["candidate"]["subject_id"] == "alice")
    decided = store.add_decision(alice, decision="confirm", reviewer="rev", actor="rev",
                                 note="alice, seen her", now=NOW)
    assert [d["decision"] for d in decided["decisions"]] == ["confirm"]
    with pytest.raises(AlreadyDecidedError):
        store.add_decision(alice, decision="reject", reviewer="rev", actor="rev", note=None,
                           now=NOW)
    store.add_decision(alice, decision="reject", reviewer="rev-2", actor="rev-2", note=None,
                       now=NOW)
    assert lead_state(store.get_task(alice)["decisions"], 2)["disagreement"] is True
    with pytest.raises(UnknownReviewTaskError):
        store.get_task("nope")
    with pytest.raises(UnknownResultError):
        store.get_result("nope")
    store.erase("alice")
    candidate = store.get_result("r1")["faces"][0]["candidates"][0]
    assert candidate["subject_id"] is None and candidate["erased"] is True
    assert [d["note"] for d in store.get_task(alice)["decisions"]] == [None, None]
    assert b"seen her" not in file_bytes(store)


def test_decisions_past_the_limit_are_refused_in_the_transaction_and_old_results_get_tasks(
        store):
    face = {"box": {"left": 0, "top": 0, "right": 10, "bottom": 10},
            "candidates": [{"subject_id": "x", "score": 0.9, "fmr": 1e-5, "rank": 1}]}
    result = {"result_id": "r2", "created_at": "2025-01-01T00:00:00+00:00", "actor": "ann",
              "purpose": "p", "case": "c", "backend_id": "dlib-resnet:1", "threshold": 0.5,
              "fmr_target": 1e-4, "faces": [face]}
    store.save_result(result)
    (task,) = store.get_result("r2")["tasks"]
    store.add_decision(task["task_id"], decision="confirm", reviewer="a", actor="a", note=None,
                       now=NOW, limit=1)
    with pytest.raises(AlreadyDecidedError, match="already has its 1"):
        store.add_decision(task["task_id"], decision="reject", reviewer="b", actor="b",
                           note=None, now=NOW, limit=1)
    assert len(store.get_task(task["task_id"])["decisions"]) == 1
    # a result stored by an older version has no tasks: the one backfill gives them
    with store.storage.write() as tx:
        for table in ("review_decisions", "review_tasks"):
            tx.execute(f"DELETE FROM {table}")
    assert store.get_result("r2")["tasks"] == []
    assert store.backfill_review_tasks() == 1
    assert [t["candidate"]["subject_id"] for t in store.get_result("r2")["tasks"]] == ["x"]
    assert store.backfill_review_tasks() == 0  # once per gallery


def test_lead_state_needs_every_required_confirmation_and_no_rejection():
    def of(*decisions: str) -> str:
        return lead_state([{"decision": d} for d in decisions], 2)["state"]

    assert (of(), of("confirm"), of("confirm", "confirm")) == ("pending", "pending", "confirmed")
    assert of("reject") == of("confirm", "reject") == of("confirm", "confirm", "reject") == (
        "unconfirmed")


#: the rules: no backend's store may write its own version of them
RULES = ("enrol", "erase", "purge", "add_decision", "add_lead_record", "review_tasks",
         "get_task", "save_result", "get_result", "list_subjects",
         "load_templates", "template_owners", "subject_templates", "subject_count",
         "gallery_backend", "generation", "pending_intent", "pending_intent_ids",
         "clear_intent", "compact_pending", "compact", "require_exclusive", "exists")


def test_every_backend_runs_the_one_rules_class(store):
    assert isinstance(store, GalleryStore)
    assert {name for name in RULES if getattr(type(store), name) is not getattr(
        GalleryStore, name)} == set()
