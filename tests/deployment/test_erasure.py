"""Erasure reaches every copy — the home and the user embedding cache — or fails loudly."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from faceaudit import api
from faceaudit.cli import app
from faceaudit.deployment.operations import Deployment
from faceaudit.deployment.reviews import TaskRef
from faceaudit.engine.embed_files import EmbedSettings, embed_paths
from faceaudit.gallery.errors import ErasureBlockedError, ErasureIncompleteError
from faceaudit.gallery.store import SqliteGalleryStore
from faceaudit.ledger import Ledger

SUBJECT = "subj-7f3a9c"
EVIDENCE = "consent-form-ZK-48213"
NOTE = f"reviewer says: this is {SUBJECT}, met her at the station"


def files_under(*roots: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for root in roots for p in root.rglob("*") if p.is_file()}


def holders(files: dict[Path, bytes], needle: bytes, *, skip_ledger: bool = False) -> list[str]:
    return sorted(p.name for p, data in files.items()
                  if needle in data and not (skip_ledger and p.name.startswith("ledger.")))


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "user-cache"
    monkeypatch.setenv("FACEAUDIT_CACHE", str(folder))
    return folder


def test_erase_leaves_no_copy_in_the_home_or_the_user_cache(deployment, mdtf, cache):
    photo = mdtf / "1.png"
    embed_paths([photo], None, EmbedSettings(), workers=1, progress=False)  # `faceaudit embed`
    template = api.face_embeddings(api.load_image(photo))[1][0].astype("<f4").tobytes()
    deployment.enrol(actor="clerk", subject_id=SUBJECT, images=[photo], basis="consent",
                     evidence=EVIDENCE, keep_images=True)
    found = deployment.identify(actor="officer", image=mdtf / "2.png", purpose="p", case="c")
    deployment.review(actor="sgt-b", decision="confirm", note=NOTE, ref=TaskRef(
        result_id=found["result_id"], face=0, subject_id=SUBJECT))
    before = files_under(deployment.home.root, cache)
    assert holders(before, template[:64])  # the checks can see the bytes where they are
    assert "embeddings.sqlite" in holders(before, template[:64])
    assert holders(before, EVIDENCE.encode(), skip_ledger=True)
    assert holders(before, NOTE.encode())

    deployment.erase(actor="dpo", subject_id=SUBJECT, purpose="erasure request")

    after = files_under(deployment.home.root, cache)
    assert holders(after, template[:64]) == []
    assert holders(after, template[-64:]) == []
    assert holders(after, photo.read_bytes()[1000:1064]) == []
    assert holders(after, EVIDENCE.encode(), skip_ledger=True) == []
    assert holders(after, SUBJECT.encode(), skip_ledger=True) == []
    assert holders(after, b"met her at the station") == []
    (task,) = deployment.get_result(found["result_id"])["tasks"]
    assert task["candidate"]["subject_id"] is None and task["candidate"]["erased"] is True
    assert [d["note"] for d in task["decisions"]] == [None]
    assert Ledger(deployment.home).verify().ok


def _reader(db: Path) -> sqlite3.Connection:
    """Another connection that holds a read snapshot open (a long report, a backup)."""
    con = sqlite3.connect(db, isolation_level=None)
    con.execute("BEGIN")
    con.execute("SELECT count(*) FROM templates").fetchone()
    return con


def test_erase_blocked_by_a_reader_fails_loudly_and_erases_nothing(deployment, mdtf):
    deployment.enrol(actor="clerk", subject_id=SUBJECT, images=[mdtf / "1.png"],
                     basis="consent", evidence=EVIDENCE)
    deployment.store.erase_bound_s = 0.3
    reader = _reader(deployment.home.db_path)
    try:
        with pytest.raises(ErasureBlockedError, match="reading"):
            deployment.erase(actor="dpo", subject_id=SUBJECT)
    finally:
        reader.close()
    assert [s["subject_id"] for s in deployment.list_subjects()] == [SUBJECT]
    last = list(Ledger(deployment.home).events())[-1]
    assert last["action"] == "aborted" and last["result"]["reason"] == "erasure-blocked"


def test_a_reader_that_pins_the_bytes_after_the_delete_is_an_error_not_success(
    deployment, mdtf, monkeypatch
):
    deployment.enrol(actor="clerk", subject_id=SUBJECT, images=[mdtf / "1.png"],
                     basis="consent", evidence=EVIDENCE)
    deployment.store.erase_bound_s = 0.3
    readers = []
    original = SqliteGalleryStore.compact

    def compact_with_a_reader(self, bound_s=None):
        readers.append(_reader(self.path))
        return original(self, bound_s)

    monkeypatch.setattr(SqliteGalleryStore, "compact", compact_with_a_reader)
    with pytest.raises(ErasureIncompleteError, match="remain"):
        deployment.erase(actor="dpo", subject_id=SUBJECT)
    monkeypatch.undo()
    assert deployment.list_subjects() == []
    assert list(Ledger(deployment.home).events())[-1]["action"] == "erase"
    assert deployment.store.compact_pending()
    readers[0].close()
    Deployment(deployment.home, calibration=deployment.calibration)  # the next open finishes
    assert not deployment.store.compact_pending()
    assert EVIDENCE.encode() not in b"".join(files_under(deployment.home.root).get(p, b"")
                                              for p in [deployment.home.db_path])


def test_cli_erase_blocked_by_a_reader_exits_non_zero(audited_home, mdtf, monkeypatch):
    monkeypatch.setattr("faceaudit.gallery.store.ERASE_CHECKPOINT_BOUND_S", 0.3)
    monkeypatch.setattr(SqliteGalleryStore.__init__, "__kwdefaults__", {"erase_bound_s": 0.3})
    h = ["--home", str(audited_home.root)]
    runner = CliRunner()
    enrolled = runner.invoke(app, ["gallery", "enrol", str(mdtf / "1.png"), "--subject", SUBJECT,
                                   "--basis", "consent", "--evidence", EVIDENCE, *h])
    assert enrolled.exit_code == 0, enrolled.output
    reader = _reader(audited_home.db_path)
    try:
        erased = runner.invoke(app, ["gallery", "erase", SUBJECT, *h])
    finally:
        reader.close()
    assert erased.exit_code == 2 and "nothing was erased" in erased.stderr
    listed = runner.invoke(app, ["gallery", "list", *h])
    assert SUBJECT in listed.stdout


# -- the saved search graph (gallery.hnsw) -------------------------------------------------

@pytest.fixture
def indexed(monkeypatch):
    """Every gallery is searched through the saved HNSW graph, however small."""
    monkeypatch.setattr("faceaudit.gallery.template_search.INDEX_MIN_TEMPLATES", 1)


def _enrol_two_and_search(deployment, mdtf) -> bytes:
    """Enrol SUBJECT and another person, search once (the graph is built and saved); return
    SUBJECT's template bytes."""
    photo = mdtf / "1.png"
    template = api.face_embeddings(api.load_image(photo))[1][0].astype("<f4").tobytes()
    deployment.enrol(actor="clerk", subject_id=SUBJECT, images=[photo], basis="consent",
                     evidence=EVIDENCE)
    deployment.enrol(actor="clerk", subject_id="someone-else", images=[mdtf / "3.png"],
                     basis="consent", evidence="form-2")
    deployment.identify(actor="officer", image=mdtf / "2.png", purpose="p", case="c")
    index = deployment.home.index_path
    assert index.is_file() and template[:64] in index.read_bytes()
    return template


