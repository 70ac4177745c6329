"""A case's disclosure bundle (issue 23): a defence expert with only the deployment's public key
checks, offline, every search of the case (one without candidates too), its candidate list,
the reviews and actions — and `case verify` exits 4 on an altered or left-out part it can see.
Nothing about other cases is in it."""

from __future__ import annotations

import json
import shutil

import audit_evidence
import pytest
from typer.testing import CliRunner

from faceaudit.cli import app
from faceaudit.deployment.operations import Deployment
from faceaudit.deployment.reviews import TaskRef
from faceaudit.ledger.genesis import init_home

runner = CliRunner()


@pytest.fixture
def bundle_dir(tmp_path, mdtf, calibration):
    home = init_home(tmp_path / "home")
    audit_evidence.register_passing_audit(home)
    deployment = Deployment(home, calibration=calibration)
    for subject, image in (("s-1", "1.png"), ("s-3", "3.png")):
        deployment.enrol(actor="clerk", subject_id=subject, images=[mdtf / image],
                         basis="consent", evidence=f"form-{subject}")
    hit = deployment.identify(actor="alice", image=mdtf / "2.png", purpose="p", case="C-9")
    deployment.identify(actor="alice", image=mdtf / "5.png", purpose="p", case="C-9")  # none
    deployment.identify(actor="bob", image=mdtf / "4.png", purpose="p", case="OTHER")
    task = deployment.get_result(hit["result_id"])["tasks"][0]["task_id"]
    for reviewer in ("rev-a", "rev-b"):
        deployment.review(actor=reviewer, ref=TaskRef(task_id=task), decision="confirm")
    deployment.lead_action(actor="det", ref=TaskRef(task_id=task), kind="lineup",
                           evidence="independent witness statement 12", by="Det. Bo")
    out = tmp_path / "bundle"
    result = runner.invoke(app, ["case", "export", "C-9", "--out", str(out), "--home",
                                 str(home.root), "--actor", "dpo"])
    assert result.exit_code == 0, result.output
    key = tmp_path / "deployment.pub"  # the defence's copy, obtained out of band
    shutil.copy(home.public_key_path, key)
    return out, key, hit


def _verify(folder, key):
    result = runner.invoke(app, ["case", "verify", str(folder), "--public-key", str(key),
                                 "--json"])
    return result.exit_code, json.loads(result.stdout)


def _edit(folder, change) -> None:
    path = folder / "case.json"
    bundle = json.loads(path.read_text())
    change(bundle)
    path.write_text(json.dumps(bundle))


def test_the_bundle_verifies_offline_and_holds_only_this_case(bundle_dir):
    folder, key, hit = bundle_dir
    code, summary = _verify(folder, key)
    assert code == 0, summary
    assert summary["searches"] == 2  # the one without candidates too
    bundle = json.loads((folder / "case.json").read_text())
    actions = [item["event"]["action"] for item in bundle["events"]]
    assert {"identify", "review", "lead", "audit", "case_export"} <= set(actions)
    assert all(item["event"]["case"] in ("C-9", None) for item in bundle["events"])
    assert "OTHER" not in json.dumps(bundle)
    assert hit["result_id"] in bundle["results"]
    page = (folder / "case.html").read_text()
    assert "Face recognition was used in this case" in page and "C-9" in page


def test_an_altered_score_is_caught(bundle_dir):
    folder, key, hit = bundle_dir
    _edit(folder, lambda b: b["results"][hit["result_id"]]["faces"][0]["candidates"][0]
          .update(score=0.5))
    code, summary = _verify(folder, key)
    assert code == 4 and any("candidate 1" in p for p in summary["problems"])


def test_a_search_left_out_behind_its_review_is_caught(bundle_dir):
    folder, key, hit = bundle_dir
    _edit(folder, lambda b: b.update(events=[
        i for i in b["events"] if not (i["event"]["action"] == "identify"
                                       and i["event"]["result"]["result_id"] == hit["result_id"])]))
    code, summary = _verify(folder, key)
    assert code == 4 and any("leaves out" in p for p in summary["problems"])


