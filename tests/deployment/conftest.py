"""Fixtures for gallery and deployment tests: a calibration, an audited home, real faces."""

from __future__ import annotations

from pathlib import Path

import audit_evidence
import numpy as np
import pytest

from faceaudit.base.home import Home
from faceaudit.deployment.operations import Deployment
from faceaudit.engine.calibration import Calibration
from faceaudit.ledger.genesis import init_home

BACKEND = "dlib-resnet:1"


def make_calibration(backend_id: str = BACKEND) -> Calibration:
    """A monotone score→FMR curve shaped like dlib-resnet's shipped one (cosine 0.92 ≈ FMR
    1e-3; the shipped calibration says 0.928): the mdtf impostors (≤ 0.88) stay below it."""
    return Calibration(
        backend_id=backend_id,
        threshold=np.array([0.0, 0.6, 0.8, 0.88, 0.92, 0.94, 0.96, 1.0]),
        fmr=np.array([1.0, 0.3, 0.03, 0.01, 1e-3, 1e-4, 1e-5, 1e-7]),
        n_impostor=100_000_000,
        source="tests",
    )


def register_passing_audit(home: Home, backend_id: str = BACKEND) -> None:
    """Register a passing, signed audit of ``backend_id`` with ``home`` (its policy trusting
    the auditor's key)."""
    audit_evidence.register_passing_audit(home, backend_id)


@pytest.fixture
def home(tmp_path: Path) -> Home:
    """An empty deployment home."""
    return init_home(tmp_path / "home")


@pytest.fixture
def audited_home(home: Home) -> Home:
    """A deployment home with a passing audit of dlib-resnet:1 registered."""
    register_passing_audit(home)
    return home


@pytest.fixture
def calibration() -> Calibration:
    """The test calibration of dlib-resnet:1."""
    return make_calibration()


@pytest.fixture
def deployment(audited_home: Home, calibration: Calibration) -> Deployment:
    """A deployment on the real dlib-resnet embedder with the test calibration."""
    return Deployment(audited_home, calibration=calibration)


@pytest.fixture(scope="session")
def mdtf(faces_small: Path) -> Path:
    """Three people, two photos each: 1/2, 3/4, 5/6."""
    return faces_small / "mdtf-cc-by-2.0"
