"""``--fail-if`` rules over an identification audit (``fpir_ratio>2``, ``fnir_ratio>1.5@1e-3``),
judged like the 1:1 rules (:func:`faceaudit.audit.gate.evaluate`) against the summaries of the
``identification`` section's operating points."""

from __future__ import annotations

from faceaudit.audit.gate import GateRule, evaluate


def primary_point(points: list[dict]) -> dict | None:
    """The middle operating point (FMR 1e-3 of the default 1e-2, 1e-3, 1e-4)."""
    return points[len(points) // 2] if points else None


def evaluate_identification_rules(report: dict, rules: list[GateRule]) -> dict:
    """The report's ``gate`` section for an identification audit; a rule without an FMR is
    judged at the primary operating point."""
    points = (report.get("identification") or {}).get("operating_points") or []
    primary = primary_point(points)
    view = {
        "targets": [{"target_fmr": p["target_fmr"], "summaries": p["summaries"],
                     "groups": p.get("groups") or []} for p in points],
        "primary_target": primary["target_fmr"] if primary else None,
        "provenance": report.get("provenance") or {},
    }
    return evaluate(view, rules)
