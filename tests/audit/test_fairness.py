import numpy as np
import pytest

from faceaudit.audit import fairness
from faceaudit.audit.frame import GroupFrame
from faceaudit.base.errors import InputDataError

RFW_ARCFACE = np.array([92.15, 88.00, 83.98, 84.93]) / 100  # Caucasian, Indian, Asian, African


def test_rfw_arcface_ser_and_std():
    assert fairness.skewed_error_ratio(RFW_ARCFACE) == pytest.approx(2.04, abs=0.005)
    assert fairness.accuracy_std(RFW_ARCFACE) == pytest.approx(3.19, abs=0.005)


def test_gini_with_small_sample_correction():
    assert fairness.gini(np.array([1.0, 1.0, 1.0])) == 0
    # two groups, one zero: sum |xi - xj| = 2, mean 0.5, n = 2 -> 2/1 * 2 / (2 * 4 * 0.5) = 1
    assert fairness.gini(np.array([0.0, 1.0])) == pytest.approx(1.0)


def test_summaries_formulas_and_alpha():
    fmr, fnmr = np.array([0.001, 0.004]), np.array([0.02, 0.03])
    out = fairness.summaries(fmr, fnmr, None, alpha=0.25)
    assert out["fmr_ratio"] == pytest.approx(4) and out["fnmr_ratio"] == pytest.approx(1.5)
    assert out["inequity"] == pytest.approx(4**0.25 * 1.5**0.75)
    assert out["fdr"] == pytest.approx(1 - (0.25 * 0.003 + 0.75 * 0.01))
    assert out["garbe"] == pytest.approx(0.25 * 0.6 + 0.75 * 0.2)
    with pytest.raises(InputDataError):
        fairness.inequity_rate(fmr, fnmr, alpha=1.5)


def test_zero_denominators_give_inf_or_nan_not_errors():
    assert fairness.max_min_ratio(np.array([0.0, 0.01])) == np.inf
    assert np.isnan(fairness.max_min_ratio(np.array([0.0, 0.0])))
    assert np.isnan(fairness.gini(np.array([0.0, 0.0])))


def test_vectorised_over_replicates():
    reps = np.array([[0.001, 0.002], [0.002, 0.002], [0.004, 0.001]])
    np.testing.assert_allclose(fairness.max_min_ratio(reps), [2, 1, 4])


def test_group_frame_matches_metricframe_shape():
    frame = GroupFrame(["a", "b"], {"fmr": [0.001, 0.003]})
    assert frame.by_group == {"a": {"fmr": 0.001}, "b": {"fmr": 0.003}}
    assert frame.ratio("fmr") == pytest.approx(3) and frame.difference("fmr") == pytest.approx(
        0.002
    )
    with pytest.raises(InputDataError):
        GroupFrame(["a", "b"], {"fmr": [0.1]})
