"""The policy's PAD keys under ``[bias_gate]``: parsed and validated here, kept as fields of
:class:`faceaudit.policy.model.BiasGate`, applied by :mod:`faceaudit.policy.pad_gate`.

``require_pad_audit`` (``verify`` needs a passing signed PAD audit), ``pad_system`` (the
``NAME:VERSION`` it must measure; required with ``require_pad_audit``), ``max_bpcer_ratio``
and ``max_apcer_ratio`` (max/min over groups, default 2, judged on the interval) and
``pad_apcer_target`` (the APCER at which BPCER is judged when the audit gives no deployed
threshold; default 0.05, BPCER20). See docs/policy.md.
"""

from __future__ import annotations

import math
from typing import Any

from faceaudit.audit.pad_system import is_pad_system
from faceaudit.policy.errors import PolicyError

PAD_KEYS = ("require_pad_audit", "pad_system", "max_bpcer_ratio", "max_apcer_ratio",
            "pad_apcer_target")
DEFAULTS: dict[str, Any] = {"require_pad_audit": False, "pad_system": "",
                            "max_bpcer_ratio": 2.0, "max_apcer_ratio": 2.0,
                            "pad_apcer_target": 0.05}


def _ratio(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) \
            or not math.isfinite(value) or value < 1.0:
        raise PolicyError(f"bias_gate.{name} must be a number of at least 1")
    return float(value)


def parse_pad_policy(table: dict[str, Any]) -> dict[str, Any]:
    """The PAD fields of ``[bias_gate]`` (defaults where absent); :class:`PolicyError` for a
    wrong type or value, or ``require_pad_audit`` without a ``pad_system``."""
    out = {key: table.get(key, default) for key, default in DEFAULTS.items()}
    if not isinstance(out["require_pad_audit"], bool):
        raise PolicyError("bias_gate.require_pad_audit must be true or false")
    system = out["pad_system"]
    if not isinstance(system, str) or (system and not is_pad_system(system)):
        raise PolicyError("bias_gate.pad_system must be NAME:VERSION (letters, digits, '.', "
                          "'_', '+', '-'; one ':'), as the PAD audit's --pad-system")
    if out["require_pad_audit"] and not system:
        raise PolicyError("bias_gate.require_pad_audit needs bias_gate.pad_system: the PAD "
                          "system (NAME:VERSION) whose audit verify requires")
    for key in ("max_bpcer_ratio", "max_apcer_ratio"):
        out[key] = _ratio(out[key], key)
    target = out["pad_apcer_target"]
    if isinstance(target, bool) or not isinstance(target, int | float) \
            or not 0.0 < target < 1.0:
        raise PolicyError("bias_gate.pad_apcer_target must be a number in (0, 1)")
    out["pad_apcer_target"] = float(target)
    return out


def pad_policy_dict(gate: Any) -> dict[str, Any]:
    """The PAD fields of a :class:`~faceaudit.policy.model.BiasGate` as plain data."""
    return {key: getattr(gate, key) for key in PAD_KEYS}
