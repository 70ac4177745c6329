"""The legal bases an enrolment may be recorded under (GDPR Art. 6 and Art. 9).

A face template is biometric data processed to identify a person: GDPR Art. 9(1) forbids it
unless an Art. 9(2) condition applies, and Art. 6(1) needs a lawful basis besides. The names
below are the ones ``--basis`` (CLI), ``basis`` (REST) and
:meth:`faceaudit.deployment.operations.Deployment.enrol` accept; ``other:<note>`` records anything
else
and requires the note. See docs/gallery.md.
"""

from __future__ import annotations

from enum import StrEnum

from faceaudit.gallery.errors import ConsentError

OTHER_PREFIX = "other:"


class LegalBasis(StrEnum):
    """A named legal basis: the GDPR article it stands for is in :data:`ARTICLES`."""

    CONSENT = "consent"
    EXPLICIT_CONSENT = "explicit-consent"
    CONTRACT = "contract"
    LEGAL_OBLIGATION = "legal-obligation"
    VITAL_INTERESTS = "vital-interests"
    PUBLIC_TASK = "public-task"
    LEGITIMATE_INTERESTS = "legitimate-interests"
    EMPLOYMENT = "employment"
    NOT_FOR_PROFIT_BODY = "not-for-profit-body"
    MADE_PUBLIC = "made-public"
    LEGAL_CLAIMS = "legal-claims"
    SUBSTANTIAL_PUBLIC_INTEREST = "substantial-public-interest"
    HEALTH_CARE = "health-care"
    PUBLIC_HEALTH = "public-health"
    ARCHIVING_RESEARCH = "archiving-research"


ARTICLES: dict[LegalBasis, str] = {
    LegalBasis.CONSENT: "Art. 6(1)(a)",
    LegalBasis.EXPLICIT_CONSENT: "Art. 9(2)(a)",
    LegalBasis.CONTRACT: "Art. 6(1)(b)",
    LegalBasis.LEGAL_OBLIGATION: "Art. 6(1)(c)",
    LegalBasis.VITAL_INTERESTS: "Art. 6(1)(d) / 9(2)(c)",
    LegalBasis.PUBLIC_TASK: "Art. 6(1)(e)",
    LegalBasis.LEGITIMATE_INTERESTS: "Art. 6(1)(f)",
    LegalBasis.EMPLOYMENT: "Art. 9(2)(b)",
    LegalBasis.NOT_FOR_PROFIT_BODY: "Art. 9(2)(d)",
    LegalBasis.MADE_PUBLIC: "Art. 9(2)(e)",
    LegalBasis.LEGAL_CLAIMS: "Art. 9(2)(f)",
    LegalBasis.SUBSTANTIAL_PUBLIC_INTEREST: "Art. 9(2)(g)",
    LegalBasis.HEALTH_CARE: "Art. 9(2)(h)",
    LegalBasis.PUBLIC_HEALTH: "Art. 9(2)(i)",
    LegalBasis.ARCHIVING_RESEARCH: "Art. 9(2)(j)",
}


def parse_legal_basis(value: str) -> str:
    """Return ``value`` normalised if it names a legal basis, else raise :class:`ConsentError`.

    Accepts a :class:`LegalBasis` name (any case, surrounding blanks ignored) or
    ``other:<note>`` with a non-empty note.
    """
    text = (value or "").strip()
    if text.lower().startswith(OTHER_PREFIX):
        note = text[len(OTHER_PREFIX):].strip()
        if not note:
            raise ConsentError("legal basis 'other:' needs a note, e.g. 'other:national law X'")
        return f"{OTHER_PREFIX}{note}"
    try:
        return str(LegalBasis(text.lower()))
    except ValueError:
        choices = ", ".join(b.value for b in LegalBasis)
        raise ConsentError(
            f"unknown legal basis {value!r}; use one of {choices}, or 'other:<note>'"
        ) from None
