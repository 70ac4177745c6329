"""Responses of ``/v1/authorisations``."""

from __future__ import annotations

from pydantic import Field

from faceaudit.service.schemas.common import Open


class HeldSearch(Open):
    """An urgent search waiting for its authorisation."""

    result_id: str
    case: str | None
    deadline: str


class HeldSearches(Open):
    """The held urgent searches, oldest deadline first."""

    held: list[HeldSearch]


class AuthorisationRecorded(Open):
    """The authority's decision, recorded."""

    result_id: str
    decision: str = Field(description="granted or refused.")
    deleted: list[str] = Field(description="The results whose outputs were deleted.")
