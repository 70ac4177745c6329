"""`faceaudit gallery enrol-folder`: a manifest, one subject per sub-folder, all or nothing per
subject, every image's outcome in the result file, every enrolment policy-checked and logged."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest
from audit_evidence import Auditor, make_report
from typer.testing import CliRunner

from faceaudit.cli import app
from faceaudit.ledger import Ledger

BACKEND = "dlib-resnet:1"
LFW_SUBJECTS = {"lfw-powell": ["Colin_Powell_0001", "Colin_Powell_0002"],
                "lfw-bush": ["George_W_Bush_0001", "George_W_Bush_0002"]}


@pytest.fixture
def folder(tmp_path: Path, mdtf: Path, faces_small: Path, shared_data: Path) -> Path:
    """Two mdtf people and two LFW identities (good), a subject with a corrupt image, one
    with a group photo, a folder without a manifest row, and a row without a folder."""
    root = tmp_path / "intake"
    layout = {"subj-a": [mdtf / "1.png", mdtf / "2.png"], "subj-b": [mdtf / "3.png"],
              "subj-corrupt": [mdtf / "5.png"], "subj-group": [faces_small / "group" /
                                                               "insightface_t1.jpg"],
              "subj-no-row": [mdtf / "6.png"]}
    for subject, names in LFW_SUBJECTS.items():
        layout[subject] = [shared_data / "lfw" / n.rsplit("_", 1)[0] / f"{n}.jpg"
                           for n in names]
    for subject, images in layout.items():
        (root / subject).mkdir(parents=True)
        for image in images:
            shutil.copy(image, root / subject / image.name)
    (root / "subj-corrupt" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    (root / "subj-a" / "notes.txt").write_text("collected at the front desk")
    with open(root / "manifest.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["folder", "subject_id", "consent_ref", "display_name"])
        for subject in [*layout, "ghost"]:
            if subject != "subj-no-row":
                writer.writerow([subject, "", f"form-{subject}", ""])
    return root


def run(home, *args: str):
    return CliRunner().invoke(app, ["gallery", "enrol-folder", *args, "--json", "--home",
                                    str(home.root), "--actor", "clerk"])


def outcomes(results: Path) -> dict[tuple[str | None, str | None], dict]:
    lines = [json.loads(line) for line in results.read_text().splitlines()]
    return {(line["subject_id"], line["image"] and Path(line["image"]).name): line
            for line in lines}


def test_bulk_enrolment_is_all_or_nothing_per_subject(audited_home, folder, tmp_path):
    results = tmp_path / "results.jsonl"
    done = run(audited_home, str(folder), "--basis", "consent", "--evidence-column",
               "consent_ref", "--results", str(results))
    assert done.exit_code == 6, done.output
    summary = json.loads(done.stdout)
    good = ["subj-a", "subj-b", *LFW_SUBJECTS]
    assert summary["enrolled"] == len(good)
    assert sorted(summary["not_enrolled_subjects"]) == ["ghost", "subj-corrupt", "subj-group",
                                                        "subj-no-row"]
    assert done.stderr.strip().splitlines()[-1].startswith("faceaudit: error: 4 subject(s)")

    listed = CliRunner().invoke(app, ["gallery", "list", "--json", "--home",
                                      str(audited_home.root)])
    subjects = {s["subject_id"]: s for s in json.loads(listed.stdout)}
    assert sorted(subjects) == sorted(good)
    assert subjects["subj-a"]["templates"] == 2
    assert subjects["lfw-bush"]["consents"][0]["evidence"] == "form-lfw-bush"

    seen = outcomes(results)
    assert seen[("subj-a", "1.png")]["outcome"] == "enrolled"
    assert seen[("subj-a", "notes.txt")]["outcome"] == "skipped"
    assert seen[("subj-corrupt", "broken.jpg")]["outcome"] == "rejected"
    assert "broken.jpg" in seen[("subj-corrupt", "broken.jpg")]["reason"]
    assert seen[("subj-corrupt", "5.png")]["outcome"] == "not-enrolled"  # a good image, held
    assert "all or nothing" in seen[("subj-corrupt", "5.png")]["reason"]
    assert seen[("subj-group", "insightface_t1.jpg")]["outcome"] == "rejected"
    assert "faces found" in seen[("subj-group", "insightface_t1.jpg")]["reason"]
    assert "no manifest row" in seen[("subj-no-row", "6.png")]["reason"]
    assert "no sub-folder" in seen[("ghost", None)]["reason"]

    enrols = [e for e in Ledger(audited_home).events() if e["action"] == "enrol"]
    assert sorted(e["result"]["subject_id"] for e in enrols) == sorted(good)
    assert all(e["legal_basis"] == "consent" and e["actor"] == "clerk" for e in enrols)
    assert Ledger(audited_home).verify().ok


def test_progress_lines_when_stderr_is_not_a_terminal(audited_home, folder, tmp_path):
    done = run(audited_home, str(folder), "--basis", "consent", "--evidence-column",
               "consent_ref", "--results", str(tmp_path / "r.jsonl"))
    images = sum(1 for p in folder.rglob("*") if p.suffix in {".png", ".jpg"})
    assert f"faceaudit: enrol-folder: {images}/{images} images" in done.stderr


def test_a_policy_refusal_stops_the_run_and_is_logged(home, folder, tmp_path):
    """The policy allows two enrolments per hour: two subjects are enrolled, the third is
    refused (logged, as `gallery enrol` would be) and the rest are not attempted."""
    auditor = Auditor(tmp_path / "auditor")
    auditor.trust(home, "[rate_limits.enrol]\nmax_events = 2\nwindow_hours = 1.0\n")
    auditor.register(home, make_report(backend_id=BACKEND))
    results = tmp_path / "results.jsonl"
    done = run(home, str(folder), "--basis", "consent", "--evidence-column", "consent_ref",
               "--results", str(results))
    assert done.exit_code == 5, done.output
    assert json.loads(done.stdout)["enrolled"] == 2
    assert "rate-limit" in done.stderr
    events = list(Ledger(home).events())
    assert [e["result"]["subject_id"] for e in events if e["action"] == "enrol"] == \
        ["lfw-bush", "lfw-powell"]  # sub-folders in name order
    refused = [e for e in events if e["action"] == "refused"]
    assert len(refused) == 1 and refused[0]["result"]["operation"] == "enrol"
    seen = outcomes(results)
    assert "refused" in seen[("subj-a", "1.png")]["reason"]
    assert "not attempted" in seen[("subj-b", "3.png")]["reason"]
    assert seen[("subj-b", "3.png")]["outcome"] == "not-enrolled"


@pytest.mark.parametrize("problem", ["no-manifest", "no-evidence-column", "no-folder"])
def test_an_unusable_folder_or_manifest_is_one_line_exit_2_and_nothing_done(
    audited_home, folder, tmp_path, problem
):
    target, column = str(folder), "consent_ref"
    if problem == "no-manifest":
        (folder / "manifest.csv").unlink()
    elif problem == "no-evidence-column":
        column = "signed_form"
    else:
        target = str(tmp_path / "nowhere")
    done = run(audited_home, target, "--basis", "consent", "--evidence-column", column,
               "--results", str(tmp_path / "r.jsonl"))
    assert done.exit_code == 2, done.output
    assert len(done.stderr.strip().splitlines()) == 1
    assert done.stdout == ""
    assert not [e for e in Ledger(audited_home).events() if e["action"] == "enrol"]
