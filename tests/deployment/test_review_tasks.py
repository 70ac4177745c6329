"""Per-candidate review by independent, blind reviewers, and no action on a lead without
independent evidence — on real faces, on both state backends (SQLite files and PostgreSQL).

Each refusal is checked three ways: the typed error, the ``refused`` event, and nothing
changed in the store.
"""

from __future__ import annotations

import json

import audit_evidence
import pytest
from insider_sql import insider_sql

from faceaudit.base.home import Home
from faceaudit.deployment.operations import Deployment
from faceaudit.deployment.reviews import TaskRef
from faceaudit.gallery import InvalidRequestError, UnknownReviewTaskError
from faceaudit.ledger import Ledger
from faceaudit.ledger.genesis import init_home
from faceaudit.policy.enforce import install_policy
from faceaudit.policy.errors import LeadRefusal, ReviewRefusal


@pytest.fixture
def home(tmp_path, database_url) -> Home:
    """An audited deployment home, its gallery and ledger in files or in PostgreSQL."""
    made = init_home(tmp_path / "home", database_url)
    audit_evidence.register_passing_audit(made)
    return made


@pytest.fixture
def police(home: Home, mdtf, calibration) -> Deployment:
    """Two subjects enrolled (1.png as ``s-1``, 3.png as ``s-3``)."""
    deployment = Deployment(home, calibration=calibration)
    for subject, image in (("s-1", "1.png"), ("s-3", "3.png")):
        deployment.enrol(actor="clerk", subject_id=subject, images=[mdtf / image],
                         basis="consent", evidence=f"form-{subject}")
    return deployment


def _search(police: Deployment, mdtf, image: str = "2.png") -> dict:
    return police.identify(actor="alice", image=mdtf / image, purpose="p", case="case-7")


def _task(police: Deployment, result_id: str) -> str:
    (task,) = police.get_result(result_id)["tasks"]
    return task["task_id"]


def _last(home: Home) -> dict:
    return [e for e in Ledger(home).events() if e["action"] != "intent"][-1]


def _refused(police: Deployment, error, call, rule: str, result_id: str) -> None:
    """``call`` raises ``error`` with ``rule``, logs a ``refused`` event and changes nothing."""
    before = police.store.get_result(result_id)
    n_events = len(list(Ledger(police.home).events()))
    with pytest.raises(error) as raised:
        call()
    assert raised.value.rule == rule
    events = list(Ledger(police.home).events())
    assert len(events) == n_events + 1
    assert events[-1]["action"] == "refused" and events[-1]["result"]["rule"] == rule
    assert police.store.get_result(result_id) == before


def test_one_task_per_face_and_candidate_and_none_for_a_face_without_candidates(police, mdtf):
    found = _search(police, mdtf)
    tasks = police.get_result(found["result_id"])["tasks"]
    candidates = [(i, c["subject_id"]) for i, f in enumerate(found["faces"])
                  for c in f["candidates"]]
    assert candidates == [(0, "s-1")]
    assert [(t["face"], t["candidate"]["subject_id"]) for t in tasks] == candidates
    nobody = _search(police, mdtf, "5.png")  # a third person: no candidate at all
    assert nobody["faces"][0]["candidates"] == []
    assert police.get_result(nobody["result_id"])["tasks"] == []


def test_two_independent_confirmations_make_a_confirmed_lead(police, mdtf):
    found = _search(police, mdtf)
    task = _task(police, found["result_id"])
    police.review(actor="bob", ref=TaskRef(task_id=task), decision="confirm")
    assert _last(police.home)["result"]["lead"] == "pending"  # one of the two required
    police.review(actor="carol", ref=TaskRef(task_id=task), decision="confirm")
    logged = _last(police.home)
    assert logged["action"] == "review"
    assert {k: logged["result"][k] for k in ("task_id", "reviewer", "decision", "lead",
                                             "confirms", "rejects", "disagreement")} == {
        "task_id": task, "reviewer": "carol", "decision": "confirm", "lead": "confirmed",
        "confirms": 2, "rejects": 0, "disagreement": False}
    assert police.reviews.state_of(police.store.get_task(task))["state"] == "confirmed"


