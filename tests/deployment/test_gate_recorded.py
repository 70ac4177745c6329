"""Every identify and verify event records the bias-gate verdict it ran under (issue 23), so
searches under a waiver can be told apart in the oversight report."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from typer.testing import CliRunner

from faceaudit.cli import app
from faceaudit.ledger import Ledger
from faceaudit.ledger.genesis import init_home
from faceaudit.ledger.oversight import build_oversight

runner = CliRunner()


def _report(home):
    now = datetime.now(UTC)
    return build_oversight(Ledger(home), now - timedelta(days=1), now + timedelta(days=1))


def test_every_search_is_marked_with_the_gate_verdict_it_ran_under(tmp_path, mdtf):
    """A search under a waiver is told apart from one that passed the gate."""
    import audit_evidence

    from faceaudit.deployment.operations import Deployment

    home = init_home(tmp_path / "home")
    auditor = audit_evidence.Auditor(tmp_path / "auditor")
    auditor.trust(home)
    deployment = Deployment(home)
    deployment.enrol(actor="clerk", subject_id="p1", images=[mdtf / "1.png"], basis="consent",
                     evidence="form")
    waiver = tmp_path / "waiver.toml"
    waiver.write_text(auditor.policy_text('waived_because = "pilot, ticket 7"\n'))
    assert runner.invoke(app, ["policy", "set", str(waiver), "--home",
                               str(home.root)]).exit_code == 0
    deployment = Deployment(home)
    deployment.identify(actor="officer", image=mdtf / "2.png", purpose="p", case="c")
    events = [e for e in Ledger(home).events() if e["action"] == "identify"]
    assert events[-1]["result"]["gate"]["verdict"] == "waived"
    assert events[-1]["result"]["gate"]["waived_rule"] == "no-audit"
    (row,) = _report(home)["reviews"]["rows"]
    assert row["gate"] == "waived (no-audit)"
