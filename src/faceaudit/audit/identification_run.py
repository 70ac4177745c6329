"""``faceaudit audit --mode identification`` as a function: templates (dataset, LFW or
embeddings Parquet) in, the report dict (schema ``faceaudit.audit/2``) with its
``identification`` section out.

Operating points: each target FMR's threshold comes from the backend's calibration (the one the
deployment uses: shipped with the package, or ``--calibration``), else from a sample of the
audited data's own impostor comparisons, said in ``threshold_source``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from faceaudit.audit import report as rp
from faceaudit.audit.engine import AuditSettings
from faceaudit.audit.gate import GateRule
from faceaudit.audit.identification import SplitSettings, run_identification
from faceaudit.audit.identification_gate import evaluate_identification_rules
from faceaudit.audit.identification_grid import grid_levels
from faceaudit.audit.identification_report import identification_section
from faceaudit.audit.inputs import Attributes, AuditInputError, Embeddings, group_templates
from faceaudit.audit.quality_rates import distribution_section
from faceaudit.audit.run import ProgressFactory, failure_to_template
from faceaudit.base.errors import CalibrationError
from faceaudit.engine.calibration import load_calibration

IMPOSTOR_SAMPLE = 2_000_000  # cross-identity pairs drawn when no calibration applies


def threshold_rule(emb: Embeddings, calibration: Path | None, seed: int
                   ) -> tuple[Callable[[float], float | str], str]:
    """``(threshold_of, source)``: ``threshold_of(fmr)`` is the threshold for a target FMR
    (the backend's calibration, else the audited data's own impostor sample), or a sentence
    saying why the target is left out."""
    cal = None
    if calibration is not None or emb.backend_id:
        try:
            cal = load_calibration(calibration, backend_id=emb.backend_id or "dlib-resnet:1")
        except CalibrationError:
            if calibration is not None:
                raise  # a file the user named must be usable
    if cal is not None:
        chosen = cal
        source = f"calibration {calibration}" if calibration is not None else (
            f"calibration shipped for {cal.backend_id} ({cal.n_impostor:,} impostor comparisons)")

        def calibrated(target: float) -> float | str:
            try:
                return chosen.threshold_for(target)
            except CalibrationError as exc:
                return str(exc)

        return calibrated, source
    scores = np.sort(_impostor_sample(emb, seed))[::-1]
    source = (f"the audited data's own impostor scores ({len(scores):,} sampled cross-identity "
              "pairs): no calibration applies to this backend")

    def sampled(target: float) -> float | str:
        if target * len(scores) < 3:
            return (f"{len(scores):,} sampled impostor pairs cannot support it (rule of "
                    "three)")
        k = int(np.floor(target * len(scores)))  # at most k impostors at or above threshold
        return float(np.nextafter(scores[k], np.inf)) if k < len(scores) else float(scores[-1])

    return sampled, source


def operating_points(
    targets: Sequence[float],
    emb: Embeddings,
    calibration: Path | None,
    seed: int,
) -> tuple[list[dict], list[str]]:
    """``{"target_fmr", "threshold", "threshold_source"}`` per target the thresholds support,
    and warnings for the targets left out."""
    threshold_of, source = threshold_rule(emb, calibration, seed)
    points, warnings = [], []
    for target in targets:
        threshold = threshold_of(target)
        if isinstance(threshold, str):
            warnings.append(f"identification at FMR {target:g} left out: {threshold}")
            continue
        points.append({"target_fmr": float(target), "threshold": threshold,
                       "threshold_source": source})
    return points, warnings


def grid_thresholds(targets: Sequence[float], threshold_of: Callable[[float], float | str],
                    gallery_size: int) -> dict[float, dict[float, float]]:
    """Per target FPIR, the worst-group grid's thresholds and the 1:1 FMR level each is the
    threshold of (:func:`faceaudit.audit.identification_grid.grid_levels`); levels the
    thresholds cannot reach are left out."""
    out: dict[float, dict[float, float]] = {}
    for target in targets:
        chosen: dict[float, float] = {}
        for level in grid_levels(float(target), gallery_size):
            threshold = threshold_of(level)
            if not isinstance(threshold, str):
                chosen.setdefault(float(threshold), level)
        out[float(target)] = chosen
    return out


def _impostor_sample(emb: Embeddings, seed: int) -> np.ndarray:
    """Scores of up to :data:`IMPOSTOR_SAMPLE` random cross-identity pairs (all when fewer)."""
    n = len(emb.paths)
    ids = np.asarray(emb.identities)
    if n * (n - 1) // 2 <= IMPOSTOR_SAMPLE:
        a, b = np.triu_indices(n, 1)
    else:
        rng = np.random.default_rng(seed)
        a = rng.integers(0, n, IMPOSTOR_SAMPLE)
        b = rng.integers(0, n, IMPOSTOR_SAMPLE)
    keep = ids[a] != ids[b]
    a, b = a[keep], b[keep]
    m = np.asarray(emb.matrix, dtype=np.float32)
    return np.einsum("ij,ij->i", m[a], m[b]).astype(np.float64)


def audit_identification(
    emb: Embeddings,
    attributes: Attributes,
    by: Sequence[str],
    settings: AuditSettings,
    *,
    candidates: int,
    repeats: int,
    gallery_templates: str,
    gallery_sizes: Sequence[int],
    input_kind: str,
    input_path: str,
    attributes_path: str | None = None,
    calibration: Path | None = None,
    rules: Sequence[GateRule] = (),
    progress: ProgressFactory | None = None,
    enrol_share: float = 0.5,
) -> dict:
    """The identification audit of ``emb`` grouped by ``by``: the report dict."""
    start = time.perf_counter()
    if not by:
        raise AuditInputError("choose the grouping attribute(s) with --by, e.g. --by sex")
    grouping = group_templates(emb.paths, emb.identities, attributes, by)
    if len(grouping.names) < 2:
        raise AuditInputError(
            f"grouping by {','.join(by)} gives {len(grouping.names)} group(s); an audit needs 2+"
        )
    keep = grouping.codes >= 0
    ids = np.asarray(emb.identities, dtype=object)
    warnings: list[str] = []
    dropped = int((~keep).sum())
    if dropped:
        lost = len(set(ids.tolist()) - set(ids[keep].tolist()))
        warnings.append(f"{dropped} images ({lost} identities entirely) have no "
                        f"{'/'.join(by)} label and were left out")
    if emb.no_face:
        warnings.append(f"{emb.no_face} images had no detectable face and were skipped")
    points, point_warnings = operating_points(settings.targets, emb, calibration, settings.seed)
    warnings += point_warnings
    if not points:
        raise AuditInputError("no target FMR can be turned into a threshold for these data")
    thresholds = [p["threshold"] for p in points]
    grid: dict[float, dict[int, float]] | None = None
    if settings.operating_points:  # the worst-group grid's thresholds follow the points'
        n_ids = len(set(ids[keep].tolist()))
        by_target = grid_thresholds(settings.targets, threshold_rule(emb, calibration,
                                                                     settings.seed)[0],
                                    max(1, round(enrol_share * n_ids)))
        grid = {}
        for target, levels in by_target.items():
            grid[target] = {}
            for threshold, level in levels.items():
                grid[target][len(thresholds)] = level
                thresholds.append(threshold)
    split = SplitSettings(
        thresholds=thresholds,
        candidates=candidates,
        repeats=repeats,
        enrol_share=enrol_share,
        gallery_templates=gallery_templates,
        gallery_sizes=list(gallery_sizes),
        seed=settings.seed,
    )
    split.check()
    advance = progress("identification searches", repeats) if progress else None
    counts = run_identification(
        emb.matrix[keep], ids[keep].astype(str), grouping.codes[keep], grouping.names, split,
        progress=advance,
    )
    section = identification_section(
        counts, points, requested_sizes=gallery_sizes, gallery_templates=gallery_templates,
        enrol_share=enrol_share, seed=settings.seed, reps=settings.reps,
        confidence=settings.confidence, min_identities=settings.min_identities,
        alpha=settings.alpha, worst_group=grid,
    )
    too_big = [n for n in gallery_sizes if n > counts.gallery_size]
    if too_big:
        warnings.append(
            f"gallery size(s) {', '.join(f'{n:,}' for n in too_big)} exceed the "
            f"{counts.gallery_size:,} subjects these data can enrol: FPIR there is predicted "
            "(assuming independent comparisons), not measured"
        )
    codes, id_kept = grouping.codes[keep], ids[keep]
    data = {
        "images": len(emb.paths) + emb.no_face,
        "templates": int(keep.sum()),
        "identities": len(set(id_kept.tolist())),
        "missing_labels": {"images": dropped,
                           "identities": len(set(ids.tolist()) - set(id_kept.tolist())),
                           "attributes": grouping.missing},
        "no_face": emb.no_face,
        "genuine_pairs": None,
        "impostor_pairs": None,
        "groups": [
            {"group": name, "templates": int((codes == g).sum()),
             "identities": len(set(id_kept[codes == g].tolist())), **ftt}
            for (g, name), ftt in zip(
                enumerate(grouping.names),
                failure_to_template(emb.no_face_paths, attributes, by, grouping),
                strict=True,
            )
        ],
    }
    prov = rp.provenance(
        settings,
        input_kind=input_kind,
        input_path=input_path,
        protocol="identification",
        attributes=attributes_path,
        by=list(by),
        backend_id=emb.backend_id,
        model_sha256=emb.model_sha256,
        threshold_rule="calibration",
        duration_s=time.perf_counter() - start,
    )
    sections = {"groups": list(grouping.names), "targets": []}
    report = rp.build_report(sections, prov, data, warnings, [])
    report["identification"] = section
    if emb.quality:  # the templates' quality per group (docs/quality.md); no rates by band
        report["quality"] = distribution_section(
            {k: v[keep] for k, v in emb.quality.items()}, codes, grouping.names,
            note="identification audit: FNIR and FPIR by quality band are not computed")
    report["gate"] = evaluate_identification_rules(report, list(rules))
    report["provenance"]["duration_s"] = round(time.perf_counter() - start, 3)
    return report
