"""Attack 5 of issue 21: whoever can write the gallery (``gallery.db`` or the PostgreSQL
tables) but cannot sign the ledger cannot slip a ghost subject into the candidate lists,
re-assign or edit a template, or change a consent record unnoticed. Each enrol event commits to
the rows it wrote; identify and verify check the rows they rely on; ``ledger verify`` checks
every row. The insider edits the store with SQL, on both backends."""

from __future__ import annotations

import audit_evidence
import pytest
from insider_sql import insider_sql
from typer.testing import CliRunner

from faceaudit.cli import app
from faceaudit.deployment.operations import Deployment
from faceaudit.gallery.errors import GalleryTamperedError
from faceaudit.ledger.genesis import init_home

runner = CliRunner()
PEOPLE = {"p1": ("1.png", "2.png"), "p2": ("3.png", "4.png")}


@pytest.fixture
def enrolled(tmp_path, database_url, mdtf, calibration):
    home = init_home(tmp_path / "home", database_url)
    audit_evidence.register_passing_audit(home)
    deployment = Deployment(home, calibration=calibration)
    for subject, (image, _) in PEOPLE.items():
        deployment.enrol(actor="clerk", subject_id=subject, images=[mdtf / image],
                         basis="consent", evidence=f"form-{subject}")
    return home, deployment


_sql = insider_sql


def _bump_generation(home) -> None:
    """What makes a running search reload the gallery (the insider can write it too)."""
    table = "meta" if home.database_url_in_force() is None else "gallery_meta"
    _sql(home, f"UPDATE {table} SET value = '999' WHERE key = 'generation'")


def _fresh(home, deployment: Deployment) -> Deployment:
    """A new process's deployment (nothing cached from before the insider's edit)."""
    return Deployment(home, calibration=deployment.calibration)


def _verify(home):
    return runner.invoke(app, ["ledger", "verify", "--home", str(home.root)])


def _identify(deployment, mdtf, probe="2.png"):
    return deployment.identify(actor="officer", image=mdtf / probe, purpose="p", case="c")


def test_an_untouched_gallery_identifies_and_verifies(enrolled, mdtf):
    home, deployment = enrolled
    assert _identify(deployment, mdtf)["faces"][0]["candidates"][0]["subject_id"] == "p1"
    result = _verify(home)
    assert result.exit_code == 0, result.output


def test_a_ghost_carrying_another_subjects_template_is_refused(enrolled, mdtf):
    home, deployment = enrolled
    _sql(home, "INSERT INTO subjects(subject_id, display_name, created_at) "
               "VALUES ('ghost', NULL, '2026-01-01T00:00:00+00:00')")
    _sql(home, "INSERT INTO templates(subject_pk, backend_id, embedding, detector_score, "
               "created_at) SELECT (SELECT pk FROM subjects WHERE subject_id = 'ghost'), "
               "backend_id, embedding, detector_score, created_at FROM templates "
               "WHERE subject_pk = (SELECT pk FROM subjects WHERE subject_id = 'p1')")
    _bump_generation(home)
    with pytest.raises(GalleryTamperedError, match="ghost") as refused:
        _identify(_fresh(home, deployment), mdtf)
    assert refused.value.table == "subjects" and "ghost" in refused.value.row
    verified = _verify(home)
    assert verified.exit_code == 4 and "ghost" in verified.output


def test_a_template_moved_to_another_subject_is_refused(enrolled, mdtf):
    home, deployment = enrolled
    _sql(home, "UPDATE templates SET subject_pk = (SELECT pk FROM subjects WHERE "
               "subject_id = 'p2') WHERE subject_pk = (SELECT pk FROM subjects WHERE "
               "subject_id = 'p1')")
    _bump_generation(home)
    with pytest.raises(GalleryTamperedError) as refused:
        _identify(_fresh(home, deployment), mdtf)
    assert refused.value.table == "templates"
    assert _verify(home).exit_code == 4


def test_a_changed_consent_is_refused(enrolled, mdtf):
    home, deployment = enrolled
    _sql(home, "UPDATE consents SET expires_at = '2099-01-01T00:00:00+00:00', "
               "legal_basis = 'public-interest' WHERE subject_pk = "
               "(SELECT pk FROM subjects WHERE subject_id = 'p1')")
    with pytest.raises(GalleryTamperedError, match="consent") as refused:
        _identify(_fresh(home, deployment), mdtf)
    assert refused.value.table == "consents"
    with pytest.raises(GalleryTamperedError):
        _fresh(home, deployment).verify(actor="officer", image_a=mdtf / "2.png", subject_id="p1",
                            purpose="p", case="c")
    verified = _verify(home)
    assert verified.exit_code == 4 and "consents" in verified.output


def test_a_deleted_subject_is_reported_by_verify(enrolled):
    home, deployment = enrolled
    _sql(home, "DELETE FROM templates WHERE subject_pk = (SELECT pk FROM subjects WHERE "
               "subject_id = 'p2')")
    _sql(home, "DELETE FROM consents WHERE subject_pk = (SELECT pk FROM subjects WHERE "
               "subject_id = 'p2')")
    _sql(home, "DELETE FROM subjects WHERE subject_id = 'p2'")
    verified = _verify(home)
    assert verified.exit_code == 4 and "p2" in verified.output


