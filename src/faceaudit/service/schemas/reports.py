"""Response of ``GET /v1/reports/oversight``."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from faceaudit.service.schemas.common import Open


class Period(Open):
    """The period a report covers, ``[start, end)``."""

    start: str
    end: str


class OversightReport(Open):
    """The oversight report (``faceaudit.ledger.oversight.build_oversight``; the same as
    ``faceaudit ledger report``'s oversight.json)."""

    period: Period
    generated_at: str
    ledger: dict[str, Any] = Field(description="{path, ok, summary, signing_key}.")
    events_by_action: dict[str, int]
    searches: list[dict[str, Any]]
    candidates: dict[str, Any]
    reviews: dict[str, Any]
    refusals: list[dict[str, Any]]
    erasures: list[dict[str, Any]]
    audits: list[dict[str, Any]]
    policy_changes: list[dict[str, Any]]


class TransparencyReport(Open):
    """The public transparency report (``faceaudit.deployment.transparency.build_transparency``;
    the same as ``faceaudit report transparency --json``, format ``faceaudit.transparency/1``,
    docs/reports.md): counts below the policy's ``transparency.k`` read ``< k`` or
    ``withheld``."""

    format: str
    template: dict[str, Any] = Field(description="The statute template and its citation.")
    period: dict[str, Any] = Field(description="{from, to, unit, columns}.")
    generated_at: str
    suppression: dict[str, Any] = Field(description="{k, rule, …}: how small cells are hidden.")
    system: dict[str, Any]
    tables: Any = Field(description="The published tables, laid out as the template asks.")
    audits_in_force: list[dict[str, Any]]
    integrity: dict[str, Any] = Field(description="{ledger_intact, summary}.")
