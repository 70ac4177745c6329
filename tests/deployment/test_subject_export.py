"""A data subject's access request (GDPR Art. 15, issue 23): everything held and logged about
one subject — consent, template hashes (never embeddings), the searches that returned them, the
reviews of those searches, erasure state — and nothing about anyone else; the export is logged."""

from __future__ import annotations

import json

import audit_evidence
import pytest
from typer.testing import CliRunner

from faceaudit.cli import app
from faceaudit.deployment.operations import Deployment
from faceaudit.ledger import Ledger
from faceaudit.ledger.genesis import init_home

runner = CliRunner()


@pytest.fixture
def searched(tmp_path, database_url, mdtf, calibration):
    home = init_home(tmp_path / "home", database_url)
    audit_evidence.register_passing_audit(home)
    deployment = Deployment(home, calibration=calibration)
    for subject, image in (("p1", "1.png"), ("p2", "3.png")):
        deployment.enrol(actor="clerk", subject_id=subject, images=[mdtf / image],
                         basis="consent", evidence=f"form-{subject}")
    found = deployment.identify(actor="officer", image=mdtf / "2.png", purpose="p", case="C-7")
    return home, deployment, found


def test_the_export_holds_what_is_held_and_logged_about_one_subject(searched):
    home, deployment, found = searched
    export = deployment.subject_export(actor="dpo", subject_id="p1", purpose="access request",
                                       case="SAR-1")
    assert export["erasure"]["state"] == "enrolled"
    held = export["held"]
    assert [c["evidence"] for c in held["consents"]] == ["form-p1"]
    assert len(held["templates"]) == 1 and len(held["templates"][0]["row_sha256"]) == 64
    assert "embedding" not in json.dumps(held)
    (hit,) = held["candidate_in"]
    assert hit["result_id"] == found["result_id"] and hit["case"] == "C-7" and hit["rank"] == 1
    actions = [e["action"] for e in export["logged"]]
    assert "enrol" in actions and "identify" in actions
    text = json.dumps(export)
    assert "form-p2" not in text and '"p2"' not in text  # nobody else's data
    last = list(Ledger(home).events())[-1]
    assert last["action"] == "subject_export" and last["actor"] == "dpo"
    assert last["result"]["subject_id"] == "p1" and last["case"] == "SAR-1"


def test_after_erasure_the_export_shows_the_erasure_and_holds_nothing(searched):
    home, deployment, _ = searched
    deployment.erase(actor="clerk", subject_id="p1", purpose="request")
    export = deployment.subject_export(actor="dpo", subject_id="p1")
    assert export["erasure"]["state"] == "erased"
    assert export["held"]["consents"] == [] and export["held"]["templates"] == []
    assert export["held"]["candidate_in"] == []  # erasure scrubbed the stored candidate lists


def test_the_cli_writes_the_export(searched, tmp_path):
    home, _, _ = searched
    out = tmp_path / "p1.json"
    result = runner.invoke(app, ["gallery", "subject-export", "p1", "--out", str(out),
                                 "--case", "SAR-2", "--home", str(home.root), "--actor", "dpo"])
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text())["subject_id"] == "p1"
    never = runner.invoke(app, ["gallery", "subject-export", "nobody", "--home",
                                str(home.root)])
    assert never.exit_code == 0 and json.loads(never.stdout)["erasure"]["state"] == "not enrolled"


def test_reviews_of_the_subjects_candidacy_are_included_and_no_others(searched, mdtf):
    from faceaudit.deployment.reviews import TaskRef

    home, deployment, found = searched
    deployment.review(actor="rev-a", ref=TaskRef(result_id=found["result_id"], face=0,
                                                 subject_id="p1"), decision="confirm",
                      note="same ears as p1")
    export = deployment.subject_export(actor="dpo", subject_id="p1")
    (hit,) = export["held"]["candidate_in"]
    assert [d["decision"] for d in hit["decisions"]] == ["confirm"]
    reviews = [e for e in export["logged"] if e["action"] == "review"]
    assert [e["result"]["task_id"] for e in reviews] == [hit["task_id"]]
    assert "same ears" not in json.dumps(export)  # reviewers' notes are not exported
    other = deployment.subject_export(actor="dpo", subject_id="p2")
    assert not [e for e in other["logged"] if e["action"] == "review"]
