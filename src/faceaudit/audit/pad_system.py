"""The identity of the presentation attack detection (PAD) system a PAD audit measured.

A vendor's PAD is not faceaudit's model: there is no model file to hash, so the auditor names
it as ``NAME:VERSION`` (``faceaudit audit --pad-scores … --pad-system acme-liveness:4.2``),
recorded in the report as ``provenance.pad_system``. A policy that requires a PAD audit names
the same string (``bias_gate.pad_system``); only audits of that exact system count for it.
"""

from __future__ import annotations

import re

from faceaudit.audit.errors import AuditInputError

#: ``NAME:VERSION``: a name and a version of letters, digits and ``. _ + -``, one colon between
PAD_SYSTEM = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,99}:[A-Za-z0-9][A-Za-z0-9._+-]{0,59}$")


def is_pad_system(value: object) -> bool:
    """Whether ``value`` is a well-formed ``NAME:VERSION`` PAD system identity."""
    return isinstance(value, str) and PAD_SYSTEM.match(value) is not None


def check_pad_system(value: str, which: str = "--pad-system") -> str:
    """``value`` if it is a ``NAME:VERSION`` PAD system identity; else
    :class:`~faceaudit.audit.errors.AuditInputError` naming ``which``."""
    if not is_pad_system(value):
        raise AuditInputError(
            f"{which} must be NAME:VERSION (letters, digits, '.', '_', '+', '-'; one ':'), "
            f"e.g. acme-liveness:4.2; got {value!r}", which=which)
    return value