def test_one_rejection_leaves_the_candidate_unconfirmed_and_records_the_disagreement(
        police, mdtf):
    found = _search(police, mdtf)
    task = _task(police, found["result_id"])
    police.review(actor="bob", ref=TaskRef(task_id=task), decision="confirm")
    police.review(actor="carol", ref=TaskRef(task_id=task), decision="reject")
    assert _last(police.home)["result"]["lead"] == "unconfirmed"
    assert _last(police.home)["result"]["disagreement"] is True
    state = police.reviews.state_of(police.store.get_task(task))
    assert (state["state"], state["disagreement"]) == ("unconfirmed", True)


def test_self_review_is_refused_logged_and_changes_nothing(police, mdtf):
    found = _search(police, mdtf)
    task = _task(police, found["result_id"])
    _refused(police, ReviewRefusal,
             lambda: police.review(actor="alice", ref=TaskRef(task_id=task),
                                   decision="confirm"),
             "self-review", found["result_id"])
    assert police.pending_reviews(actor="alice") == []  # the searcher has nothing to review


def test_the_same_reviewer_twice_is_refused_logged_and_changes_nothing(police, mdtf):
    found = _search(police, mdtf)
    task = _task(police, found["result_id"])
    police.review(actor="bob", ref=TaskRef(task_id=task), decision="confirm")
    _refused(police, ReviewRefusal,
             lambda: police.review(actor="bob", ref=TaskRef(task_id=task), decision="reject"),
             "same-reviewer", found["result_id"])
    # named by result, face and candidate instead of the task id: the same rule
    _refused(police, ReviewRefusal,
             lambda: police.review(actor="bob", decision="confirm", ref=TaskRef(
                 result_id=found["result_id"], face=0, subject_id="s-1")),
             "same-reviewer", found["result_id"])


def test_a_third_reviewer_is_refused_once_the_required_two_decided(police, mdtf):
    found = _search(police, mdtf)
    task = _task(police, found["result_id"])
    police.review(actor="bob", ref=TaskRef(task_id=task), decision="confirm")
    police.review(actor="carol", ref=TaskRef(task_id=task), decision="reject")
    assert police.pending_reviews(actor="dave") == []
    _refused(police, ReviewRefusal,
             lambda: police.review(actor="dave", ref=TaskRef(task_id=task), decision="confirm"),
             "review-complete", found["result_id"])


def test_confirming_a_face_without_candidates_is_refused_logged_and_changes_nothing(
        police, mdtf):
    nobody = _search(police, mdtf, "5.png")
    _refused(police, ReviewRefusal,
             lambda: police.review(actor="bob", decision="confirm", ref=TaskRef(
                 result_id=nobody["result_id"], face=0, subject_id="s-1")),
             "no-candidates", nobody["result_id"])
    found = _search(police, mdtf)
    _refused(police, ReviewRefusal,
             lambda: police.review(actor="bob", decision="confirm", ref=TaskRef(
                 result_id=found["result_id"], face=0, subject_id="s-3")),
             "not-a-candidate", found["result_id"])
    with pytest.raises(InvalidRequestError, match="faces 0 to 0"):
        police.review(actor="bob", decision="confirm",
                      ref=TaskRef(result_id=found["result_id"], face=3, subject_id="s-1"))
    with pytest.raises(UnknownReviewTaskError):
        police.review(actor="bob", decision="confirm", ref=TaskRef(task_id="no-such-task"))


def test_a_second_reviewer_never_sees_the_first_decision_score_or_rank(police, mdtf):
    found = _search(police, mdtf)
    task = _task(police, found["result_id"])
    police.review(actor="bob", ref=TaskRef(task_id=task), decision="reject",
                  note="bob thinks not")
    (listed,) = police.pending_reviews(actor="carol")
    shown = police.review_task(actor="carol", ref=TaskRef(task_id=task))
    for view in (listed, shown):
        text = json.dumps(view)
        assert "bob" not in text and "reject" not in text and "thinks" not in text
        assert view["your_decision"] is None and "decisions" not in view
        assert {"score", "rank", "fmr"}.isdisjoint(view["candidate"])
        assert all({"score", "rank", "fmr"}.isdisjoint(c) for c in view["array"])
        assert view["candidate"]["subject_id"] == "s-1" and view["blind"] is True
    assert listed["age_s"] >= 0
    decided = police.review(actor="carol", ref=TaskRef(task_id=task), decision="confirm")
    assert "reject" not in json.dumps(decided) and decided["your_decision"] == "confirm"
    assert decided["receipt"]["seq"] == decided["ledger_seq"]  # proof the decision is logged


