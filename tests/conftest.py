"""Shared fixtures: where the shared data lives, and a skip when it is absent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("FACEAUDIT_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` beside the repository; skips the test when it is absent."""
    if not (SHARED_DATA / "faces-small").is_dir():
        pytest.skip(f"shared test data not found at {SHARED_DATA} (../shared is absent)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def faces_small(shared_data: Path) -> Path:
    """The small labelled face photos (Obama/Biden, three people × 2, one group photo)."""
    return shared_data / "faces-small"


@pytest.fixture(autouse=True, scope="session")
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Keep the embedding cache of a test run apart from the user's, unless one is given."""
    if "FACEAUDIT_CACHE" not in os.environ:
        os.environ["FACEAUDIT_CACHE"] = str(tmp_path_factory.mktemp("faceaudit-cache"))
