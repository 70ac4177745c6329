"""Authorisation before a search: who allowed it, for which offence, until when.

EU AI Act Art. 5(2)-(3) and Art. 26(10) ask for a judicial or administrative authorisation
before remote biometric identification is used (or, in urgency, within 48 hours, the use
stopping and its outputs deleted if it is refused); Maryland Criminal Procedure §2-503 limits
face recognition to a closed list of offences. The policy's ``[authorisation]`` table says
which operations need an authorisation and an offence, the offence list and its legal source,
and the hours an urgent search may run before its authorisation must be recorded::

    [authorisation]
    required_for = ["identify"]
    offence_required_for = ["identify"]
    offences = ["homicide", "robbery", "kidnapping"]
    offences_legal_source = "Md. Code, Crim. Proc. § 2-503(a)"
    urgent_deadline_hours = 48

This module checks what a request brings against those rules (arrays in, verdict out); the
deployment refuses and logs (:func:`faceaudit.policy.enforce.enforce`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from faceaudit.base.errors import InvalidRequestError
from faceaudit.policy.errors import PolicyError

#: the kinds of authorisation a search may carry; ``urgent`` runs before one is granted
KINDS = ("warrant", "judicial", "administrative", "urgent")
MAX_TEXT = 200
_KEYS = {"required_for", "offence_required_for", "offences", "offences_legal_source",
         "urgent_deadline_hours"}


@dataclass(frozen=True)
class Authorisation:
    """An authorisation a search runs under: its reference, the authority that issued it, its
    kind (:data:`KINDS`) and when it expires (None: no expiry stated)."""

    reference: str | None
    authority: str | None
    kind: str | None
    expires_at: datetime | None = None

    def to_record(self) -> dict[str, Any]:
        """The authorisation as a ledger event and a receipt hold it."""
        return {"reference": self.reference, "authority": self.authority, "kind": self.kind,
                "expires_at": self.expires_at.isoformat() if self.expires_at else None}


@dataclass(frozen=True)
class AuthorisationRules:
    """The policy's ``[authorisation]`` table (empty: nothing required)."""

    required_for: frozenset[str] = frozenset()
    offence_required_for: frozenset[str] = frozenset()
    offences: tuple[str, ...] = ()
    offences_legal_source: str = ""
    urgent_deadline_hours: float = 48.0

    def to_dict(self) -> dict[str, Any]:
        """The table as plain data."""
        return {"required_for": sorted(self.required_for),
                "offence_required_for": sorted(self.offence_required_for),
                "offences": list(self.offences),
                "offences_legal_source": self.offences_legal_source,
                "urgent_deadline_hours": self.urgent_deadline_hours}


@dataclass(frozen=True)
class AuthorisationVerdict:
    """Why an operation's authorisation or offence is refused (``rule`` None: allowed)."""

    rule: str | None
    detail: str = ""
    missing: tuple[str, ...] = field(default_factory=tuple)


def parse_authorisation_rules(value: Any, operations: frozenset[str]) -> AuthorisationRules:
    """Validate the policy's ``[authorisation]`` table; raise :class:`PolicyError`."""
    if not isinstance(value, dict):
        raise PolicyError("authorisation must be a table")
    unknown = sorted(set(value) - _KEYS)
    if unknown:
        named = ", ".join("authorisation." + k for k in unknown)
        raise PolicyError(f"unknown policy key(s) {named}; allowed: {', '.join(sorted(_KEYS))}")
    d = AuthorisationRules()

    def ops(name: str) -> frozenset[str]:
        got = value.get(name, [])
        if not isinstance(got, list) or not all(isinstance(o, str) for o in got) \
                or not set(got) <= operations:
            raise PolicyError(f"authorisation.{name} must be a list drawn from "
                              f"{', '.join(sorted(operations))}")
        return frozenset(got)

    offences = value.get("offences", [])
    if not isinstance(offences, list) or not all(
            isinstance(o, str) and o.strip() and len(o) <= MAX_TEXT for o in offences):
        raise PolicyError("authorisation.offences must be a list of offence names")
    source = value.get("offences_legal_source", d.offences_legal_source)
    if not isinstance(source, str) or len(source) > 1000:
        raise PolicyError("authorisation.offences_legal_source must be a text of at most 1000 "
                          "characters")
    hours = value.get("urgent_deadline_hours", d.urgent_deadline_hours)
    if isinstance(hours, bool) or not isinstance(hours, int | float) or not 0 < hours <= 24 * 30:
        raise PolicyError("authorisation.urgent_deadline_hours must be a number of hours in "
                          "(0, 720]")
    rules = AuthorisationRules(ops("required_for"), ops("offence_required_for"),
                               tuple(o.strip() for o in offences), source.strip(), float(hours))
    if rules.offence_required_for and not rules.offences:
        raise PolicyError("authorisation.offence_required_for needs the closed list "
                          "authorisation.offences")
    return rules


