"""The policy's ``[probe_quality]`` table: parsed strictly, judged per face and component."""

from __future__ import annotations

import pytest

from faceaudit.engine.faces.quality import COMPONENTS
from faceaudit.policy import PolicyError
from faceaudit.policy.model import DEFAULT_POLICY, parse_policy
from faceaudit.policy.probe_quality import LIMITS, breach_detail, parse_probe_quality


def _policy(table: str):
    return parse_policy(f"[probe_quality]\n{table}\n".encode(), source="test")


def test_every_limit_bounds_a_real_component_and_the_default_sets_none() -> None:
    assert {component for component, _ in LIMITS.values()} <= set(COMPONENTS)
    assert DEFAULT_POLICY.probe_quality.limits == {}
    assert DEFAULT_POLICY.probe_quality.breaches([{"inter_eye_distance_px": 1.0}]) == []
    assert DEFAULT_POLICY.to_dict()["probe_quality"] == {"on_below": "refuse"}


def test_a_floor_parses_and_round_trips() -> None:
    policy = _policy('min_inter_eye_px = 40\nmax_abs_yaw_deg = 30\non_below = "flag"')
    floor = policy.probe_quality
    assert floor.limits == {"min_inter_eye_px": 40.0, "max_abs_yaw_deg": 30.0}
    assert floor.on_below == "flag"
    assert policy.to_dict()["probe_quality"] == {"max_abs_yaw_deg": 30.0,
                                                 "min_inter_eye_px": 40.0, "on_below": "flag"}


@pytest.mark.parametrize("table, message", [
    ("min_eye_px = 40", "probe_quality.min_eye_px"),
    ('on_below = "ignore"', "on_below"),
    ("min_inter_eye_px = true", "min_inter_eye_px"),
    ('min_inter_eye_px = "40"', "min_inter_eye_px"),
    ("min_inter_eye_px = -1", "min_inter_eye_px"),
    ("max_abs_yaw_deg = nan", "max_abs_yaw_deg"),
])
def test_a_bad_floor_is_refused_naming_the_key(table: str, message: str) -> None:
    with pytest.raises(PolicyError, match=message):
        _policy(table)


def test_not_a_table_is_refused() -> None:
    with pytest.raises(PolicyError, match="probe_quality must be a table"):
        parse_probe_quality(3)


def test_breaches_name_face_component_value_and_limit() -> None:
    floor = parse_probe_quality({"min_inter_eye_px": 40, "max_abs_yaw_deg": 30,
                                 "max_underexposure_fraction": 0.2, "min_sharpness": 0.05})
    faces = [
        {"inter_eye_distance_px": 64.0, "yaw_deg": -10.0, "underexposure_fraction": 0.0,
         "sharpness": 0.3},                                   # fine
        {"inter_eye_distance_px": 40.0, "yaw_deg": -30.0, "underexposure_fraction": 0.2,
         "sharpness": 0.05},                                  # exactly at every limit: fine
        {"inter_eye_distance_px": 21.5, "yaw_deg": -31.0, "underexposure_fraction": 0.5,
         "sharpness": 0.3},                                   # three breaches
        {"yaw_deg": 44.0},                                    # what is absent is not judged
    ]
    breaches = floor.breaches(faces)
    assert [(b.face, b.component, b.value, b.limit_key, b.limit) for b in breaches] == [
        (2, "inter_eye_distance_px", 21.5, "min_inter_eye_px", 40.0),
        (2, "yaw_deg", -31.0, "max_abs_yaw_deg", 30.0),
        (2, "underexposure_fraction", 0.5, "max_underexposure_fraction", 0.2),
        (3, "yaw_deg", 44.0, "max_abs_yaw_deg", 30.0),
    ]
    detail = breach_detail(breaches)
    assert "face 3: inter_eye_distance_px 21.5 < 40 (min_inter_eye_px)" in detail
    assert "face 3: |yaw_deg| 31 > 30 (max_abs_yaw_deg)" in detail
    assert "face 4: |yaw_deg| 44 > 30" in detail
    assert breaches[0].to_dict() == {"face": 2, "component": "inter_eye_distance_px",
                                     "value": 21.5, "limit": "min_inter_eye_px", "bound": 40.0}


def test_a_long_refusal_stays_short_enough_for_the_ledger() -> None:
    floor = parse_probe_quality({"min_inter_eye_px": 40, "min_sharpness": 1})
    faces = [{"inter_eye_distance_px": 10.0, "sharpness": 0.1}] * 200
    detail = breach_detail(floor.breaches(faces))
    assert len(detail) < 1024 and "and 392 more" in detail
