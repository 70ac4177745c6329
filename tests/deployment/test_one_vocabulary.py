"""One vocabulary across the CLI and REST (issue 26): each REST field has a CLI option of the
same name (``subject_id`` → ``--subject-id``), and the old CLI spellings still work for one
release."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.main import get_command
from typer.testing import CliRunner

from faceaudit.base.home import Home
from faceaudit.cli import app
from faceaudit.ledger import Ledger

runner = CliRunner()

# (CLI command path, the REST fields of the same operation) — docs/api.md
SAME_NAMES = [
    (("gallery", "enrol"), ["subject_id", "basis", "evidence", "expires_at", "display_name",
                            "keep_images", "allow_duplicate"]),
    (("identify",), ["purpose", "case", "top", "authorisation", "authority",
                     "authorisation_kind", "authorisation_expires", "offence"]),
    (("review", "decide"), ["decision", "note", "result_id", "face", "candidate"]),
    (("authorisation", "record"), ["decision", "reference", "authority", "kind",
                                   "expires_at"]),
    (("lead", "action"), ["kind", "evidence", "by"]),
    (("lead", "outcome"), ["by"]),
    (("gallery", "erase"), ["purpose", "case"]),
]


def _options(path: tuple[str, ...]) -> set[str]:
    command: Any = get_command(app)
    for name in path:
        command = command.get_command(command.context_class(command), name)
        assert command is not None, path
    return {opt for p in command.params for opt in p.opts} | {
        p.name for p in command.params if p.param_type_name == "argument" and p.name}


@pytest.mark.parametrize(("path", "fields"), SAME_NAMES)
def test_every_rest_field_has_a_cli_option_of_its_name(path, fields) -> None:
    options = _options(path)
    missing = [f for f in fields
               if "--" + f.replace("_", "-") not in options and f not in options]
    assert missing == [], (path, sorted(options))


def run(*args: str):
    return runner.invoke(app, [*args, "--json"], env={"FACEAUDIT_ACTOR": "cli-user"})


def test_review_decide_takes_decision_and_the_old_flags(audited_home: Home, mdtf: Path) -> None:
    h = str(audited_home.root)
    for subject, image in (("p1", "1.png"),):
        assert run("gallery", "enrol", str(mdtf / image), "--subject-id", subject, "--basis",
                   "consent", "--evidence", "f", "--home", h).exit_code == 0
    found = run("identify", str(mdtf / "2.png"), "--purpose", "p", "--case", "c", "--home", h)
    assert found.exit_code == 0, found.output
    result_id = json.loads(found.stdout)["result_id"]
    new = ["--result-id", result_id, "--face", "0", "--candidate", "p1"]
    old = ["--result", result_id, "--face", "0", "--candidate", "p1"]
    for bad in (["--decision", "maybe"], ["--decision", "confirm", "--reject"], []):
        refused = run("review", "decide", *new, *bad, "--actor", "rev-x", "--home", h)
        assert refused.exit_code == 2 and "--decision" in refused.stderr, bad
    first = run("review", "decide", *new, "--decision", "confirm", "--actor", "rev-a",
                "--home", h)
    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout)["your_decision"] == "confirm"
    second = run("review", "decide", *old, "--reject", "--actor", "rev-b", "--home", h)
    assert second.exit_code == 0, second.output
    assert json.loads(second.stdout)["your_decision"] == "reject"
    decided = [(e["actor"], e["result"]["decision"]) for e in Ledger(audited_home).events()
               if e["action"] == "review"]
    assert decided == [("rev-a", "confirm"), ("rev-b", "reject")]


def test_authorisation_record_takes_decision_and_expires_at_and_the_old_names(
        audited_home: Home, mdtf: Path, tmp_path: Path) -> None:
    from faceaudit.policy.enforce import install_policy

    h = str(audited_home.root)
    policy = tmp_path / "urgent.toml"
    policy.write_text(audited_home.policy_path.read_text() + '\n[authorisation]\n'
                      'required_for = ["identify"]\n')
    install_policy(audited_home, Ledger(audited_home), policy, "admin")
    run("gallery", "enrol", str(mdtf / "1.png"), "--subject-id", "p1", "--basis", "consent",
        "--evidence", "f", "--home", h)
    held = []
    for _ in range(2):
        urgent = run("identify", str(mdtf / "2.png"), "--purpose", "p", "--case", "c",
                     "--authorisation", "U-1", "--authority", "Insp. Hale",
                     "--authorisation-kind", "urgent", "--home", h)
        assert urgent.exit_code == 0, urgent.output
        held.append(json.loads(urgent.stdout)["result_id"])
    granted = run("authorisation", "record", held[0], "--decision", "granted", "--reference",
                  "W-7", "--authority", "Court", "--expires-at", "2999-01-01", "--home", h)
    assert granted.exit_code == 0, granted.output
    assert json.loads(granted.stdout)["decision"] == "granted"
    refused = run("authorisation", "record", held[1], "--refused", "--reference", "W-8",
                  "--authority", "Court", "--expires", "2999-01-01", "--home", h)
    assert refused.exit_code == 0, refused.output
    assert json.loads(refused.stdout)["decision"] == "refused"
    both = run("authorisation", "record", held[1], "--decision", "granted", "--granted",
               "--home", h)
    assert both.exit_code == 2 and "--decision" in both.stderr
    assert json.loads(run("authorisation", "held", "--home", h).stdout)["held"] == []


def test_identify_points_to_a_review_command_that_exists() -> None:
    from faceaudit.cli.views import identify_view

    shown = identify_view({
        "result_id": "r1", "threshold": 0.9, "fmr_target": 1e-3, "backend_id": "b:1",
        "ledger_seq": 3, "receipt": None,
        "faces": [{"box": {"left": 0, "top": 0, "right": 9, "bottom": 9},
                   "candidates": [{"subject_id": "s", "score": 0.95, "fmr": 1e-4, "rank": 1}]}]})
    hint = shown.split("`")[1].split()
    assert hint[:3] == ["faceaudit", "review", "decide"]
    options = _options(("review", "decide"))
    assert [w for w in hint if w.startswith("--") and w not in options] == []
