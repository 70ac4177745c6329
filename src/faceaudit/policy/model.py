"""The deployment policy: a TOML file, validated strictly, with a documented default.

See docs/policy.md and examples/policy.toml. No rule refers to a demographic attribute except
``bias_gate.required_groups``, which only says which groups an audit must have measured.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from faceaudit.audit.signing import key_id, parse_public_key_entry
from faceaudit.base.home import Home
from faceaudit.policy.authorisation import AuthorisationRules, parse_authorisation_rules
from faceaudit.policy.errors import PolicyError
from faceaudit.policy.pad_rules import PAD_KEYS, pad_policy_dict, parse_pad_policy
from faceaudit.policy.probe_quality import ProbeQualityFloor, parse_probe_quality
from faceaudit.policy.record import check_policy_file
from faceaudit.policy.review_rules import ReviewRules, parse_review_rules
from faceaudit.policy.transparency_rules import TransparencyRules, parse_transparency_rules

OPERATIONS = frozenset({"enrol", "consent", "verify", "identify", "review", "lead", "erase",
                        "purge"})
GATED_OPERATIONS = frozenset({"identify", "verify"})
FIELDS = frozenset({"purpose", "case"})


@dataclass(frozen=True)
class RateLimit:
    """At most ``max_events`` events of one operation per actor in any ``window_hours``."""

    max_events: int
    window_hours: float


MAX_WAIVER_CHARS = 300

#: what ``threshold`` may say: the shipped calibration's threshold at ``fmr_target``, or the
#: worst-group threshold of the registered audit in force (:mod:`faceaudit.policy.worst_group`)
THRESHOLD_RULES = ("calibrated", "worst-group")

#: what ``bias_gate.on_inconclusive`` / ``on_insufficient`` may say
UNDECIDED_ACTIONS = ("refuse", "allow")


@dataclass(frozen=True)
class BiasGate:
    """What a registered audit must show before identification or verification may run."""

    max_fmr_ratio: float = 2.0
    max_fnmr_ratio: float = 2.0
    max_audit_age_days: float = 365.0
    required_groups: tuple[str, ...] = ()
    trusted_auditor_keys: tuple[str, ...] = ()
    allow_unsigned_audits: bool = False
    waived_because: str = ""
    require_identification_audit: bool = False
    max_fpir_ratio: float = 2.0
    max_fnir_ratio: float = 2.0
    # what an audit that cannot decide does: "refuse" (the default) or "allow"
    on_inconclusive: str = "refuse"
    on_insufficient: str = "refuse"
    min_identities: int = 30  # fewest identities behind a rate the gate judges
    # max / geometric mean limits (NIST IR 8429), unchecked when None
    max_fmr_max_geomean: float | None = None
    max_fnmr_max_geomean: float | None = None
    # verify's PAD audit (policy/pad.py): the PAD system it must measure, and its limits
    require_pad_audit: bool = False
    pad_system: str = ""  # NAME:VERSION, as the PAD audit's provenance.pad_system
    max_bpcer_ratio: float = 2.0
    max_apcer_ratio: float = 2.0
    pad_apcer_target: float = 0.05  # judged at BPCER20 unless the audit gives a deployed threshold

    def trusted_keys(self) -> dict[str, Ed25519PublicKey]:
        """The trusted auditor public keys by key id (entries were validated on parsing)."""
        keys = (parse_public_key_entry(entry) for entry in self.trusted_auditor_keys)
        return {key_id(k): k for k in keys}


@dataclass(frozen=True)
class Policy:
    """A validated deployment policy (see :func:`parse_policy` for the file format)."""

    allowed_operations: frozenset[str] = OPERATIONS
    required_fields: dict[str, tuple[str, ...]] = field(
        default_factory=lambda: {"identify": ("purpose", "case"), "verify": ("purpose",)}
    )
    fmr_target: float = 0.001
    threshold: str = "calibrated"  # one of THRESHOLD_RULES
    max_candidates: int = 10
    rate_limits: dict[str, RateLimit] = field(
        default_factory=lambda: {"identify": RateLimit(100, 1.0)}
    )
    bias_gate: BiasGate = BiasGate()
    allow_self_review: bool = False
    authorisation: AuthorisationRules = AuthorisationRules()
    review: ReviewRules = ReviewRules()
    probe_quality: ProbeQualityFloor = ProbeQualityFloor()
    transparency: TransparencyRules = TransparencyRules()
    source: str = "default"

    def to_dict(self) -> dict[str, Any]:
        """Return the policy as plain data (the TOML structure plus ``source``)."""
        return {
            "source": self.source,
            "allowed_operations": sorted(self.allowed_operations),
            "required_fields": {k: list(v) for k, v in sorted(self.required_fields.items())},
            "fmr_target": self.fmr_target,
            "threshold": self.threshold,
            "max_candidates": self.max_candidates,
            "rate_limits": {
                op: {"max_events": r.max_events, "window_hours": r.window_hours}
                for op, r in sorted(self.rate_limits.items())
            },
            "allow_self_review": self.allow_self_review,
            "authorisation": self.authorisation.to_dict(),
            "review": self.review.to_dict(),
            "probe_quality": self.probe_quality.to_dict(),
            "transparency": self.transparency.to_dict(),
            "bias_gate": {
                "max_fmr_ratio": self.bias_gate.max_fmr_ratio,
                "max_fnmr_ratio": self.bias_gate.max_fnmr_ratio,
                "max_audit_age_days": self.bias_gate.max_audit_age_days,
                "required_groups": list(self.bias_gate.required_groups),
                "trusted_auditor_keys": list(self.bias_gate.trusted_auditor_keys),
                "allow_unsigned_audits": self.bias_gate.allow_unsigned_audits,
                "waived_because": self.bias_gate.waived_because,
                "require_identification_audit": self.bias_gate.require_identification_audit,
                "max_fpir_ratio": self.bias_gate.max_fpir_ratio,
                "max_fnir_ratio": self.bias_gate.max_fnir_ratio,
                "on_inconclusive": self.bias_gate.on_inconclusive,
                "on_insufficient": self.bias_gate.on_insufficient,
                "min_identities": self.bias_gate.min_identities,
                "max_fmr_max_geomean": self.bias_gate.max_fmr_max_geomean,
                "max_fnmr_max_geomean": self.bias_gate.max_fnmr_max_geomean,
                **pad_policy_dict(self.bias_gate),
            },
        }


DEFAULT_POLICY = Policy()

_TOP_KEYS = {
    "allowed_operations",
    "required_fields",
    "fmr_target",
    "threshold",
    "max_candidates",
    "rate_limits",
    "bias_gate",
    "allow_self_review",
    "authorisation",
    "review",
    "probe_quality",
    "transparency",
}


def load_policy(home: Home) -> Policy:
    """Return the policy at ``home.policy_path``, or :data:`DEFAULT_POLICY` when absent —
    but only if it is the policy the ledger recorded in its last ``policy_change`` event
    (:class:`~faceaudit.policy.record.PolicyMismatchError` otherwise: a hand edit, a
    replacement or a removal never takes effect silently)."""
    path = home.policy_path
    try:
        data: bytes | None = path.read_bytes()
    except FileNotFoundError:
        data = None
    data = check_policy_file(home, data)
    if data is None:
        return DEFAULT_POLICY
    return parse_policy(data, source=str(path))


def parse_policy(data: bytes, *, source: str) -> Policy:
    """Parse and validate policy TOML; every key is optional (default as in DEFAULT_POLICY).

    Raises :class:`PolicyError` for invalid TOML, unknown keys, wrong types or values.
    """
    try:
        raw = tomllib.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise PolicyError(f"{source}: not valid TOML: {exc}") from None
    _no_unknown(raw, _TOP_KEYS, "")
    d = DEFAULT_POLICY
    return Policy(
        allowed_operations=frozenset(
            _operations(raw.get("allowed_operations", sorted(d.allowed_operations)),
                        "allowed_operations")
        ),
        required_fields=_required_fields(raw.get("required_fields", d.required_fields)),
        fmr_target=_number(raw.get("fmr_target", d.fmr_target), "fmr_target", low=0.0,
                           high=1.0, open_low=True, open_high=True),
        threshold=_choice(raw.get("threshold", d.threshold), "threshold", THRESHOLD_RULES),
        max_candidates=_int(raw.get("max_candidates", d.max_candidates), "max_candidates",
                            low=1, high=1000),
        rate_limits=_rate_limits(raw["rate_limits"]) if "rate_limits" in raw else d.rate_limits,
        bias_gate=_bias_gate(raw.get("bias_gate", {})),
        allow_self_review=_bool(raw.get("allow_self_review", d.allow_self_review),
                                "allow_self_review"),
        authorisation=parse_authorisation_rules(raw.get("authorisation", {}), OPERATIONS),
        review=parse_review_rules(raw.get("review", {})),
        probe_quality=parse_probe_quality(raw.get("probe_quality", {})),
        transparency=parse_transparency_rules(raw.get("transparency", {})),
        source=source,
    )


def _no_unknown(table: dict[str, Any], allowed: set[str] | frozenset[str], where: str) -> None:
    unknown = sorted(set(table) - set(allowed))
    if unknown:
        raise PolicyError(
            f"unknown policy key(s) {', '.join(where + k for k in unknown)}; "
            f"allowed: {', '.join(sorted(allowed))}"
        )


def _table(value: Any, name: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise PolicyError(f"{name} must be a table")
    return value


def _operations(value: Any, name: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise PolicyError(f"{name} must be a list of operation names")
    unknown = sorted(set(value) - OPERATIONS)
    if unknown:
        raise PolicyError(
            f"{name}: unknown operation(s) {', '.join(unknown)}; "
            f"known: {', '.join(sorted(OPERATIONS))}"
        )
    return value


def _required_fields(value: Any) -> dict[str, tuple[str, ...]]:
    table = _table(value, "required_fields")
    _no_unknown(table, OPERATIONS, "required_fields.")
    out = {}
    for op, fields in table.items():
        if not isinstance(fields, list | tuple) or not set(fields) <= FIELDS:
            raise PolicyError(
                f"required_fields.{op} must be a list drawn from {', '.join(sorted(FIELDS))}"
            )
        out[op] = tuple(fields)
    return out


def _rate_limits(value: Any) -> dict[str, RateLimit]:
    table = _table(value, "rate_limits")
    _no_unknown(table, OPERATIONS, "rate_limits.")
    out = {}
    for op, spec in table.items():
        name = f"rate_limits.{op}"
        spec = _table(spec, name)
        _no_unknown(spec, {"max_events", "window_hours"}, name + ".")
        if set(spec) != {"max_events", "window_hours"}:
            raise PolicyError(f"{name} needs both max_events and window_hours")
        out[op] = RateLimit(
            _int(spec["max_events"], name + ".max_events", low=0, high=10**9),
            _number(spec["window_hours"], name + ".window_hours", low=0.0, high=24 * 366,
                    open_low=True),
        )
    return out


def _bias_gate(value: Any) -> BiasGate:
    table = _table(value, "bias_gate")
    keys = {"max_fmr_ratio", "max_fnmr_ratio", "max_audit_age_days", "required_groups",
            "trusted_auditor_keys", "allow_unsigned_audits", "waived_because",
            "require_identification_audit", "max_fpir_ratio", "max_fnir_ratio",
            "on_inconclusive", "on_insufficient", "min_identities", "max_fmr_max_geomean",
            "max_fnmr_max_geomean", *PAD_KEYS}
    _no_unknown(table, keys, "bias_gate.")
    d = BiasGate()
    groups = table.get("required_groups", list(d.required_groups))
    if not isinstance(groups, list) or not all(isinstance(g, str) and g for g in groups):
        raise PolicyError("bias_gate.required_groups must be a list of group names")
    unsigned = table.get("allow_unsigned_audits", d.allow_unsigned_audits)
    if not isinstance(unsigned, bool):
        raise PolicyError("bias_gate.allow_unsigned_audits must be true or false")
    waiver = table.get("waived_because", d.waived_because)
    if not isinstance(waiver, str) or len(waiver) > MAX_WAIVER_CHARS or (
            waiver and not waiver.strip()):
        raise PolicyError(f"bias_gate.waived_because must be a reason of at most "
                          f"{MAX_WAIVER_CHARS} characters (or left out)")
    require_identification = table.get("require_identification_audit",
                                       d.require_identification_audit)
    if not isinstance(require_identification, bool):
        raise PolicyError("bias_gate.require_identification_audit must be true or false")
    undecided = {}
    for key in ("on_inconclusive", "on_insufficient"):
        undecided[key] = table.get(key, getattr(d, key))
        if undecided[key] not in UNDECIDED_ACTIONS:
            raise PolicyError(f"bias_gate.{key} must be one of "
                              f"{', '.join(repr(a) for a in UNDECIDED_ACTIONS)}")
    min_identities = table.get("min_identities", d.min_identities)
    if isinstance(min_identities, bool) or not isinstance(min_identities, int) \
            or min_identities < 2:
        raise PolicyError("bias_gate.min_identities must be a whole number of at least 2")
    geomean: dict[str, float | None] = {}
    for key in ("max_fmr_max_geomean", "max_fnmr_max_geomean"):
        given = table.get(key)
        geomean[key] = None if given is None else _number(given, f"bias_gate.{key}", low=1.0,
                                                          high=math.inf)
    return BiasGate(
        **parse_pad_policy(table),
        max_fmr_max_geomean=geomean["max_fmr_max_geomean"],
        max_fnmr_max_geomean=geomean["max_fnmr_max_geomean"],
        on_inconclusive=undecided["on_inconclusive"],
        on_insufficient=undecided["on_insufficient"],
        min_identities=min_identities,
        require_identification_audit=require_identification,
        max_fpir_ratio=_number(table.get("max_fpir_ratio", d.max_fpir_ratio),
                               "bias_gate.max_fpir_ratio", low=1.0, high=math.inf),
        max_fnir_ratio=_number(table.get("max_fnir_ratio", d.max_fnir_ratio),
                               "bias_gate.max_fnir_ratio", low=1.0, high=math.inf),
        max_fmr_ratio=_number(table.get("max_fmr_ratio", d.max_fmr_ratio),
                              "bias_gate.max_fmr_ratio", low=1.0, high=math.inf),
        max_fnmr_ratio=_number(table.get("max_fnmr_ratio", d.max_fnmr_ratio),
                               "bias_gate.max_fnmr_ratio", low=1.0, high=math.inf),
        max_audit_age_days=_number(table.get("max_audit_age_days", d.max_audit_age_days),
                                   "bias_gate.max_audit_age_days", low=0.0, high=36600,
                                   open_low=True),
        required_groups=tuple(groups),
        trusted_auditor_keys=_auditor_keys(table.get("trusted_auditor_keys", [])),
        allow_unsigned_audits=unsigned,
        waived_because=waiver.strip(),
    )


def _auditor_keys(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise PolicyError("bias_gate.trusted_auditor_keys must be a list of 'ed25519:<base64>'")
    for n, entry in enumerate(value):
        try:
            parse_public_key_entry(entry)
        except ValueError as exc:
            raise PolicyError(f"bias_gate.trusted_auditor_keys[{n}]: {exc}") from None
    return tuple(value)


def _number(
    value: Any, name: str, *, low: float, high: float, open_low: bool = False,
    open_high: bool = False,
) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise PolicyError(f"{name} must be a number")
    too_low = value <= low if open_low else value < low
    too_high = value >= high if open_high else value > high
    if too_low or too_high:
        lo, hi = "(" if open_low else "[", ")" if open_high else "]"
        raise PolicyError(f"{name} = {value} is outside {lo}{low}, {high}{hi}")
    return float(value)


def _choice(value: Any, name: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise PolicyError(f"{name} must be one of {', '.join(repr(c) for c in choices)}")
    return str(value)


def _bool(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise PolicyError(f"{name} must be true or false")
    return value


def _int(value: Any, name: str, *, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise PolicyError(f"{name} must be an integer")
    if not low <= value <= high:
        raise PolicyError(f"{name} = {value} is outside [{low}, {high}]")
    return value


def read_policy_file(path: Path) -> tuple[Policy, bytes]:
    """Read and validate a policy file given by the user; return the policy and its bytes."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise PolicyError(f"cannot read policy file {path}: {exc.strerror}") from None
    return parse_policy(data, source=str(path)), data
