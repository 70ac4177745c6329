"""The oversight report tells the policy's history (issue 23): each policy change with the text
that was installed (kept under its hash by `policy set`), a waiver with its reason, and a diff
against the policy before; a kept copy edited afterwards is not shown as the evidence."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from typer.testing import CliRunner

from faceaudit.cli import app
from faceaudit.ledger import Ledger
from faceaudit.ledger.genesis import init_home
from faceaudit.ledger.oversight import build_oversight, write_oversight

runner = CliRunner()


def _set(home, tmp_path, name: str, text: str) -> None:
    path = tmp_path / name
    path.write_text(text)
    result = runner.invoke(app, ["policy", "set", str(path), "--home", str(home.root),
                                 "--actor", "dpo"])
    assert result.exit_code == 0, result.output


def _report(home):
    now = datetime.now(UTC)
    return build_oversight(Ledger(home), now - timedelta(days=1), now + timedelta(days=1))


def test_each_policy_change_shows_its_text_waiver_and_diff(tmp_path):
    home = init_home(tmp_path / "home")
    _set(home, tmp_path, "one.toml", "fmr_target = 0.001\n")
    _set(home, tmp_path, "two.toml",
         'fmr_target = 0.001\n[bias_gate]\nwaived_because = "pilot, DPO ticket 7"\n')
    first, second = _report(home)["policy_changes"]
    assert first["text_kept"] and first["waived_because"] is None
    assert second["waived_because"] == "pilot, DPO ticket 7"
    assert '+waived_because = "pilot, DPO ticket 7"' in second["diff"]
    assert second["previous_sha256"] == first["sha256"]
    paths = write_oversight(_report(home), tmp_path / "out")
    page = (tmp_path / "out" / "oversight.html").read_text()
    assert "waives the bias gate" in page and "pilot, DPO ticket 7" in page
    rows = (tmp_path / "out" / "policy_changes.csv").read_text()
    assert "pilot, DPO ticket 7" in rows
    assert json.loads((tmp_path / "out" / "oversight.json").read_text())["policy_changes"]
    assert len(paths) >= 3


def test_an_edited_kept_copy_is_not_shown_as_evidence(tmp_path):
    home = init_home(tmp_path / "home")
    _set(home, tmp_path, "one.toml", "fmr_target = 0.001\n")
    (change,) = _report(home)["policy_changes"]
    home.policy_archive_path(change["sha256"]).write_text('[bias_gate]\nwaived_because = "x"\n')
    (shown,) = _report(home)["policy_changes"]
    assert shown["text_kept"] is False and shown["text"] is None
    assert shown["waived_because"] is None

