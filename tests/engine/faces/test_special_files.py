"""Paths that are not image files: refused at once, naming the path; never a hang."""

from __future__ import annotations

import os
import pwd
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from faceaudit.base.errors import ImageTooLargeError, UnreadableImageError
from faceaudit.engine.faces.image import load_image, read_image_file


def _fifo(tmp: Path) -> Path:
    path = tmp / "fifo.jpg"
    os.mkfifo(path)
    return path


def _directory(tmp: Path) -> Path:
    path = tmp / "folder.jpg"
    path.mkdir()
    return path


def _dangling(tmp: Path) -> Path:
    path = tmp / "dangling.jpg"
    path.symlink_to(tmp / "gone.jpg")
    return path


def _loop(tmp: Path) -> Path:
    path = tmp / "loop.jpg"
    path.symlink_to(tmp / "loop2.jpg")
    (tmp / "loop2.jpg").symlink_to(path)
    return path


def _device(tmp: Path) -> Path:
    path = tmp / "zero.jpg"
    path.symlink_to("/dev/zero")  # an endless character device behind an innocent name
    return path


SPECIAL: dict[str, tuple[Callable[[Path], Path], str]] = {
    "fifo": (_fifo, "FIFO"),
    "directory": (_directory, "directory"),
    "dangling-link": (_dangling, "dangling symbolic link"),
    "symlink-loop": (_loop, "symbolic link loop"),
    "device": (_device, "device"),
}


def _within(seconds: float, call: Callable[[], object]) -> BaseException | None:
    """Run ``call`` in a thread; fail the test if it has not returned after ``seconds``."""
    outcome: list[BaseException | None] = []

    def target() -> None:
        try:
            call()
            outcome.append(None)
        except BaseException as exc:  # noqa: BLE001 — handed back to the test
            outcome.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        pytest.fail(f"still running after {seconds} s: the read blocked")
    return outcome[0]


@pytest.mark.parametrize("kind", list(SPECIAL))
def test_special_file_is_refused_naming_the_path(tmp_path: Path, kind: str) -> None:
    make, reason = SPECIAL[kind]
    path = make(tmp_path)
    error = _within(10, lambda: load_image(path))
    assert isinstance(error, UnreadableImageError), repr(error)
    assert str(path) in str(error) and reason in str(error)


@pytest.mark.parametrize("kind", ["fifo", "symlink-loop", "device", "directory"])
def test_cli_detect_refuses_special_files_with_exit_2(tmp_path: Path, kind: str) -> None:
    path = SPECIAL[kind][0](tmp_path)
    done = subprocess.run([sys.executable, "-m", "faceaudit.cli", "detect", str(path)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines() == [done.stderr.strip()]
    assert done.stderr.startswith("faceaudit: error:") and str(path) in done.stderr


def test_oversize_file_is_refused_before_reading(tmp_path: Path) -> None:
    big = tmp_path / "big.png"
    with big.open("wb") as handle:
        handle.truncate(3_000_000)  # sparse: costs nothing on disk
    with pytest.raises(ImageTooLargeError, match="big.png"):
        read_image_file(big, max_bytes=1_000_000)


# Run the CLI as 'nobody': the interpreter lives under /root (0700 here), so it starts as root,
# imports what the command needs, then drops its privileges before the command runs.
_AS_NOBODY = """
import os, pwd, sys
import faceaudit.cli, faceaudit.api, faceaudit.engine.faces.image
# typer converts parameters through pydantic, which imports these only at parse time
import importlib.metadata, zoneinfo, typer._adapters, pydantic.plugin._loader
from PIL import Image
Image.init()
nobody = pwd.getpwnam("nobody")
os.setgroups([]); os.setgid(nobody.pw_gid); os.setuid(nobody.pw_uid)
assert os.geteuid() != 0
sys.argv = ["faceaudit", *sys.argv[1:]]
faceaudit.cli.main()
"""


def test_unreadable_file_as_a_non_root_user(faces_small: Path) -> None:
    # root reads any file: the check only means something for another user, in a folder that
    # user may enter (pytest's tmp_path is private to root)
    folder = Path(tempfile.mkdtemp(prefix="faceaudit-unreadable-"))
    try:
        folder.chmod(0o755)
        secret = folder / "secret.jpg"
        secret.write_bytes((faces_small / "face_recognition-mit" / "obama.jpg").read_bytes())
        secret.chmod(0o000)
        if os.geteuid() == 0:
            try:
                pwd.getpwnam("nobody")
            except KeyError:
                pytest.skip("running as root and there is no 'nobody' user to become")
            command = [sys.executable, "-c", _AS_NOBODY, "detect", str(secret)]
        else:
            command = [sys.executable, "-m", "faceaudit.cli", "detect", str(secret)]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
        assert done.returncode == 2, done.stderr
        assert done.stderr.strip().splitlines() == [done.stderr.strip()]
        assert str(secret) in done.stderr
        assert "not readable" in done.stderr or "permission denied" in done.stderr
    finally:
        for child in folder.iterdir():
            child.unlink()
        folder.rmdir()