def test_pending_lists_the_oldest_search_first_and_drops_what_you_decided(police, mdtf):
    first = _search(police, mdtf)
    second = _search(police, mdtf, "4.png")
    listed = police.pending_reviews(actor="bob")
    assert [t["result_id"] for t in listed] == [first["result_id"], second["result_id"]]
    assert listed[0]["age_s"] >= listed[1]["age_s"]
    police.review(actor="bob", ref=TaskRef(task_id=listed[0]["task_id"]), decision="confirm")
    assert [t["result_id"] for t in police.pending_reviews(actor="bob")] == [
        second["result_id"]]
    assert len(police.pending_reviews(actor="carol")) == 2


def test_an_open_policy_shows_score_and_rank_but_still_not_other_decisions(police, mdtf):
    staged = police.home.root.parent / "open.toml"
    staged.write_text(police.home.policy_path.read_text()
                      + "\n[review]\nrequired_reviewers = 1\nblind = false\n")
    install_policy(police.home, police.ledger, staged, "admin")
    found = _search(police, mdtf)
    task = _task(police, found["result_id"])
    shown = police.review_task(actor="bob", ref=TaskRef(task_id=task))
    assert shown["candidate"]["rank"] == 1 and shown["candidate"]["score"] > 0.9
    police.review(actor="bob", ref=TaskRef(task_id=task), decision="confirm")
    assert _last(police.home)["result"]["lead"] == "confirmed"  # one reviewer suffices here
    assert "bob" not in json.dumps(police.review_task(actor="carol", ref=TaskRef(task_id=task)))


# -- a lead is not evidence ---------------------------------------------------------------------


def _confirmed(police: Deployment, mdtf) -> tuple[dict, TaskRef]:
    found = _search(police, mdtf)
    ref = TaskRef(result_id=found["result_id"], face=0, subject_id="s-1")
    for reviewer in ("bob", "carol"):
        police.review(actor=reviewer, ref=ref, decision="confirm")
    return found, ref


def test_acting_on_an_unconfirmed_candidate_is_refused(police, mdtf):
    found = _search(police, mdtf)
    ref = TaskRef(result_id=found["result_id"], face=0, subject_id="s-1")
    police.review(actor="bob", ref=ref, decision="confirm")  # one of two: not yet a lead
    _refused(police, LeadRefusal,
             lambda: police.lead_action(actor="det", ref=ref, kind="arrest",
                                        evidence="witness statement WS-1", by="Det. Rowe"),
             "lead-not-confirmed", found["result_id"])


def test_actioning_a_lead_without_evidence_is_refused_logged_and_changes_nothing(police, mdtf):
    found, ref = _confirmed(police, mdtf)
    for evidence in (None, "   "):
        _refused(police, LeadRefusal,
                 lambda evidence=evidence: police.lead_action(
                     actor="det", ref=ref, kind="arrest", evidence=evidence, by="Det. Rowe"),
                 "no-evidence", found["result_id"])
    _refused(police, LeadRefusal,
             lambda: police.lead_outcome(actor="det", ref=ref, outcome="charged",
                                         by="Det. Rowe"),
             "lead-not-actioned", found["result_id"])
    nobody = _search(police, mdtf, "5.png")
    _refused(police, LeadRefusal,
             lambda: police.lead_action(
                 actor="det", kind="arrest", evidence="WS-1", by="Det. Rowe",
                 ref=TaskRef(result_id=nobody["result_id"], face=0, subject_id="s-1")),
             "no-candidates", nobody["result_id"])
    with pytest.raises(InvalidRequestError, match="--by"):
        police.lead_action(actor="det", ref=ref, kind="arrest", evidence="WS-1", by=" ")
    with pytest.raises(InvalidRequestError, match="arrest"):
        police.lead_action(actor="det", ref=ref, kind="hunch", evidence="WS-1", by="Det. Rowe")


