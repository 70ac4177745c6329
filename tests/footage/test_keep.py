"""`redact --keep` only in a deployment, policy-checked like an identification, and logged."""

from __future__ import annotations

import json
from pathlib import Path

import audit_evidence
import pytest
from footage_clips import run_cli

from faceaudit import api
from faceaudit.deployment.operations import Deployment
from faceaudit.ledger import Ledger
from faceaudit.ledger.genesis import init_home


def _events(home: Path) -> list[dict]:
    return list(Ledger(init_home(home)).events())


def test_keep_without_a_deployment_is_refused(faces_small: Path, tmp_path: Path) -> None:
    src = faces_small / "face_recognition-mit" / "obama.jpg"
    run = run_cli("redact", str(src), "-o", str(tmp_path / "out.jpg"), "--keep", "obama",
                  "--quiet")
    assert run.returncode == 2
    assert "--keep needs a deployment" in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out.jpg").exists()


def test_keep_refused_by_policy_without_audit_is_logged(faces_small: Path,
                                                         tmp_path: Path) -> None:
    home = tmp_path / "home"
    init_home(home)
    src = faces_small / "face_recognition-mit" / "obama.jpg"
    run = run_cli("redact", str(src), "-o", str(tmp_path / "out.jpg"), "--keep", "obama",
                  "--home", str(home), "--purpose", "release", "--case", "C-9", "--quiet")
    assert run.returncode == 5, run.stderr
    assert not (tmp_path / "out.jpg").exists()
    refused = [e for e in _events(home) if e["action"] == "refused"]
    assert refused and refused[-1]["result"]["operation"] == "identify"


def test_redaction_in_a_deployment_is_a_ledger_event(faces_small: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    init_home(home)
    out = tmp_path / "out.jpg"
    run = run_cli("redact", str(faces_small / "group" / "insightface_t1.jpg"), "-o", str(out),
                  "--home", str(home), "--actor", "clerk", "--purpose", "press release",
                  "--case", "R-1", "--quiet")
    assert run.returncode == 0, run.stderr
    log = json.loads((tmp_path / "out.jpg.redaction.json").read_text())
    event = _events(home)[-1]
    assert event["action"] == "redact" and event["actor"] == "clerk"
    assert event["purpose"] == "press release" and event["case"] == "R-1"
    assert event["result"]["output_sha256"] == log["output"]["sha256"]
    assert event["result"]["input_sha256"] == log["input"]["sha256"]
    assert event["result"]["boxes_redacted"] == log["summary"]["boxes_redacted"] >= 6


@pytest.fixture
def audited_home(tmp_path: Path, faces_small: Path) -> Path:
    home = init_home(tmp_path / "home")
    deployment = Deployment(home)
    audit_evidence.register_passing_audit(home, deployment.backend_id)
    deployment.enrol(actor="clerk", subject_id="obama",
                     images=[faces_small / "face_recognition-mit" / "obama.jpg"],
                     basis="consent", evidence="form-17")
    return home.root


def test_keep_leaves_only_the_consented_subject_visible(audited_home: Path, faces_small: Path,
                                                         tmp_path: Path) -> None:
    common = ["--home", str(audited_home), "--keep", "obama", "--purpose", "release",
              "--case", "C-2", "--quiet"]
    kept_out, other_out = tmp_path / "kept.jpg", tmp_path / "other.jpg"
    run = run_cli("redact", str(faces_small / "face_recognition-mit" / "obama2.jpg"),
                  "-o", str(kept_out), *common)
    assert run.returncode == 0, run.stderr
    assert len(api.detect_faces(api.load_image(kept_out), detector="hog")) == 1
    log = json.loads((tmp_path / "kept.jpg.redaction.json").read_text())
    assert [k["subject"] for k in log["kept"]] == ["obama"]
    run = run_cli("redact", str(faces_small / "face_recognition-mit" / "biden.jpg"),
                  "-o", str(other_out), *common)
    assert run.returncode == 0, run.stderr
    assert api.detect_faces(api.load_image(other_out), detector="hog") == []
    events = [e for e in _events(audited_home) if e["action"] == "redact"]
    assert events[0]["result"]["kept_tracks"] and not events[1]["result"]["kept_tracks"]
