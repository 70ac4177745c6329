"""``faceaudit verify --face N`` / ``--face-b N`` pick a face of a group photo, and the
refusal without them names those flags, not the library's keywords (issue 26)."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from faceaudit.cli import app

runner = CliRunner()
MIT = Path(__file__).resolve().parents[2] / "demo" / "photos" / "face_recognition-mit"


def test_a_group_photo_is_refused_naming_the_flag_and_picked_with_it(faces_small: Path) -> None:
    group = str(faces_small / "group" / "insightface_t1.jpg")
    first = runner.invoke(app, ["verify", group, str(MIT / "obama.jpg")])
    assert first.exit_code == 2 and first.stdout == ""
    assert first.stderr == (f"faceaudit: error: {group}: 6 faces found where one is needed; "
                            "pick one with --face-a N (0..5, best score first)\n")
    second = runner.invoke(app, ["verify", str(MIT / "obama.jpg"), group])
    assert second.exit_code == 2 and "pick one with --face-b N (0..5" in second.stderr
    assert "face_b" not in second.stderr
    picked = runner.invoke(app, ["verify", "--json", "--face", "0", group, str(MIT / "obama.jpg")])
    assert picked.exit_code == 1, picked.output  # someone else: no match, but compared
    both = runner.invoke(app, ["verify", "--face", "1", "--face-b", "2", group, group])
    assert both.exit_code in (0, 1), both.output
    past = runner.invoke(app, ["verify", "--face", "9", group, str(MIT / "obama.jpg")])
    assert past.exit_code == 2 and "face_a=9" not in past.stderr and "--face-a 9" in past.stderr
    # --face-a (REST: face_a) and the old --face are one option
    new = runner.invoke(app, ["verify", "--json", "--face-a", "0", group, str(MIT / "obama.jpg")])
    assert new.exit_code == 1 and new.stdout == picked.stdout
