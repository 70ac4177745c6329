"""Validation of what an event may carry: counts and ids, never biometric data or images."""

from __future__ import annotations

import math
import numbers
from typing import Any

from faceaudit.ledger.errors import LedgerEventError

MAX_TEXT = 1024
MAX_ITEMS = 256
MAX_FLOATS_PER_LIST = 16
MAX_DEPTH = 4


def check_text(name: str, value: object, *, required: bool = False) -> str | None:
    """Return ``value`` if it is a short string (or None when optional), else raise."""
    if value is None and not required:
        return None
    if not isinstance(value, str) or (required and not value.strip()):
        raise LedgerEventError(f"{name} must be a non-empty string" if required else
                               f"{name} must be a string or None")
    if len(value) > MAX_TEXT:
        raise LedgerEventError(f"{name} is longer than {MAX_TEXT} characters")
    return value


def check_number(name: str, value: object) -> float | None:
    """Return ``value`` as a finite float (or None), else raise."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(
        float(value)
    ):
        raise LedgerEventError(f"{name} must be a finite number or None")
    return float(value)


def check_result(result: dict[str, Any] | None) -> dict[str, Any] | None:
    """Return a JSON-native copy of ``result``, refusing anything that could hold biometrics.

    Allowed: nested dicts/lists (depth ≤ 4, ≤ 256 items each) of short strings, ints, finite
    floats, bools and None. Refused: bytes, arrays and other objects, long strings (images in
    base64) and lists of more than 16 floats (embeddings).
    """
    if result is None:
        return None
    if not isinstance(result, dict):
        raise LedgerEventError("result must be a dict of counts and ids")
    return _check_value(result, "result", 0)


def _check_value(value: Any, where: str, depth: int) -> Any:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        if len(value) > MAX_TEXT:
            raise LedgerEventError(f"{where} is a string longer than {MAX_TEXT} characters")
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return check_number(where, value)
    if depth >= MAX_DEPTH:
        raise LedgerEventError(f"{where} is nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, dict):
        if len(value) > MAX_ITEMS:
            raise LedgerEventError(f"{where} has more than {MAX_ITEMS} keys")
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise LedgerEventError(f"{where} has a non-string key {key!r}")
            out[key] = _check_value(item, f"{where}.{key}", depth + 1)
        return out
    if isinstance(value, list | tuple):
        if len(value) > MAX_ITEMS:
            raise LedgerEventError(f"{where} has more than {MAX_ITEMS} items")
        n_floats = sum(
            isinstance(v, numbers.Real) and not isinstance(v, numbers.Integral) for v in value
        )
        if n_floats > MAX_FLOATS_PER_LIST:
            raise LedgerEventError(
                f"{where} holds {n_floats} floats — events never carry embeddings"
            )
        return [_check_value(v, f"{where}[{i}]", depth + 1) for i, v in enumerate(value)]
    raise LedgerEventError(
        f"{where} is a {type(value).__name__}; events carry counts and ids only, "
        "never biometric data or images"
    )
