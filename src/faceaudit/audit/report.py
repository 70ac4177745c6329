"""Assemble ``report.json`` (schema ``faceaudit.audit/2``, docs/report-schema.md) and write it
with its CSV tables and ``report.html`` into an output folder."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime
from pathlib import Path

from faceaudit import __version__
from faceaudit.audit.engine import AuditSettings
from faceaudit.audit.gate import GateRule, evaluate
from faceaudit.audit.report_tables import report_tables
from faceaudit.base.errors import InputDataError

SCHEMA = "faceaudit.audit/2"


def provenance(
    settings: AuditSettings,
    *,
    input_kind: str,
    input_path: str,
    protocol: str,
    attributes: str | None = None,
    by: list[str] | None = None,
    backend_id: str | None = None,
    model_sha256: str | None = None,
    bin_width: float | None = None,
    threshold_rule: str | None = None,
    curves: str | None = None,
    higher_is_better: bool | None = True,
    duration_s: float = 0.0,
) -> dict:
    """The report's ``provenance`` section.

    ``threshold_rule`` says where thresholds come from: ``"impostor-scores"`` (exact, scores
    tables) or ``"bin-edges"`` (templates, resolution ``bin_width``); ``curves`` whether the
    EER/DET are ``"exact"`` or ``"binned"``.
    """
    return {
        "faceaudit_version": __version__,
        "backend_id": backend_id,
        "model_sha256": model_sha256,
        "input_kind": input_kind,
        "input": input_path,
        "attributes": attributes,
        "by": list(by or []),
        "protocol": protocol,
        "created_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "seed": settings.seed,
        "bootstrap_reps": settings.reps,
        "bootstrap_unit": "identity",
        "confidence": settings.confidence,
        "alpha": settings.alpha,
        "target_fmrs": [float(t) for t in settings.targets],
        "min_identities": settings.min_identities,
        "score_bin_width": bin_width,
        "threshold_rule": threshold_rule,
        "curves": curves,
        "higher_is_better": higher_is_better,
        "duration_s": round(duration_s, 3),
    }


def primary_target(targets: list[dict]) -> float | None:
    """The middle target (1e-3 of the default 1e-2, 1e-3, 1e-4)."""
    return targets[len(targets) // 2]["target_fmr"] if targets else None


def build_report(
    sections: dict, prov: dict, data: dict, warnings: list[str], rules: list[GateRule]
) -> dict:
    """The full report dict: sections from the engine plus provenance, data, gate, warnings."""
    report = {
        "schema": SCHEMA,
        "provenance": prov,
        "data": data,
        "groups": sections["groups"],
        "targets": sections["targets"],
        "primary_target": primary_target(sections["targets"]),
        "per_group": sections.get("per_group", []),
        "det": sections.get("det"),
        "histograms": sections.get("histograms"),
        "gate": {"passed": True, "rules": []},
        "warnings": list(dict.fromkeys(warnings)),
    }
    if "operating_points" in sections:  # --operating-points
        report["operating_points"] = sections["operating_points"]
    report["gate"] = evaluate(report, rules)
    return report


def _write_csv(path: Path, header: list[str], rows: list[list]) -> None:
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)


def write_tables(report: dict, out_dir: Path) -> list[Path]:
    """Write ``thresholds.csv``, ``per_group.csv``, ``cross_fmr.csv`` and ``summaries.csv``
    (rows from :func:`faceaudit.audit.report_tables.report_tables`); return their paths."""
    paths = []
    for table in report_tables(report):
        path = out_dir / table.name
        _write_csv(path, table.header, table.rows)
        paths.append(path)
    return paths


def write_report(report: dict, out_dir: Path) -> list[Path]:
    """Write ``report.json``, the CSV tables and ``report.html``; return the paths written."""
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputDataError(f"cannot create output folder {out_dir}: {exc.strerror}") from None
    json_path = out_dir / "report.json"
    json_path.write_text(json.dumps(report, indent=1, allow_nan=False) + "\n")
    paths = [json_path, *write_tables(report, out_dir)]
    if report.get("calibration"):
        calibration_path = out_dir / "calibration.json"
        calibration_path.write_text(json.dumps(report["calibration"], indent=1) + "\n")
        paths.append(calibration_path)
    if report.get("comparison"):
        from faceaudit.audit.comparison_report import write_comparison_csv

        paths.append(write_comparison_csv(report["comparison"], out_dir))
    if report.get("pad"):
        from faceaudit.audit.pad_report import write_pad_csv

        paths.append(write_pad_csv(report["pad"], out_dir))
    from faceaudit.audit.html import write_html

    paths.append(write_html(report, out_dir))
    return paths
