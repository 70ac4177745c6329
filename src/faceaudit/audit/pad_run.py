"""``faceaudit audit --pad-scores P.csv`` as a function: a vendor's presentation attack
detection scores in (:mod:`faceaudit.audit.pad_inputs`), the report dict (schema
``faceaudit.audit/2``) with its ``pad`` section out (:mod:`faceaudit.audit.pad_rates` computes,
:mod:`faceaudit.audit.pad_report` presents, :mod:`faceaudit.audit.pad_gate` judges)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from faceaudit.audit import report as rp
from faceaudit.audit.gate import GateRule
from faceaudit.audit.inputs import AuditInputError
from faceaudit.audit.pad_gate import evaluate_pad_rules
from faceaudit.audit.pad_inputs import PadTable
from faceaudit.audit.pad_rates import APCER_TARGETS, pad_data, pad_rates
from faceaudit.audit.pad_report import pad_section, pad_warnings
from faceaudit.audit.settings import AuditSettings
from faceaudit.base.errors import CalibrationError
from faceaudit.engine.calibration import load_calibration


@dataclass(frozen=True)
class PadOptions:
    """The PAD audit's own knobs (beside :class:`AuditSettings`' bootstrap and seed)."""

    apcer_targets: Sequence[float] = APCER_TARGETS
    higher_is_attack: bool = False  # default: a higher score is more bona fide
    pad_threshold: float | None = None  # a vendor's deployed threshold, on the input's scale
    comparison_threshold: float | None = None  # IAPMR: a match is comparison_score >= this
    comparison_lower_is_better: bool = False  # comparison scores are distances
    calibration: Path | None = None  # IAPMR threshold from a calibration at the primary FMR
    pad_system: str | None = None  # the PAD system measured, NAME:VERSION (audit/pad_system)


def comparison_threshold(options: PadOptions, settings: AuditSettings
                         ) -> tuple[float, str, list[str]]:
    """The IAPMR comparison threshold, where it comes from, and warnings: ``--comparison-
    threshold``, else ``--calibration`` at the primary target FMR, else the calibration shipped
    for the default backend at that FMR (said in a warning: a vendor's scores may not be on
    its scale)."""
    if options.comparison_threshold is not None:
        return options.comparison_threshold, "given (--comparison-threshold)", []
    if options.comparison_lower_is_better:
        raise AuditInputError("comparison scores that are distances need "
                              "--comparison-threshold (a calibration is higher-is-similar)",
                              which="--comparison-threshold")
    targets = list(settings.targets)
    fmr = targets[len(targets) // 2]
    try:
        cal = load_calibration(options.calibration)
        threshold = cal.threshold_for(fmr)
    except CalibrationError as exc:
        raise AuditInputError(f"IAPMR needs a comparison threshold: {exc}",
                              which="--comparison-threshold") from None
    if options.calibration is not None:
        return threshold, f"calibration {options.calibration} at FMR {fmr:g}", []
    source = f"calibration shipped for {cal.backend_id} at FMR {fmr:g}"
    return threshold, source, [
        f"IAPMR: no --comparison-threshold or --calibration given; the comparison threshold "
        f"{threshold:.6g} is the {source}, which fits only comparison scores on that model's "
        "scale"]


def audit_pad(table: PadTable, settings: AuditSettings, options: PadOptions, *,
              input_path: str, rules: Sequence[GateRule] = ()) -> dict:
    """The PAD audit of ``table``: the report dict with its ``pad`` section and gate."""
    start = time.perf_counter()
    data = pad_data(table, higher_is_attack=options.higher_is_attack,
                    comparison_lower_is_better=options.comparison_lower_is_better)
    if len(data.groups) < 2:
        raise AuditInputError(f"{input_path}: the PAD table has {len(data.groups)} group; an "
                              "audit compares 2+")
    warnings: list[str] = []
    threshold = source = None
    if data.comparison is not None:
        threshold, source, more = comparison_threshold(options, settings)
        warnings += more
    rates = pad_rates(data, targets=list(options.apcer_targets),
                      given_threshold=options.pad_threshold, comparison_threshold=threshold,
                      reps=settings.reps, seed=settings.seed, alpha=settings.alpha)
    section = pad_section(rates, confidence=settings.confidence,
                          min_identities=settings.min_identities, reps=settings.reps,
                          iapmr_source=source)
    warnings += pad_warnings(rates, section, settings.min_identities)
    if settings.reps == 0:
        warnings.append("no bootstrap (--bootstrap 0): PAD rates without intervals, and no "
                        "gate rule can pass")
    prov = rp.provenance(settings, input_kind="pad", input_path=input_path,
                         protocol="pad-scores", threshold_rule="attack-scores",
                         higher_is_better=None, duration_s=time.perf_counter() - start)
    prov["bootstrap_unit"] = "subject"
    prov["pad_system"] = options.pad_system  # what a policy registers the audit under
    prov["apcer_targets"] = [float(t) for t in options.apcer_targets]
    first = section["operating_points"][0]
    data_section = {
        "images": None, "templates": None, "identities": section["presentations"]["subjects"],
        "missing_labels": {"images": 0, "identities": 0, "attributes": {}}, "no_face": 0,
        "genuine_pairs": None, "impostor_pairs": None,
        "groups": [{"group": row["group"], "templates": None,
                    "identities": row["bona_fide_subjects"],
                    "bona_fide_presentations": row["bona_fide_presentations"],
                    "attack_presentations": row["attack_presentations"]}
                   for row in first["groups"]],
    }
    report = rp.build_report({"groups": list(data.groups), "targets": []}, prov, data_section,
                             warnings, [])
    report["pad"] = section
    report["gate"] = evaluate_pad_rules(report, list(rules))
    report["provenance"]["duration_s"] = round(time.perf_counter() - start, 3)
    return report