def test_a_confirmed_lead_actioned_on_evidence_then_its_outcome(police, mdtf):
    found, ref = _confirmed(police, mdtf)
    acted = police.lead_action(actor="det", ref=ref, kind="lineup",
                               evidence="CCTV still CS-44 matched by witness", by="Det. Rowe")
    assert acted["lead"]["state"] == "actioned" and acted["recorded_by"] == "Det. Rowe"
    logged = _last(police.home)
    assert logged["action"] == "lead" and logged["result"]["step"] == "action"
    assert len(logged["result"]["evidence_sha256"]) == 64
    assert "CCTV" not in json.dumps(logged)  # the reference stays in the gallery, not the log
    ended = police.lead_outcome(actor="det", ref=ref, outcome="charged", by="Det. Rowe")
    assert ended["lead"]["state"] == "outcome"
    steps = [(r["step"], r["kind"]) for r in police.store.get_task(acted["task_id"])[
        "lead_records"]]
    assert steps == [("action", "lineup"), ("outcome", "charged")]


def test_deleting_a_search_deletes_its_tasks_decisions_and_lead_records(police, mdtf):
    found, ref = _confirmed(police, mdtf)
    police.lead_action(actor="det", ref=ref, kind="warrant", evidence="W-9", by="Det. Rowe")
    task = _task(police, found["result_id"])
    police.store.delete_search_outputs([found["result_id"]])
    with police.store.storage.read() as tx:
        for table in ("review_tasks", "review_decisions", "lead_records"):
            assert tx.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == 0, table
    with pytest.raises(UnknownReviewTaskError):
        police.store.get_task(task)


# -- the oversight report follows each case from search to outcome ---------------------------


def test_the_oversight_report_shows_each_case_from_search_to_outcome(police, mdtf, tmp_path):
    from datetime import UTC, datetime, timedelta

    from faceaudit.ledger.oversight import build_oversight, write_oversight

    found, ref = _confirmed(police, mdtf)  # case-7: confirmed by bob and carol
    police.lead_action(actor="det", ref=ref, kind="lineup", evidence="WS-1", by="Det. Rowe")
    police.lead_outcome(actor="det", ref=ref, outcome="cleared", by="Det. Rowe")
    _search(police, mdtf, "5.png")  # case-7 again: no candidate
    other = police.identify(actor="alice", image=mdtf / "4.png", purpose="p", case="case-8")
    split = TaskRef(result_id=other["result_id"], face=0, subject_id="s-3")
    police.review(actor="bob", ref=split, decision="confirm")
    police.review(actor="carol", ref=split, decision="reject")
    now = datetime.now(UTC)
    report = build_oversight(Ledger(police.home), now - timedelta(hours=1),
                             now + timedelta(hours=1))
    cases = {c["case"]: c for c in report["cases"]}
    assert {k: cases["case-7"][k] for k in ("state", "searches", "candidates",
                                            "confirmed_leads", "actioned", "outcomes")} == {
        "state": "outcome", "searches": 2, "candidates": 1, "confirmed_leads": 1,
        "actioned": 1, "outcomes": "cleared"}
    assert {k: cases["case-8"][k] for k in ("state", "confirmed_leads", "unconfirmed",
                                            "disagreements")} == {
        "state": "candidates", "confirmed_leads": 0, "unconfirmed": 1, "disagreements": 1}
    assert cases["case-7"]["median_review_time_s"] >= 0
    leads = report["leads"]
    assert (leads["decided"], leads["confirmed"], leads["disagreements"]) == (2, 1, 1)
    assert (leads["confirmation_rate"], leads["disagreement_rate"]) == (0.5, 0.5)
    rows = {r["result_id"]: r for r in report["reviews"]["rows"]}
    assert rows[found["result_id"]]["outcome"] == "confirmed"
    assert rows[found["result_id"]]["reviewer"] == "bob, carol"
    assert rows[other["result_id"]]["outcome"] == "rejected"
    written = {p.name for p in write_oversight(report, tmp_path / "oversight")}
    assert {"leads.csv", "cases.csv"} <= written
    assert "From a search to a decision" in (tmp_path / "oversight" / "oversight.html").read_text()


# -- probe crops: kept for the review period the policy sets, then purged with an event -------


