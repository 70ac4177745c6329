"""The probe-quality floor: a search whose probe is too poor to be trusted is refused or flagged.

The policy's ``[probe_quality]`` table sets a floor on the probe's image quality components
(:mod:`faceaudit.engine.faces.quality`, docs/quality.md)::

    [probe_quality]
    min_inter_eye_px = 40     # eyes at least 40 px apart (in the probe's own pixels)
    max_abs_yaw_deg = 30      # head turned at most 30° either way
    on_below = "refuse"       # or "flag": search, and flag the face on its candidate list

A face below any limit is *below the floor*. ``refuse`` refuses the whole search (rule
``probe-quality``, naming each face, component, value and limit; a ``refused`` event is
logged); ``flag`` runs it and gives each such face ``quality_flags`` naming the same. No limit
is set by default.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from faceaudit.policy.errors import PolicyError

#: each limit's key → (the quality component it bounds, how: "min", "max" or "max_abs")
LIMITS: dict[str, tuple[str, str]] = {
    "min_inter_eye_px": ("inter_eye_distance_px", "min"),
    "min_face_size_ratio": ("face_size_ratio", "min"),
    "max_abs_yaw_deg": ("yaw_deg", "max_abs"),
    "max_abs_roll_deg": ("roll_deg", "max_abs"),
    "min_luminance_mean": ("luminance_mean", "min"),
    "max_luminance_mean": ("luminance_mean", "max"),
    "min_luminance_uniformity": ("luminance_uniformity", "min"),
    "max_underexposure_fraction": ("underexposure_fraction", "max"),
    "max_overexposure_fraction": ("overexposure_fraction", "max"),
    "min_dynamic_range_bits": ("dynamic_range_bits", "min"),
    "min_sharpness": ("sharpness", "min"),
    "max_compression_blockiness": ("compression_blockiness", "max"),
}
ON_BELOW = ("refuse", "flag")
_KEYS = set(LIMITS) | {"on_below"}
_SYMBOL = {"min": "<", "max": ">", "max_abs": ">"}


@dataclass(frozen=True)
class Breach:
    """One face's component beyond one limit of the floor."""

    face: int
    component: str
    value: float
    limit_key: str
    limit: float

    def to_dict(self) -> dict[str, Any]:
        """Plain data: face (0-based), component, value, limit (its policy key), bound."""
        return {"face": self.face, "component": self.component, "value": self.value,
                "limit": self.limit_key, "bound": self.limit}

    def text(self) -> str:
        """``face 1: inter_eye_distance_px 20.3 < 40 (min_inter_eye_px)`` (1-based face)."""
        how = LIMITS[self.limit_key][1]
        shown = f"|{self.component}| {abs(self.value):g}" if how == "max_abs" \
            else f"{self.component} {self.value:g}"
        return f"face {self.face + 1}: {shown} {_SYMBOL[how]} {self.limit:g} ({self.limit_key})"


@dataclass(frozen=True)
class ProbeQualityFloor:
    """The policy's ``[probe_quality]`` table: ``limits`` by key (:data:`LIMITS`), and what a
    probe below them gets (``on_below``: ``refuse`` or ``flag``)."""

    limits: dict[str, float] = field(default_factory=dict)
    on_below: str = "refuse"

    def to_dict(self) -> dict[str, Any]:
        """The table as plain data."""
        return {**dict(sorted(self.limits.items())), "on_below": self.on_below}

    def breaches(self, qualities: list[dict[str, float]]) -> list[Breach]:
        """Every limit each face (``qualities``, one components dict per face) is beyond, in
        face order then :data:`LIMITS` order; a component a face lacks is not judged."""
        out = []
        for index, components in enumerate(qualities):
            for key in LIMITS:
                if key not in self.limits or LIMITS[key][0] not in components:
                    continue
                component, how = LIMITS[key]
                value, limit = float(components[component]), self.limits[key]
                beyond = (value < limit if how == "min" else
                          value > limit if how == "max" else abs(value) > limit)
                if beyond:
                    out.append(Breach(index, component, value, key, limit))
        return out


#: at most this many breaches are spelled out in a refusal's detail (the rest are counted)
MAX_DETAILED = 8


def breach_detail(breaches: list[Breach]) -> str:
    """The refusal's detail: the breaches (the first :data:`MAX_DETAILED`, then how many
    more), then what to do."""
    shown = "; ".join(b.text() for b in breaches[:MAX_DETAILED])
    if len(breaches) > MAX_DETAILED:
        shown += f"; and {len(breaches) - MAX_DETAILED} more"
    return (f"the probe is below the policy's probe-quality floor: {shown} — search with a "
            "better image of the face (docs/quality.md)")


def parse_probe_quality(value: Any) -> ProbeQualityFloor:
    """The ``[probe_quality]`` table of a policy file, validated (:class:`PolicyError`)."""
    if not isinstance(value, dict):
        raise PolicyError("probe_quality must be a table")
    unknown = sorted(set(value) - _KEYS)
    if unknown:
        raise PolicyError(
            f"unknown policy key(s) {', '.join('probe_quality.' + k for k in unknown)}; "
            f"allowed: {', '.join(sorted(_KEYS))}")
    on_below = value.get("on_below", "refuse")
    if on_below not in ON_BELOW:
        raise PolicyError(f"probe_quality.on_below must be one of {', '.join(ON_BELOW)}")
    limits = {}
    for key in LIMITS:
        if key not in value:
            continue
        limit = value[key]
        if isinstance(limit, bool) or not isinstance(limit, int | float) or not math.isfinite(
                limit) or limit < 0:
            raise PolicyError(f"probe_quality.{key} must be a finite number ≥ 0")
        limits[key] = float(limit)
    return ProbeQualityFloor(limits=limits, on_below=on_below)
