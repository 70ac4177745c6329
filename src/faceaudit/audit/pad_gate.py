"""``--fail-if`` rules over a PAD audit (``bpcer_ratio>2``, ``apcer_ratio>1.5@0.01``), judged
like the 1:1 rules (:func:`faceaudit.audit.gate.evaluate`: pass, fail, inconclusive,
insufficient, unevaluable) against the summaries of the ``pad`` section's operating points;
``@x`` names the APCER target (BPCER at APCER ``x``). A rule at an operating point the rule of
three does not support (too few attacks of a species for the APCER target) is insufficient,
never a pass."""

from __future__ import annotations

from faceaudit.audit.gate import GateRule, evaluate, overall_verdict
from faceaudit.audit.gate_rules import FAIL, INCONCLUSIVE, INSUFFICIENT, PASS, same_number


def evaluate_pad_rules(report: dict, rules: list[GateRule]) -> dict:
    """The report's ``gate`` section for a PAD audit; a rule without ``@x`` is judged at the
    section's ``primary`` point (the given threshold, else the middle APCER target)."""
    section = report.get("pad") or {}
    points = section.get("operating_points") or []
    primary = next((p for p in points if p["label"] == section.get("primary")), None)
    view = {
        "targets": [{"target_fmr": p["apcer_target"], "summaries": p["summaries"],
                     "groups": p["groups"]} for p in points],
        "primary_target": primary["apcer_target"] if primary else None,
        "provenance": report.get("provenance") or {},
    }
    gate = evaluate(view, rules)
    for result in gate["rules"]:
        if result.get("note"):
            result["note"] = result["note"].replace("at FMR", "at APCER")
        point = next((p for p in points if same_number(p["apcer_target"],
                                                       result["target_fmr"])), None)
        result["apcer_target"] = result["target_fmr"]  # the APCER target, under both names
        if point is not None and not point["supported"] and result["status"] in (
                PASS, FAIL, INCONCLUSIVE):
            result["status"] = INSUFFICIENT
            result["note"] = (f"{result['metric']}: {point['label']} is not supported (the rule "
                              f"of three needs {point['required_attacks_per_species']:,} attack "
                              "presentations per species)")
    statuses = [r["status"] for r in gate["rules"]]
    gate["passed"] = all(s == PASS for s in statuses)
    gate["verdict"] = overall_verdict(statuses)
    return gate