def test_a_search_without_candidates_left_out_is_caught(bundle_dir):
    folder, key, hit = bundle_dir
    _edit(folder, lambda b: b.update(events=[
        i for i in b["events"] if not (i["event"]["action"] == "identify"
                                       and i["event"]["result"]["candidates"] == 0)]))
    code, summary = _verify(folder, key)
    assert code == 4 and any("case_export" in p for p in summary["problems"])


def test_an_edited_event_and_another_key_are_caught(bundle_dir, tmp_path):
    folder, key, _ = bundle_dir
    _edit(folder, lambda b: b["events"][-2]["event"].update(actor="someone-else"))
    code, summary = _verify(folder, key)
    assert code == 4 and any("altered" in p for p in summary["problems"])
    from faceaudit.ledger.signing import generate_keypair

    generate_keypair(tmp_path / "other.pem", tmp_path / "other.pub")
    code, _ = _verify(folder, tmp_path / "other.pub")
    assert code == 4


def test_a_swapped_candidate_is_caught(bundle_dir):
    folder, key, hit = bundle_dir

    def swap(bundle):
        candidate = bundle["results"][hit["result_id"]]["faces"][0]["candidates"][0]
        candidate["subject_id"] = "s-3" if candidate["subject_id"] != "s-3" else "s-1"

    _edit(folder, swap)
    code, summary = _verify(folder, key)
    assert code == 4 and any("candidate 1 is not the one" in p for p in summary["problems"])


def test_truncated_proofs_are_caught(bundle_dir):
    folder, key, _ = bundle_dir

    def truncate(bundle):
        for item in bundle["events"]:
            assert item["receipt"]["audit_path"], "a proof with nothing to truncate"
            item["receipt"]["audit_path"] = item["receipt"]["audit_path"][:-1]

    _edit(folder, truncate)
    code, summary = _verify(folder, key)
    assert code == 4
    assert len(summary["problems"]) >= summary["events"]  # every event's proof fails


def test_one_truncated_proof_or_a_missing_receipt_is_caught(bundle_dir):
    folder, key, _ = bundle_dir
    original = (folder / "case.json").read_text()
    _edit(folder, lambda b: b["events"][0]["receipt"].update(
        audit_path=b["events"][0]["receipt"]["audit_path"][:1]))
    code, summary = _verify(folder, key)
    seq = json.loads(original)["events"][0]["event"]["seq"]
    assert code == 4 and any(p.startswith(f"event {seq}:") for p in summary["problems"])
    (folder / "case.json").write_text(original)
    _edit(folder, lambda b: b["events"][1].update(receipt=None))
    code, summary = _verify(folder, key)
    assert code == 4 and any("without its event or receipt" in p for p in summary["problems"])


def test_an_unknown_case_exits_2_and_logs_nothing(tmp_path):
    home = init_home(tmp_path / "home")
    from faceaudit.ledger import Ledger

    before = len(list(Ledger(home).events()))
    result = runner.invoke(app, ["case", "export", "NO-SUCH", "--out", str(tmp_path / "b"),
                                 "--home", str(home.root), "--actor", "dpo"])
    assert result.exit_code == 2 and "NO-SUCH" in result.output
    assert not (tmp_path / "b").exists()
    assert len(list(Ledger(home).events())) == before


def test_the_printed_page_keeps_every_event_within_the_page(bundle_dir, tmp_path):
    """case.html is the page a court prints: at 1280 px no table, cell or policy text is wider
    than its box (a scrolled or clipped timeline hides part of an event from the reader)."""
    from browser import overflowing

    folder, _, _ = bundle_dir
    html = (folder / "case.html").read_text(encoding="utf-8")
    assert overflowing(html, tmp_path / "wide", "html, table, td, th, pre") == []