def test_probe_crops_are_kept_for_the_review_period_then_purged(police, mdtf):
    from datetime import UTC, datetime, timedelta

    assert police.store.probe_crop(_search(police, mdtf)["result_id"], 0) is None  # default
    staged = police.home.root.parent / "crops.toml"
    staged.write_text(police.home.policy_path.read_text() + "\n[review]\nprobe_crop_hours = 24\n")
    install_policy(police.home, police.ledger, staged, "admin")
    found = _search(police, mdtf)
    nobody = _search(police, mdtf, "5.png")
    crop = police.store.probe_crop(found["result_id"], 0)
    assert crop is not None and crop.startswith(b"\xff\xd8")  # a JPEG of the face only
    assert police.store.probe_crop(nobody["result_id"], 0) is None  # nothing to review there
    view = police.review_case(actor="bob", ref=TaskRef(task_id=_task(police, found["result_id"])))
    assert view["probe_crop"] == crop
    assert view["references"] == {view["task_id"]: None}  # enrolled without keep_images
    files = police.home.database_url_in_force() is None

    def on_disk() -> bytes:
        db = police.home.db_path
        wal = db.with_name(db.name + "-wal")
        return db.read_bytes() + (wal.read_bytes() if wal.exists() else b"")

    assert not files or crop[200:264] in on_disk()  # the scan below can see it
    assert police.purge_probe_crops("sweeper", datetime.now(UTC) + timedelta(hours=23)) == []
    purged = police.purge_probe_crops("sweeper", datetime.now(UTC) + timedelta(hours=25))
    assert purged == [found["result_id"]]
    assert police.store.probe_crop(found["result_id"], 0) is None
    logged = _last(police.home)
    assert logged["action"] == "purge" and logged["result"]["reason"] == "review-period-ended"
    assert logged["result"]["probe_crops_of"] == [found["result_id"]]
    assert not files or crop[200:264] not in on_disk()  # the crop's bytes left the files
    assert police.get_result(found["result_id"])["tasks"]  # the review itself stays


def test_a_swapped_probe_crop_or_reference_photo_is_never_shown_to_a_reviewer(police, mdtf):
    """The case view shows the searched face and the candidate's enrolment photo; an insider
    who swaps either (so the reviewers confirm a face that was never searched, or compare the
    probe with someone else's photo) is refused: both are bound to their events."""
    from faceaudit.gallery.errors import GalleryTamperedError

    staged = police.home.root.parent / "crops.toml"
    staged.write_text(police.home.policy_path.read_text() + "\n[review]\nprobe_crop_hours = 24\n")
    install_policy(police.home, police.ledger, staged, "admin")
    police.erase(actor="dpo", subject_id="s-1")
    photo = (mdtf / "1.png").read_bytes()
    police.enrol(actor="clerk", subject_id="s-1", images=[mdtf / "1.png"], basis="consent",
                 evidence="form-s-1", keep_images=True)
    found = _search(police, mdtf)
    ref = TaskRef(task_id=_task(police, found["result_id"]))
    view = police.review_case(actor="bob", ref=ref)
    assert view["references"] == {view["task_id"]: photo} and view["probe_crop"]
    other = (mdtf / "3.png").read_bytes()  # someone else's face
    insider_sql(police.home, "UPDATE images SET data = ?", other)
    with pytest.raises(GalleryTamperedError) as refused:
        police.review_case(actor="bob", ref=ref)
    assert refused.value.table == "images"
    insider_sql(police.home, "UPDATE images SET data = ?", photo)
    assert police.review_case(actor="bob", ref=ref)["references"][view["task_id"]] == photo
    insider_sql(police.home, "UPDATE probe_crops SET data = ?", view["probe_crop"][:-10])
    with pytest.raises(GalleryTamperedError) as refused:
        police.review_case(actor="bob", ref=ref)
    assert refused.value.table == "probe_crops"


def test_a_reference_photo_inserted_for_a_subject_enrolled_without_one_is_refused(police, mdtf):
    from faceaudit.gallery.errors import GalleryTamperedError

    found = _search(police, mdtf)
    ref = TaskRef(task_id=_task(police, found["result_id"]))
    assert police.review_case(actor="bob", ref=ref)["references"] == {
        police.review_case(actor="bob", ref=ref)["task_id"]: None}
    insider_sql(police.home, "INSERT INTO images(subject_pk, data, created_at) SELECT pk, ?, "
                              "created_at FROM subjects WHERE subject_id = 's-1'",
                 (mdtf / "3.png").read_bytes())
    with pytest.raises(GalleryTamperedError, match="enrolment image"):
        police.review_case(actor="bob", ref=ref)
