"""Attack 5 of issue 21, on the stored searches: whoever can write the gallery but cannot sign
the ledger cannot put a person on a candidate list, swap or re-rank candidates, forge a
reviewer's confirmation or record an action that never happened. Each identify event commits to
its candidate lists; review and lead events are the record of decisions and actions; the stored
rows are checked against them whenever a result or task is read. The insider uses SQL on both
backends; an erasure's scrubbing stays allowed."""

from __future__ import annotations

import json
import sqlite3

import audit_evidence
import psycopg
import pytest
from typer.testing import CliRunner

from faceaudit.cli import app
from faceaudit.deployment.operations import Deployment
from faceaudit.deployment.reviews import TaskRef
from faceaudit.gallery.errors import GalleryTamperedError
from faceaudit.ledger.genesis import init_home


@pytest.fixture
def searched(tmp_path, database_url, mdtf, calibration):
    home = init_home(tmp_path / "home", database_url)
    audit_evidence.register_passing_audit(home)
    deployment = Deployment(home, calibration=calibration)
    for subject, image in (("s-1", "1.png"), ("s-3", "3.png"), ("s-5", "5.png")):
        deployment.enrol(actor="clerk", subject_id=subject, images=[mdtf / image],
                         basis="consent", evidence=f"form-{subject}")
    found = deployment.identify(actor="alice", image=mdtf / "2.png", purpose="p", case="c-1")
    return home, deployment, found


def _sql(home, statement: str, *args):
    url = home.database_url_in_force()
    if url is None:
        with sqlite3.connect(home.db_path) as db:
            return db.execute(statement, args).fetchall()
    with psycopg.connect(url) as db:
        cursor = db.execute(statement.replace("?", "%s"), args)
        return cursor.fetchall() if cursor.description else []


def _faces(home, result_id):
    return json.loads(_sql(home, "SELECT faces FROM results WHERE result_id = ?", result_id)[0][0])


def _write_faces(home, result_id, faces):
    _sql(home, "UPDATE results SET faces = ? WHERE result_id = ?", json.dumps(faces), result_id)


def _task_id(deployment, result_id):
    return deployment.get_result(result_id)["tasks"][0]["task_id"]


def test_an_untouched_search_reads_and_reviews(searched):
    _, deployment, found = searched
    task = _task_id(deployment, found["result_id"])
    deployment.review(actor="rev-a", ref=TaskRef(task_id=task), decision="confirm")
    assert deployment.get_result(found["result_id"])["tasks"][0]["decisions"]


def test_a_person_added_to_a_candidate_list_is_refused(searched):
    home, deployment, found = searched
    faces = _faces(home, found["result_id"])
    faces[0]["candidates"].append({"subject_id": "s-5", "score": 0.99, "fmr": 1e-7,
                                   "rank": len(faces[0]["candidates"]) + 1})
    _write_faces(home, found["result_id"], faces)
    with pytest.raises(GalleryTamperedError) as refused:
        deployment.get_result(found["result_id"])
    assert refused.value.table == "results" and found["result_id"] in refused.value.row
    verified = CliRunner().invoke(app, ["ledger", "verify", "--home", str(home.root)])
    assert verified.exit_code == 4 and found["result_id"] in verified.output


def test_a_swapped_candidate_is_refused(searched):
    home, deployment, found = searched
    faces = _faces(home, found["result_id"])
    faces[0]["candidates"][0]["subject_id"] = "s-5"
    _write_faces(home, found["result_id"], faces)
    with pytest.raises(GalleryTamperedError):
        deployment.get_result(found["result_id"])
    with pytest.raises(GalleryTamperedError):
        deployment.pending_reviews(actor="rev-a")


def test_a_forged_confirmation_does_not_make_a_lead(searched):
    home, deployment, found = searched
    task = _task_id(deployment, found["result_id"])
    for reviewer in ("ghost-1", "ghost-2"):
        _sql(home, "INSERT INTO review_decisions(task_id, reviewer, decision, actor, note, "
                   "created_at) VALUES (?, ?, 'confirm', ?, NULL, '2026-01-01T00:00:00')",
             task, reviewer, reviewer)
    with pytest.raises(GalleryTamperedError) as refused:
        deployment.lead_action(actor="det", ref=TaskRef(task_id=task), kind="arrest",
                               evidence="witness statement 4", by="Det. Bo")
    assert refused.value.table == "review_decisions"


def test_a_forged_action_is_refused(searched):
    home, deployment, found = searched
    task = _task_id(deployment, found["result_id"])
    _sql(home, "INSERT INTO lead_records(task_id, step, kind, evidence, recorded_by, actor, "
               "created_at) VALUES (?, 'action', 'arrest', 'x', 'nobody', 'nobody', "
               "'2026-01-01T00:00:00')", task)
    with pytest.raises(GalleryTamperedError) as refused:
        deployment.review_task(actor="rev-a", ref=TaskRef(task_id=task))
    assert refused.value.table == "lead_records"


def test_an_erasure_scrubbing_a_candidate_is_not_tampering(searched):
    _, deployment, found = searched
    deployment.erase(actor="clerk", subject_id="s-1")
    result = deployment.get_result(found["result_id"])
    assert result["faces"][0]["candidates"][0]["subject_id"] is None
