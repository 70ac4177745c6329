"""Helpers for the footage tests: the clip generator as a module, a tiny clip, the CLI."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def load_clip_tool():
    """scripts/make_redaction_clip.py as a module."""
    spec = importlib.util.spec_from_file_location(
        "make_redaction_clip", REPO / "scripts" / "make_redaction_clip.py")
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


def make_tiny_clip(shared_data: Path, out: Path, faces: int = 2, seconds: float = 1.2,
                   seed: int = 3) -> dict:
    """A 320×240, 10 fps clip with ``faces`` LFW faces (50–80 px) and an AAC tone."""
    tool = load_clip_tool()
    people = tool.lfw_people(shared_data / "lfw", shared_data / "lfw-meta", faces, seed)
    return tool.make_clip(out, people, width=320, height=240, seconds=seconds, fps=10,
                          seed=seed, min_face=50, max_face=80)


def run_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """``python -m faceaudit.cli ARGS`` with a timeout."""
    return subprocess.run([sys.executable, "-m", "faceaudit.cli", *args], capture_output=True,
                          text=True, timeout=300, env=env)
