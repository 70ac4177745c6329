"""Operators' views answer first (issue 26): ``gallery enrol`` and ``identify`` print who was
enrolled / the candidates per face, then one ledger line; the receipt (inclusion proof under
a signed tree head) only with ``--receipt`` (``--json`` always has it); ``--quiet`` prints the
id alone, for scripts."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from faceaudit.cli import app

runner = CliRunner()
PHOTOS = Path(__file__).resolve().parents[2] / "demo" / "photos" / "face_recognition-mit"


def _enrol(h: str, *extra: str):
    return runner.invoke(app, ["gallery", "enrol", str(PHOTOS / "obama.jpg"), "--subject-id",
                               "s-obama", "--basis", "explicit-consent", "--evidence", "f-1",
                               "--home", h, *extra])


def _identify(h: str, *extra: str):
    return runner.invoke(app, ["identify", str(PHOTOS / "obama2.jpg"), "--purpose", "p",
                               "--case", "c", "--home", h, *extra])


def test_enrol_and_identify_answer_first_and_keep_the_receipt_behind_a_flag(audited_home):
    h = str(audited_home.root)
    enrolled = _enrol(h)
    assert enrolled.exit_code == 0, enrolled.output
    lines = enrolled.stdout.splitlines()
    assert lines[0].startswith("enrolled s-obama: 1 template(s) under explicit-consent")
    assert len(lines) == 2 and "--receipt" in lines[1]
    assert "signature" not in enrolled.stdout and "leaf hash" not in enrolled.stdout

    found = _identify(h)
    assert found.exit_code == 0, found.output
    lines = found.stdout.splitlines()
    assert lines[0].startswith("result ") and "1 candidate(s)" in lines[0]
    assert "faceaudit review " in lines[0]
    assert lines[1].startswith("face 1 (left ")
    assert lines[2].startswith("  1. s-obama  score 0.9")
    assert lines[3].startswith("threshold 0.") and "--receipt" in lines[3]
    assert len(lines) == 4 and "signature" not in found.stdout

    proved = _identify(h, "--receipt")
    assert proved.exit_code == 0, proved.output
    assert proved.stdout.splitlines()[1].startswith("face 1 (")
    assert "receipt:" in proved.stdout and "signature: " in proved.stdout
    assert proved.stdout.index("s-obama") < proved.stdout.index("receipt:")

    as_json = _identify(h, "--json")
    assert json.loads(as_json.stdout)["receipt"]["sth"]["signature"]


def test_quiet_prints_the_id_alone_and_excludes_json(audited_home):
    h = str(audited_home.root)
    enrolled = _enrol(h, "--quiet")
    assert enrolled.exit_code == 0 and enrolled.stdout == "s-obama\n"
    found = _identify(h, "-q")
    assert found.exit_code == 0, found.output
    result_id = found.stdout.strip()
    assert len(found.stdout.splitlines()) == 1 and len(result_id) == 32
    reviewed = runner.invoke(app, ["review", "decide", "--result", result_id, "--face", "0",
                                   "--candidate", "s-obama", "--confirm", "--actor", "bob",
                                   "--home", h])
    assert reviewed.exit_code == 0, reviewed.output
    both = _identify(h, "--quiet", "--json")
    assert both.exit_code == 2 and both.stdout == ""
    assert both.stderr.startswith("faceaudit: error: give at most one of --quiet and --json")


def test_no_candidate_says_so_without_inviting_a_review(audited_home):
    h = str(audited_home.root)
    assert _enrol(h).exit_code == 0
    other = runner.invoke(app, ["identify", str(PHOTOS / "biden.jpg"), "--purpose", "p",
                                "--case", "c", "--home", h])
    assert other.exit_code == 0, other.output
    first = other.stdout.splitlines()[0]
    assert first.endswith("no candidate at or above the threshold") and "review" not in first


def test_the_rest_names_are_the_flags_and_the_old_flags_still_work(audited_home):
    h = str(audited_home.root)
    new = runner.invoke(app, ["gallery", "enrol", str(PHOTOS / "obama.jpg"), "--subject-id",
                              "s-new", "--basis", "consent", "--evidence", "f", "--expires-at",
                              "2099-01-01", "--display-name", "New", "--json", "--home", h])
    assert new.exit_code == 0, new.output
    assert json.loads(new.stdout)["expires_at"].startswith("2099-01-01")
    old = runner.invoke(app, ["gallery", "enrol", str(PHOTOS / "biden.jpg"), "--subject",
                              "s-old", "--basis", "consent", "--evidence", "f", "--expires",
                              "2099-01-01", "--name", "Old", "--json", "--home", h])
    assert old.exit_code == 0, old.output
    listed = runner.invoke(app, ["gallery", "list", "--json", "--home", h])
    names = {s["subject_id"]: s["display_name"] for s in json.loads(listed.stdout)}
    assert names == {"s-new": "New", "s-old": "Old"}
