"""The policy's probe-quality floor on identify: refused (logged, CLI exit 5) or flagged."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from faceaudit.base.home import Home
from faceaudit.cli import app
from faceaudit.deployment.operations import Deployment
from faceaudit.ledger import Ledger
from faceaudit.policy import PolicyRefusal
from faceaudit.policy.enforce import install_policy

runner = CliRunner()


def with_floor(home: Home, tmp_path: Path, table: str) -> None:
    """Install the home's policy with a ``[probe_quality]`` table added (a logged change)."""
    policy = tmp_path / "floor.toml"
    base = home.policy_path.read_text().split("\n[probe_quality]\n")[0]  # replace a floor
    policy.write_text(base + f"\n[probe_quality]\n{table}\n")
    install_policy(home, Ledger(home), policy, "admin")


def _events(home: Home) -> list[dict]:
    return [e for e in Ledger(home).events() if e["action"] not in ("intent",)]


def test_a_probe_below_the_floor_is_refused_and_logged(audited_home, calibration, mdtf,
                                                      tmp_path) -> None:
    deployment = Deployment(audited_home, calibration=calibration)
    deployment.enrol(actor="clerk", subject_id="p1", images=[mdtf / "1.png"], basis="consent",
                     evidence="form-1")
    probe_ied = deployment.identify(actor="o", image=mdtf / "2.png", purpose="p",
                                    case="c")["faces"][0]["quality"]["inter_eye_distance_px"]
    with_floor(audited_home, tmp_path, f"min_inter_eye_px = {probe_ied + 5}")
    before = len(_events(audited_home))
    with pytest.raises(PolicyRefusal) as refused:
        deployment.identify(actor="o", image=mdtf / "2.png", purpose="p", case="c")
    assert refused.value.rule == "probe-quality" and refused.value.operation == "identify"
    assert f"inter_eye_distance_px {probe_ied:g} < {probe_ied + 5:g}" in refused.value.detail
    new = _events(audited_home)[before:]
    assert [e["action"] for e in new] == ["refused"]  # nothing searched, nothing stored
    result = new[0]["result"]
    assert result["rule"] == "probe-quality" and result["operation"] == "identify"
    assert result["breaches"] == [{"face": 0, "component": "inter_eye_distance_px",
                                   "value": probe_ied, "limit": "min_inter_eye_px",
                                   "bound": probe_ied + 5}]
    assert new[0]["purpose"] == "p" and new[0]["case"] == "c"
    assert Ledger(audited_home).verify().ok


def test_a_probe_at_the_floor_is_searched_unflagged(audited_home, calibration, mdtf,
                                                    tmp_path) -> None:
    deployment = Deployment(audited_home, calibration=calibration)
    probe = deployment.identify(actor="o", image=mdtf / "2.png", purpose="p", case="c")
    quality = probe["faces"][0]["quality"]
    with_floor(audited_home, tmp_path, f"min_inter_eye_px = {quality['inter_eye_distance_px']}"
                                       f"\nmax_abs_yaw_deg = {abs(quality['yaw_deg'])}")
    found = deployment.identify(actor="o", image=mdtf / "2.png", purpose="p", case="c")
    assert "quality_flags" not in found["faces"][0]
    assert "quality_flagged" not in _events(audited_home)[-1]["result"]


def test_flag_searches_and_flags_the_face_on_its_candidate_list(audited_home, calibration, mdtf,
                                                                tmp_path) -> None:
    deployment = Deployment(audited_home, calibration=calibration)
    deployment.enrol(actor="clerk", subject_id="p1", images=[mdtf / "1.png"], basis="consent",
                     evidence="form-1")
    with_floor(audited_home, tmp_path, 'min_inter_eye_px = 500\non_below = "flag"')
    found = deployment.identify(actor="o", image=mdtf / "2.png", purpose="p", case="c")
    face = found["faces"][0]
    assert face["candidates"][0]["subject_id"] == "p1"
    assert face["quality_flags"] == [{"component": "inter_eye_distance_px",
                                      "value": face["quality"]["inter_eye_distance_px"],
                                      "limit": "min_inter_eye_px", "bound": 500.0}]
    event = _events(audited_home)[-1]
    assert event["action"] == "identify" and event["result"]["quality_flagged"] == [0]
    # the stored result keeps the flag for the reviewers
    assert deployment.store.get_result(found["result_id"])["faces"][0]["quality_flags"] \
        == face["quality_flags"]


def test_the_cli_exits_5_on_a_refusal_and_prints_a_flag(audited_home, mdtf, tmp_path) -> None:
    h = str(audited_home.root)
    env = {"FACEAUDIT_ACTOR": "cli-user"}
    runner.invoke(app, ["gallery", "enrol", str(mdtf / "1.png"), "--subject", "p1", "--basis",
                        "consent", "--evidence", "form-1", "--home", h], env=env)
    with_floor(audited_home, tmp_path, "min_inter_eye_px = 500")
    refused = runner.invoke(app, ["identify", str(mdtf / "2.png"), "--purpose", "p", "--case",
                                  "c", "--home", h, "--json"], env=env)
    assert refused.exit_code == 5, refused.output
    assert "probe-quality" in refused.stderr and "inter_eye_distance_px" in refused.stderr
    assert "Traceback" not in refused.output
    assert _events(audited_home)[-1]["result"]["rule"] == "probe-quality"
    with_floor(audited_home, tmp_path, 'min_inter_eye_px = 500\non_below = "flag"')
    flagged = runner.invoke(app, ["identify", str(mdtf / "2.png"), "--purpose", "p", "--case",
                                  "c", "--home", h], env=env)
    assert flagged.exit_code == 0, flagged.output
    assert "FLAG below the probe-quality floor: inter_eye_distance_px" in flagged.stdout
    as_json = runner.invoke(app, ["identify", str(mdtf / "2.png"), "--purpose", "p", "--case",
                                  "c", "--home", h, "--json"], env=env)
    assert json.loads(as_json.stdout)["faces"][0]["quality_flags"][0]["bound"] == 500.0


def test_every_reviewer_sees_that_the_probe_was_below_the_floor(audited_home, calibration, mdtf,
                                                               tmp_path) -> None:
    """A flagged probe's review task says so to each reviewer, blind or not (a poor probe is
    why different people look alike); an unflagged one says nothing."""
    from faceaudit.deployment.reviews import TaskRef

    deployment = Deployment(audited_home, calibration=calibration)
    deployment.enrol(actor="clerk", subject_id="p1", images=[mdtf / "1.png"], basis="consent",
                     evidence="form-1")
    clean = deployment.identify(actor="o", image=mdtf / "2.png", purpose="p", case="c")
    with_floor(audited_home, tmp_path, 'min_inter_eye_px = 500\non_below = "flag"')
    flagged = deployment.identify(actor="o", image=mdtf / "2.png", purpose="p", case="c")

    def shown(result: dict) -> dict:
        (task,) = deployment.get_result(result["result_id"])["tasks"]
        return deployment.review_task(actor="reviewer-1", ref=TaskRef(task_id=task["task_id"]))

    assert shown(clean)["quality_flags"] == []
    view = shown(flagged)
    assert view["blind"] and view["quality_flags"] == flagged["faces"][0]["quality_flags"]
    assert view["probe_quality"] == flagged["faces"][0]["quality"]
