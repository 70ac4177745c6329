"""``identify --top`` above the policy's ``max_candidates`` is refused naming the cap, not
silently capped (issue 26); without ``--top`` the policy's cap is the number asked for."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from faceaudit.cli import app
from faceaudit.deployment.candidates import candidate_limit
from faceaudit.gallery.errors import InvalidRequestError

runner = CliRunner()


def test_top_above_the_cap_is_refused_in_the_cli_naming_flag_and_cap(audited_home, mdtf):
    h = str(audited_home.root)
    enrolled = runner.invoke(app, ["gallery", "enrol", str(mdtf / "1.png"), "--subject", "p1",
                                   "--basis", "consent", "--evidence", "f", "--home", h])
    assert enrolled.exit_code == 0, enrolled.output
    asked = runner.invoke(app, ["identify", str(mdtf / "2.png"), "--purpose", "p", "--case",
                                "c", "--top", "50", "--home", h])
    assert asked.exit_code == 2 and asked.stdout == ""
    assert asked.stderr == ("faceaudit: error: --top 50: more candidates per face than the "
                            "policy's max_candidates (10); ask for at most 10\n")
    default = runner.invoke(app, ["identify", str(mdtf / "2.png"), "--purpose", "p", "--case",
                                  "c", "--json", "--home", h])
    assert default.exit_code == 0, default.output
    assert json.loads(default.stdout)["faces"][0]["candidates"][0]["subject_id"] == "p1"


def test_the_rule_names_the_json_field_for_rest() -> None:
    assert candidate_limit(None, 10) == 10 and candidate_limit(3, 10) == 3
    try:
        candidate_limit(11, 10)
    except InvalidRequestError as exc:
        assert str(exc).startswith("top 11: ") and exc.which == "top"
    else:
        raise AssertionError("top above the cap was accepted")


def test_a_probe_without_a_face_is_named_in_the_error(audited_home, tmp_path):
    from PIL import Image

    blank = tmp_path / "blank-wall.png"
    Image.new("RGB", (200, 200), "white").save(blank)
    result = runner.invoke(app, ["identify", str(blank), "--purpose", "p", "--case", "c",
                                 "--home", str(audited_home.root)])
    assert result.exit_code == 2, result.output
    assert result.stderr == f"faceaudit: error: probe image {blank}: no face found\n"