def judge_authorisation(rules: AuthorisationRules, operation: str,
                        authorisation: Authorisation | None, offence: str | None,
                        now: datetime) -> AuthorisationVerdict:
    """Whether ``operation`` may run with ``authorisation`` and ``offence`` under ``rules``:
    every missing field is named at once; an expired authorisation, an unknown kind or an
    offence outside the policy's list is refused."""
    given = authorisation or Authorisation(None, None, None)
    missing: list[str] = []
    if operation in rules.required_for:
        missing += [name for name in ("reference", "authority", "kind")
                    if not (getattr(given, name) or "").strip()]
    if operation in rules.offence_required_for and not (offence or "").strip():
        missing.append("offence")
    if missing:
        return AuthorisationVerdict(
            "authorisation-missing",
            f"{operation} requires {', '.join(missing)} (the policy's [authorisation] table)",
            tuple(missing))
    if given.kind is not None and given.kind not in KINDS:
        return AuthorisationVerdict("authorisation-kind",
                                    f"authorisation kind {given.kind!r} is not one of "
                                    f"{', '.join(KINDS)}")
    if given.expires_at is not None and given.expires_at <= now:
        return AuthorisationVerdict("authorisation-expired",
                                    f"authorisation {given.reference} expired at "
                                    f"{given.expires_at.isoformat()}")
    if offence is not None and rules.offences and offence.strip() not in rules.offences:
        source = f" ({rules.offences_legal_source})" if rules.offences_legal_source else ""
        return AuthorisationVerdict("offence-not-listed",
                                    f"offence {offence!r} is not on the policy's list{source}: "
                                    f"{', '.join(rules.offences)}")
    return AuthorisationVerdict(None)


def urgent_deadline(rules: AuthorisationRules, authorisation: Authorisation | None,
                    started: datetime) -> datetime | None:
    """When an urgent search's results are deleted unless its authorisation is recorded
    (None for a search that is not urgent)."""
    if authorisation is None or authorisation.kind != "urgent":
        return None
    return started + timedelta(hours=rules.urgent_deadline_hours)


def authorisation_from(reference: str | None, authority: str | None, kind: str | None,
                       expires: str | None) -> Authorisation | None:
    """Build an :class:`Authorisation` from what a CLI or REST request gives (None when it
    gives nothing); raise :class:`InvalidRequestError` for an unknown kind, an over-long text
    or an expiry that is not an ISO-8601 time."""
    if not any((reference, authority, kind, expires)):
        return None
    for name, text in (("reference", reference), ("authority", authority)):
        if text is not None and len(text) > MAX_TEXT:
            raise InvalidRequestError(f"authorisation {name} is longer than {MAX_TEXT} "
                                      "characters")
    if kind is not None and kind not in KINDS:
        raise InvalidRequestError(f"authorisation kind must be one of {', '.join(KINDS)}, "
                                  f"not {kind!r}")
    expires_at = None
    if expires:
        try:
            expires_at = datetime.fromisoformat(expires)
        except ValueError:
            raise InvalidRequestError(f"authorisation expiry {expires!r} is not an ISO-8601 "
                                      "time (e.g. 2027-01-31T23:59:00+00:00)") from None
        if expires_at.tzinfo is None:
            expires_at = expires_at.replace(tzinfo=UTC)
    return Authorisation(reference, authority, kind, expires_at)