def test_erasure_and_re_enrolment_keep_the_record_in_step(enrolled, mdtf):
    home, deployment = enrolled
    deployment.erase(actor="clerk", subject_id="p1")
    deployment.enrol(actor="clerk", subject_id="p1", images=[mdtf / "1.png"],
                     basis="consent", evidence="form-p1-again")
    found = _identify(_fresh(home, deployment), mdtf)
    assert found["faces"][0]["candidates"][0]["subject_id"] == "p1"
    assert _verify(home).exit_code == 0


def test_each_search_records_the_digest_of_the_gallery_it_searched(enrolled, mdtf):
    """EU AI Act Art. 12(3): the reference database checked, as the digest of its recorded
    state — the same state gives the same digest, an enrolment or erasure changes it."""
    from faceaudit.ledger import Ledger

    home, deployment = enrolled

    def searched_state() -> str:
        _identify(deployment, mdtf)
        last = [e for e in Ledger(home).events() if e["action"] == "identify"][-1]
        return last["result"]["use"]["reference_database"]["state_digest"]

    before = searched_state()
    assert len(before) == 64 and searched_state() == before
    assert _fresh(home, deployment).gallery_record.state_digest() == before  # from the ledger
    deployment.enrol(actor="clerk", subject_id="p3", images=[mdtf / "5.png"],
                     basis="consent", evidence="form-p3")
    grown = searched_state()
    assert grown != before
    deployment.erase(actor="clerk", subject_id="p3")
    assert searched_state() == before


def _delete_subject(home, subject: str) -> None:
    for table in ("templates", "consents"):
        _sql(home, f"DELETE FROM {table} WHERE subject_pk = (SELECT pk FROM subjects WHERE "
                   "subject_id = ?)", subject)
    _sql(home, "DELETE FROM subjects WHERE subject_id = ?", subject)


def test_a_deleted_subject_refuses_every_operation_not_only_those_that_touch_it(enrolled, mdtf):
    """The running deployment (a service that has checked its gallery once already) and a new
    process alike: p2 vanished without an erase event, so an enrolment of someone else, a
    search (which could no longer find p2) and a listing are all refused."""
    home, deployment = enrolled
    assert _identify(deployment, mdtf)["faces"]  # the whole-gallery check has run
    _delete_subject(home, "p2")
    for running in (deployment, _fresh(home, deployment)):
        with pytest.raises(GalleryTamperedError, match="without an (erase or purge )?event"):
            running.enrol(actor="clerk", subject_id="p3", images=[mdtf / "5.png"],
                          basis="consent", evidence="form-p3")
        with pytest.raises(GalleryTamperedError):
            _identify(running, mdtf)
        with pytest.raises(GalleryTamperedError):
            running.list_subjects()
    listed = runner.invoke(app, ["gallery", "list", "--home", str(home.root)])
    assert listed.exit_code == 4 and "ledger" in listed.output


def test_a_row_edited_where_no_operation_looks_refuses_a_new_process(enrolled, mdtf):
    """An edit that keeps every count (p2's consent extended) is found by the read of every
    subject's rows a deployment makes on its first operation."""
    home, deployment = enrolled
    _sql(home, "UPDATE consents SET expires_at = '2099-01-01T00:00:00+00:00' WHERE subject_pk = "
               "(SELECT pk FROM subjects WHERE subject_id = 'p2')")
    with pytest.raises(GalleryTamperedError, match="p2") as refused:
        _fresh(home, deployment).enrol(actor="clerk", subject_id="p3", images=[mdtf / "5.png"],
                                       basis="consent", evidence="form-p3")
    assert refused.value.table == "consents"


def test_a_write_in_flight_is_not_taken_for_tampering(enrolled, mdtf, monkeypatch):
    """Another operation checking the gallery while an enrolment is between its store commit
    and its ledger append (its outcome events pending), and between the append and the
    clearing of the pending row: the counts agree at both moments."""
    home, deployment = enrolled
    observer = _fresh(home, deployment)
    observer.check_gallery()
    store, seen = deployment.store, []
    real_enrol, real_clear = store.enrol, store.clear_intent

    def enrol_then_look(*args, **kwargs):
        written = real_enrol(*args, **kwargs)
        observer.check_gallery()  # committed with its events pending, not in the ledger yet
        seen.append("after commit")
        return written

    def look_then_clear(intent_id):
        observer.check_gallery()  # in the ledger and still pending: counted once
        seen.append("before clear")
        real_clear(intent_id)

    monkeypatch.setattr(store, "enrol", enrol_then_look)
    monkeypatch.setattr(store, "clear_intent", look_then_clear)
    deployment.enrol(actor="clerk", subject_id="p3", images=[mdtf / "5.png"],
                     basis="consent", evidence="form-p3")
    assert seen == ["after commit", "before clear"]
    observer.check_gallery()