def _index_keeps_only_the_other_subject(deployment, template: bytes, mdtf) -> None:
    assert holders(files_under(deployment.home.root), template[:64]) == []
    assert holders(files_under(deployment.home.root), template[-64:]) == []
    found = Deployment(deployment.home, calibration=deployment.calibration).identify(
        actor="officer", image=mdtf / "4.png", purpose="p", case="c")
    assert found["faces"][0]["candidates"][0]["subject_id"] == "someone-else"


def test_erase_rewrites_the_saved_index_without_the_erased_vectors(indexed, deployment, mdtf):
    template = _enrol_two_and_search(deployment, mdtf)
    deployment.erase(actor="dpo", subject_id=SUBJECT)
    assert deployment.home.index_path.is_file()  # rewritten, not only deleted
    _index_keeps_only_the_other_subject(deployment, template, mdtf)


def test_erase_from_a_fresh_process_rewrites_the_saved_index(indexed, deployment, mdtf):
    template = _enrol_two_and_search(deployment, mdtf)
    fresh = Deployment(deployment.home, calibration=deployment.calibration)  # `gallery erase`
    fresh.erase(actor="dpo", subject_id=SUBJECT)
    assert deployment.home.index_path.is_file()
    _index_keeps_only_the_other_subject(deployment, template, mdtf)


def test_purge_takes_expired_vectors_out_of_the_saved_index(indexed, deployment, mdtf):
    from datetime import UTC, datetime, timedelta

    photo = mdtf / "1.png"
    template = api.face_embeddings(api.load_image(photo))[1][0].astype("<f4").tobytes()
    soon = datetime.now(UTC) + timedelta(days=1)
    deployment.enrol(actor="clerk", subject_id=SUBJECT, images=[photo], basis="consent",
                     evidence=EVIDENCE, expires_at=soon)
    deployment.enrol(actor="clerk", subject_id="someone-else", images=[mdtf / "3.png"],
                     basis="consent", evidence="form-2")
    deployment.identify(actor="officer", image=mdtf / "2.png", purpose="p", case="c")
    assert template[:64] in deployment.home.index_path.read_bytes()
    fresh = Deployment(deployment.home, calibration=deployment.calibration)  # `gallery purge`
    assert fresh.purge(actor="dpo", now=soon + timedelta(days=1))["subjects"] == [SUBJECT]
    _index_keeps_only_the_other_subject(deployment, template, mdtf)


def test_a_crash_between_the_erasure_and_the_index_rewrite_leaves_no_copy(
    indexed, deployment, mdtf, monkeypatch
):
    from faceaudit.gallery.persistent_search import GallerySearcher

    template = _enrol_two_and_search(deployment, mdtf)

    def crash(*args, **kwargs):
        raise KeyboardInterrupt  # the process dies after the commit, before the file step

    monkeypatch.setattr(GallerySearcher, "after_write", crash)
    with pytest.raises(KeyboardInterrupt):
        deployment.erase(actor="dpo", subject_id=SUBJECT)
    monkeypatch.undo()
    assert template[:64] in deployment.home.index_path.read_bytes()  # the crash window
    Deployment(deployment.home, calibration=deployment.calibration)  # the next open recovers
    assert holders(files_under(deployment.home.root), template[:64]) == []
