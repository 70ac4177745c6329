"""Calibration: thresholds for target FMRs, the FMR of a score, and refusing what cannot hold."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from faceaudit.base.errors import CalibrationError
from faceaudit.engine.calibration import from_impostor_histogram, load_calibration

EDGES = np.linspace(-1, 1, 20001)


def _uniform_calibration(n: int = 1_000_000):
    scores = np.random.default_rng(3).uniform(-1, 1, n)
    counts, _ = np.histogram(scores, EDGES)
    return scores, from_impostor_histogram(counts, EDGES, "test:1", "uniform scores")


def test_threshold_matches_empirical_fmr() -> None:
    scores, calibration = _uniform_calibration()
    for target in (1e-1, 1e-2, 1e-3, 1e-4):
        threshold = calibration.threshold_for(target)
        empirical = (scores >= threshold).mean()
        assert empirical <= target * 1.02
        assert empirical >= target * 0.85  # resolution of the 1e-4 bins at the tail
        assert calibration.fmr_at(threshold) == pytest.approx(target, rel=0.15)


def test_rule_of_three_refuses_unsupported_targets() -> None:
    _, calibration = _uniform_calibration(100_000)
    assert calibration.min_fmr == pytest.approx(3e-5)
    with pytest.raises(CalibrationError, match="rule of three"):
        calibration.threshold_for(1e-5)
    with pytest.raises(CalibrationError):
        calibration.threshold_for(0)


def test_shipped_calibration_is_monotone_and_round_trips(tmp_path: Path) -> None:
    shipped = load_calibration()
    assert shipped.backend_id == "dlib-resnet:1"
    assert shipped.n_impostor > 80_000_000  # every cross-identity LFW pair
    thresholds = [shipped.threshold_for(f) for f in (1e-2, 1e-3, 1e-4, 1e-5)]
    assert thresholds == sorted(thresholds)
    copy = shipped.save(tmp_path / "copy.json")
    again = load_calibration(copy, backend_id="dlib-resnet:1")
    assert again.threshold_for(1e-3) == pytest.approx(shipped.threshold_for(1e-3))


def test_bad_calibration_files_are_typed_errors(tmp_path: Path) -> None:
    shipped = load_calibration()
    wrong_backend = tmp_path / "other.json"
    data = shipped.to_dict() | {"backend_id": "onnx:abc"}
    wrong_backend.write_text(json.dumps(data))
    with pytest.raises(CalibrationError, match="not the backend in use"):
        load_calibration(wrong_backend, backend_id="dlib-resnet:1")
    garbage = tmp_path / "garbage.json"
    garbage.write_text("{not json")
    with pytest.raises(CalibrationError):
        load_calibration(garbage)
    with pytest.raises(CalibrationError, match="no calibration ships"):
        load_calibration(backend_id="onnx:0123456789ab")


@settings(max_examples=200, deadline=None)
@given(
    target=st.floats(min_value=3e-5, max_value=0.5),
    seed=st.integers(0, 5),
)
def test_threshold_for_never_overshoots_the_target(target: float, seed: int) -> None:
    # scores on a coarse grid with heavy ties: the FMR is a step function of the threshold,
    # so interpolating between stored points lands on thresholds whose FMR exceeds the target
    scores = np.round(np.random.default_rng(seed).normal(0.0, 0.2, 200_000), 3)
    counts, _ = np.histogram(scores, EDGES)
    calibration = from_impostor_histogram(counts, EDGES, "test:1", "tied scores")
    threshold = calibration.threshold_for(target)
    assert (scores >= threshold).mean() <= target


def test_decade_targets_are_stored_points() -> None:
    scores, calibration = _uniform_calibration()
    for target in (1e-2, 1e-3, 1e-4):
        threshold = calibration.threshold_for(target)
        k = np.searchsorted(EDGES, threshold)
        below = EDGES[k - 1]  # the next lower edge would exceed the target
        counts, _ = np.histogram(scores, EDGES)
        assert counts[k:].sum() <= target * counts.sum() < counts[k - 1 :].sum()
        assert threshold == pytest.approx(EDGES[k]) and below < threshold
