"""CLI accountability: reviewer = actor, self-review, legal bases, duplicate faces."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from faceaudit.cli import app
from faceaudit.deployment.reviews import TaskRef
from faceaudit.gallery import ConsentError, InvalidRequestError
from faceaudit.gallery.basis import LegalBasis, parse_legal_basis
from faceaudit.ledger import Ledger
from faceaudit.policy import PolicyRefusal
from faceaudit.policy.enforce import install_policy

runner = CliRunner()


def outcomes(home) -> list[dict]:
    return [e for e in Ledger(home).events() if e["action"] != "intent"]


# -- legal basis --------------------------------------------------------------------------------


@pytest.mark.parametrize("basis", [b.value for b in LegalBasis])
def test_every_documented_basis_is_accepted(basis):
    assert parse_legal_basis(f"  {basis.upper()} ") == basis


@pytest.mark.parametrize("basis", ["whim", "", "   ", "other:", "other:   ", "consent please"])
def test_anything_else_is_refused(basis):
    with pytest.raises(ConsentError):
        parse_legal_basis(basis)


def test_other_needs_a_note_and_keeps_it():
    assert parse_legal_basis("other: national law §12") == "other:national law §12"


def test_the_library_refuses_an_unknown_basis(deployment, mdtf):
    with pytest.raises(ConsentError, match="whim"):
        deployment.enrol(actor="clerk", subject_id="s", images=[mdtf / "1.png"], basis="whim",
                         evidence="f")
    assert deployment.list_subjects() == [] and outcomes(deployment.home)[-1]["action"] == "audit"


def test_cli_basis_whim_exits_2_and_stores_nothing(audited_home, mdtf):
    h = ["--home", str(audited_home.root)]
    result = runner.invoke(app, ["gallery", "enrol", str(mdtf / "1.png"), "--subject", "s",
                                 "--basis", "whim", "--evidence", "f", *h])
    assert result.exit_code == 2 and "legal basis" in result.stderr
    assert json.loads(runner.invoke(app, ["gallery", "list", "--json", *h]).stdout) == []


# -- duplicate faces ----------------------------------------------------------------------------


def test_the_same_face_under_two_ids_is_refused_and_recorded(deployment, mdtf):
    deployment.enrol(actor="clerk", subject_id="a", images=[mdtf / "1.png"], basis="consent",
                     evidence="f-a")
    with pytest.raises(PolicyRefusal, match="duplicate-face") as refusal:
        deployment.enrol(actor="clerk", subject_id="b", images=[mdtf / "2.png"],
                         basis="consent", evidence="f-b")
    assert refusal.value.rule == "duplicate-face"
    refused = outcomes(deployment.home)[-1]
    assert refused["action"] == "refused" and refused["result"]["matches"] == ["a"]
    assert [s["subject_id"] for s in deployment.list_subjects()] == ["a"]
    # another person is no duplicate; more photos of the same subject are not either
    deployment.enrol(actor="clerk", subject_id="c", images=[mdtf / "3.png"], basis="consent",
                     evidence="f-c")
    deployment.enrol(actor="clerk", subject_id="a", images=[mdtf / "2.png"], basis="consent",
                     evidence="f-a2")
    allowed = deployment.enrol(actor="clerk", subject_id="b", images=[mdtf / "2.png"],
                               basis="consent", evidence="f-b", allow_duplicate=True)
    assert "a" in allowed["warnings"][0]
    assert outcomes(deployment.home)[-1]["result"]["duplicate_of"] == ["a"]


def test_cli_duplicate_exits_5_unless_allowed(audited_home, mdtf):
    h = ["--home", str(audited_home.root)]
    common = ["--basis", "explicit-consent", "--evidence", "f", *h]
    first = runner.invoke(app, ["gallery", "enrol", str(mdtf / "1.png"), "--subject", "a",
                                *common])
    assert first.exit_code == 0, first.output
    again = runner.invoke(app, ["gallery", "enrol", str(mdtf / "2.png"), "--subject", "b",
                                *common])
    assert again.exit_code == 5 and "duplicate-face" in again.stderr
    assert again.stderr.rstrip().endswith("--allow-duplicate enrols anyway (recorded)")
    assert "allow_duplicate" not in again.stderr  # the CLI names its flag (issue 26)
    allowed = runner.invoke(app, ["gallery", "enrol", str(mdtf / "2.png"), "--subject", "b",
                                  "--allow-duplicate", *common])
    assert allowed.exit_code == 0 and "warning:" in allowed.stderr


# -- the reviewer is the acting user ------------------------------------------------------------


def _ref(found: dict) -> TaskRef:
    """The one task of a search whose first face has one candidate, ``a``."""
    return TaskRef(result_id=found["result_id"], face=0, subject_id="a")


def test_a_review_in_someone_elses_name_is_refused(deployment, mdtf):
    deployment.enrol(actor="clerk", subject_id="a", images=[mdtf / "1.png"], basis="consent",
                     evidence="f")
    found = deployment.identify(actor="alice", image=mdtf / "2.png", purpose="p", case="c")
    with pytest.raises(InvalidRequestError, match="bob"):
        deployment.review(actor="carol", ref=_ref(found), decision="confirm", reviewer="bob")
    with pytest.raises(PolicyRefusal, match="self-review"):
        deployment.review(actor="alice", ref=_ref(found), decision="confirm")
    assert deployment.get_result(found["result_id"])["tasks"][0]["decisions"] == []
    assert outcomes(deployment.home)[-1]["result"]["rule"] == "self-review"
    done = deployment.review(actor="carol", ref=_ref(found), decision="reject")
    assert done["your_decision"] == "reject"
    (decision,) = deployment.get_result(found["result_id"])["tasks"][0]["decisions"]
    assert (decision["reviewer"], decision["actor"]) == ("carol", "carol")


def test_the_policy_can_allow_self_review(deployment, mdtf, tmp_path):
    policy = tmp_path / "p.toml"  # the installed policy (trusting the auditor) plus the switch
    policy.write_text("allow_self_review = true\n" + deployment.home.policy_path.read_text())
    install_policy(deployment.home, deployment.ledger, policy, "admin")
    deployment.enrol(actor="clerk", subject_id="a", images=[mdtf / "1.png"], basis="consent",
                     evidence="f")
    found = deployment.identify(actor="alice", image=mdtf / "2.png", purpose="p", case="c")
    assert len(deployment.pending_reviews(actor="alice")) == 1
    done = deployment.review(actor="alice", ref=_ref(found), decision="confirm")
    assert done["your_decision"] == "confirm"


def test_cli_review_takes_the_reviewer_from_the_actor(audited_home, mdtf):
    h = ["--home", str(audited_home.root)]
    runner.invoke(app, ["gallery", "enrol", str(mdtf / "1.png"), "--subject", "a", "--basis",
                        "consent", "--evidence", "f", *h])
    found = runner.invoke(app, ["identify", str(mdtf / "2.png"), "--purpose", "p", "--case",
                                "c", "--actor", "alice", "--json", *h])
    result_id = json.loads(found.stdout)["result_id"]
    by = ["--result", result_id, "--face", "0", "--candidate", "a"]
    own = runner.invoke(app, ["review", "decide", *by, "--confirm", "--actor", "alice", *h])
    assert own.exit_code == 5 and "self-review" in own.stderr
    listed = runner.invoke(app, ["review", "pending", "--actor", "bob", "--json", *h])
    (task,) = json.loads(listed.stdout)["pending"]
    done = runner.invoke(app, ["review", "decide", task["task_id"], "--confirm", "--actor",
                               "bob", "--json", *h])
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["your_decision"] == "confirm"
    again = runner.invoke(app, ["review", "decide", *by, "--reject", "--actor", "bob", *h])
    assert again.exit_code == 5 and "same-reviewer" in again.stderr
