"""The four audit entry points as functions: templates (dataset, LFW or embeddings Parquet),
a scores table, a rates table. Each returns the report dict (schema ``faceaudit.audit/2``)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from faceaudit.audit import report as rp
from faceaudit.audit.all_pairs import score_templates
from faceaudit.audit.comparison import PairedResamples
from faceaudit.audit.engine import AuditSettings, EngineResult, analyse_rates, analyse_scores
from faceaudit.audit.gate import GateRule
from faceaudit.audit.inputs import (
    Attributes,
    AuditInputError,
    Embeddings,
    Grouping,
    RatesTable,
    ScoresTable,
    encode_labels,
    group_templates,
)
from faceaudit.audit.quality_rates import quality_section
from faceaudit.audit.scoring import BIN_WIDTH, ScoreSet, score_table
from faceaudit.engine.calibration import from_impostor_histogram, from_points

# progress(description, total) -> advance(n) callback
ProgressFactory = Callable[[str, int], Callable[[int], None]]


def calibration_section(
    scores: ScoreSet,
    backend_id: str | None,
    source: str,
    method: str = "impostor histogram of the audit, every impostor comparison",
) -> dict:
    """The audited data's own calibration (every impostor comparison, all groups together).

    Written to ``calibration.json`` beside the report; ``faceaudit verify --calibration`` takes
    it, so a deployment can use thresholds measured on data like its own.
    """
    hist = scores.impostor_hist
    overall = (hist.sum(axis=(0, 1)) + np.einsum("aab->b", hist)) // 2  # each pair once
    if scores.fixed_thresholds is not None:  # exact thresholds at every curve level
        total = int(overall.sum())
        tail = np.r_[np.cumsum(overall[::-1])[::-1], 0]
        points = [v for (group, _), v in scores.fixed_thresholds.items() if group is None]
        at = np.searchsorted(scores.edges, points)
        return from_points(
            np.asarray(points),
            tail[at] / total,
            total,
            backend_id=backend_id or "",
            source=source,
            method="exact impostor-score thresholds of the audit, every impostor comparison",
        ).to_dict()
    edges = np.r_[scores.edges, scores.beyond]
    calibration = from_impostor_histogram(
        overall,
        edges,
        backend_id=backend_id or "",
        source=source,
        method=method,
        extra={"bin_width": BIN_WIDTH} if scores.fixed_thresholds is None else {},
    )
    return calibration.to_dict()


def _analyse(
    scores: ScoreSet, settings: AuditSettings, paired: PairedResamples | None
) -> EngineResult:
    """:func:`analyse_scores`, on ``paired``'s shared resamples when given (and kept there)."""
    if paired is None:
        return analyse_scores(scores, settings)
    result = analyse_scores(scores, settings, paired.weights(scores.unit_group))
    paired.keep(result.replicates)
    return result


def failure_to_template(
    no_face_paths: Sequence[str], attributes: Attributes, by: Sequence[str], grouping: Grouping
) -> list[dict]:
    """Per group of ``grouping``: images with no face found, and their share of the group's
    images — the failure-to-template rate (FTT).

    Detection failures are an error rate too (NIST IR 8280 reports failure-to-template rates):
    a group whose faces the detector misses more often is served worse before any comparison.
    The no-face images' identities are their folder names (``Person/image.jpg``).
    """
    failed = group_templates(
        no_face_paths, [p.split("/")[0] for p in no_face_paths], attributes, by
    )
    index = {name: g for g, name in enumerate(failed.names)}
    out = []
    for g, name in enumerate(grouping.names):
        n_failed = int((failed.codes == index[name]).sum()) if name in index else 0
        total = n_failed + int((grouping.codes == g).sum())
        out.append({"no_face": n_failed, "ftt": n_failed / total if total else None})
    return out


def ftt_warnings(groups: Sequence[dict], limit: float = 2.0) -> list[str]:
    """A warning when the detector fails ``limit`` times as often for one group as another."""
    rates = [(g["group"], g["ftt"]) for g in groups if g.get("ftt")]
    if len(rates) < 2:
        return []
    (low_name, low), (high_name, high) = (
        min(rates, key=lambda r: r[1]),
        max(rates, key=lambda r: r[1]),
    )
    if high < limit * low:
        return []
    return [
        f"no face was found in {high:.2%} of {high_name} images but {low:.2%} of {low_name} "
        f"images ({high / low:.1f}×): detection itself differs by group"
    ]


def audit_embeddings(
    emb: Embeddings,
    attributes: Attributes,
    by: Sequence[str],
    settings: AuditSettings,
    *,
    input_kind: str,
    input_path: str,
    attributes_path: str | None = None,
    rules: Sequence[GateRule] = (),
    workers: int | None = None,
    progress: ProgressFactory | None = None,
    paired: PairedResamples | None = None,
    client: Any = None,  # a dask.distributed.Client
) -> dict:
    """Audit templates exhaustively, grouped by the ``by`` attributes.

    ``paired`` shares its resampled identities with other models' audits (a comparison).
    ``client`` (a ``dask.distributed.Client``) scores the blocks on its cluster; the report
    is the same, bit for bit, apart from ``provenance.cluster`` and the durations.
    """
    start = time.perf_counter()
    if not by:
        raise AuditInputError("choose the grouping attribute(s) with --by, e.g. --by sex")
    grouping = group_templates(emb.paths, emb.identities, attributes, by)
    keep = grouping.codes >= 0
    warnings = []
    dropped = int((~keep).sum())
    ids = np.asarray(emb.identities, dtype=object)
    all_ids = set(ids.tolist())
    kept_ids = set(ids[keep].tolist())
    if dropped:
        warnings.append(
            f"{dropped} images ({len(all_ids - kept_ids)} identities entirely) have no "
            f"{'/'.join(by)} label and were left out"
        )
    if emb.no_face:
        warnings.append(f"{emb.no_face} images had no detectable face and were skipped")
    if len(grouping.names) < 2:
        raise AuditInputError(
            f"grouping by {','.join(by)} gives {len(grouping.names)} group(s); an audit needs 2+"
        )
    id_names, id_codes = np.unique(ids[keep].astype(str), return_inverse=True)
    codes = grouping.codes[keep]
    n = int(keep.sum())
    advance = progress("scoring", n * (n - 1) // 2) if progress else None
    scores = score_templates(
        emb.matrix[keep],
        id_codes,
        codes,
        grouping.names,
        workers=workers,
        progress=advance,
        pass2_progress=(lambda: progress("bootstrap counts", n * (n - 1) // 2))
        if progress
        else None,
        client=client,
    )
    result = _analyse(scores, settings, paired)
    sections = result.sections
    data = {
        "images": len(emb.paths) + emb.no_face,
        "templates": n,
        "identities": len(id_names),
        "missing_labels": {
            "images": dropped,
            "identities": len(all_ids - kept_ids),
            "attributes": grouping.missing,
        },
        "no_face": emb.no_face,
        "genuine_pairs": sections["pairs"]["genuine"],
        "impostor_pairs": sections["pairs"]["impostor"],
        "groups": [
            {
                "group": name,
                "templates": int((codes == g).sum()),
                "identities": len(np.unique(id_codes[codes == g])),
                **sections["pairs"]["groups"][name],
                **ftt,
            }
            for (g, name), ftt in zip(
                enumerate(grouping.names),
                failure_to_template(emb.no_face_paths, attributes, by, grouping),
                strict=True,
            )
        ],
    }
    warnings += ftt_warnings(data["groups"])
    prov = rp.provenance(
        settings,
        input_kind=input_kind,
        input_path=input_path,
        protocol="exhaustive",
        attributes=attributes_path,
        by=list(by),
        backend_id=emb.backend_id,
        model_sha256=emb.model_sha256,
        bin_width=BIN_WIDTH,
        threshold_rule="bin-edges",
        curves="binned",
        duration_s=time.perf_counter() - start,
    )
    prov["impostor_bootstrap"] = sections.get("impostor_bootstrap")
    if client is not None:
        from faceaudit.base.dask_cluster import cluster_provenance

        prov["cluster"] = cluster_provenance(client)
    report = rp.build_report(sections, prov, data, warnings + result.warnings, list(rules))
    report["calibration"] = calibration_section(scores, emb.backend_id, input_path)
    if emb.quality:  # image quality per group, and FNMR by quality band (docs/quality.md)
        report["quality"] = quality_section(
            {k: v[keep] for k, v in emb.quality.items()}, emb.matrix[keep], id_codes, codes,
            grouping.names, report["targets"], report["primary_target"], settings)
    return report


def audit_pairs(
    emb: Embeddings,
    attributes: Attributes,
    by: Sequence[str],
    pairs: Sequence[tuple[str, str]],
    settings: AuditSettings,
    *,
    input_kind: str,
    input_path: str,
    pairs_path: str,
    attributes_path: str | None = None,
    rules: Sequence[GateRule] = (),
) -> dict:
    """Audit only the comparisons of a pair list (e.g. LFW View-2) instead of every pair.

    Genuine or impostor comes from the templates' identities; each side's group from its
    labels. Pairs naming an image without a template (no face) or without a label are counted
    in the warnings and left out. Within-group rates use pairs whose two images share a group.
    """
    grouping = group_templates(emb.paths, emb.identities, attributes, by)
    row_of = {path: i for i, path in enumerate(emb.paths)}
    rows = [(row_of.get(a), row_of.get(b)) for a, b in pairs]
    usable = [
        (i, j)
        for i, j in rows
        if i is not None and j is not None and grouping.codes[i] >= 0 and grouping.codes[j] >= 0
    ]
    if not usable:
        raise AuditInputError(f"{pairs_path}: no pair names two labelled templates")
    a, b = (np.array(side, dtype=np.intp) for side in zip(*usable, strict=True))
    names = np.asarray(grouping.names, dtype=object)
    ids = np.asarray(emb.identities, dtype=object)
    table = ScoresTable(
        score=np.einsum("ij,ij->i", emb.matrix[a], emb.matrix[b]).astype(np.float64),
        genuine=ids[a] == ids[b],
        group_a=names[grouping.codes[a]].tolist(),
        group_b=names[grouping.codes[b]].tolist(),
        subject_a=ids[a].astype(str).tolist(),
        subject_b=ids[b].astype(str).tolist(),
    )
    report = audit_scores(table, settings, input_path=input_path, rules=rules)
    left_out = len(pairs) - len(usable)
    if left_out:
        report["warnings"].insert(
            0,
            f"{left_out} of {len(pairs)} listed pairs name an image with no template or no "
            f"{'/'.join(by)} label and were left out",
        )
    report["provenance"].update(
        input_kind=input_kind,
        protocol="pair-list",
        pairs=pairs_path,
        by=list(by),
        attributes=attributes_path,
        backend_id=emb.backend_id,
        model_sha256=emb.model_sha256,
    )
    report["calibration"]["backend_id"] = emb.backend_id or ""
    report["data"].update(images=len(emb.paths) + emb.no_face, no_face=emb.no_face)
    if emb.quality:  # image quality per group; FNMR by band over the list's genuine pairs
        labelled = grouping.codes >= 0
        _, id_codes = np.unique(ids.astype(str), return_inverse=True)
        genuine = table.genuine
        report["quality"] = quality_section(
            {k: v[labelled] for k, v in emb.quality.items()}, emb.matrix[labelled],
            id_codes[labelled], grouping.codes[labelled], grouping.names, report["targets"],
            report["primary_target"], settings,
            pairs=(_renumbered(a[genuine], labelled), _renumbered(b[genuine], labelled),
                   table.score[genuine]))
    return report


def _renumbered(rows: np.ndarray, kept: np.ndarray) -> np.ndarray:
    """Template rows as positions among the ``kept`` rows (every row given is kept)."""
    return (np.cumsum(kept) - 1)[rows]


def audit_scores(
    table: ScoresTable,
    settings: AuditSettings,
    *,
    input_path: str,
    rules: Sequence[GateRule] = (),
    higher_is_better: bool = True,
    paired: PairedResamples | None = None,
) -> dict:
    """Audit a vendor's comparison scores (one row per comparison), on any scale.

    Thresholds are exact impostor scores (see :func:`score_table`); ``higher_is_better=False``
    for distances (a comparison then matches when ``score <= threshold``). ``paired`` shares
    its resampled identities with other models' audits (a comparison).
    """
    start = time.perf_counter()
    groups, ga, gb = encode_labels(table.group_a, table.group_b)
    if len(groups) < 2:
        raise AuditInputError(f"{input_path}: the scores table has one group; an audit needs 2+")
    sa = sb = None
    if table.subject_a is not None and table.subject_b is not None:
        names, sa, sb = encode_labels(table.subject_a, table.subject_b)
        bad = table.genuine & (sa != sb)
        if bad.any():
            raise AuditInputError(
                f"{input_path}: {int(bad.sum())} genuine rows compare different subjects"
            )
        if (~table.genuine & (sa == sb)).any():
            raise AuditInputError(f"{input_path}: impostor rows compare a subject with itself")
    scores = score_table(
        table.score,
        table.genuine,
        ga,
        gb,
        groups,
        sa,
        sb,
        targets=list(settings.targets),
        higher_is_better=higher_is_better,
    )
    result = _analyse(scores, settings, paired)
    sections = result.sections
    data = {
        "images": None,
        "templates": None,
        "identities": None if sa is None else len(names),
        "missing_labels": {"images": 0, "identities": 0, "attributes": {}},
        "no_face": 0,
        "genuine_pairs": sections["pairs"]["genuine"],
        "impostor_pairs": sections["pairs"]["impostor"],
        "groups": [
            {"group": g, "templates": None, "identities": None, **sections["pairs"]["groups"][g]}
            for g in groups
        ],
    }
    prov = rp.provenance(
        settings,
        input_kind="scores",
        input_path=input_path,
        protocol="scores-table",
        bin_width=None,
        threshold_rule="impostor-scores",
        curves="exact" if scores.exact_grid else "binned",
        higher_is_better=higher_is_better,
        duration_s=time.perf_counter() - start,
    )
    prov["impostor_bootstrap"] = sections.get("impostor_bootstrap")
    report = rp.build_report(sections, prov, data, result.warnings, list(rules))
    if higher_is_better:  # a calibration curve is "higher is more similar" by definition
        report["calibration"] = calibration_section(scores, None, input_path)
    return report


def audit_rates(
    rates: RatesTable,
    settings: AuditSettings,
    *,
    input_path: str,
    rules: Sequence[GateRule] = (),
) -> dict:
    """Fairness summaries of given per-group rates (no intervals: no identities)."""
    start = time.perf_counter()
    targets = [
        analyse_rates(
            rates.groups[i],
            rates.fmr[i],
            rates.fnmr[i],
            rates.accuracy[i],
            settings,
            rates.target_fmrs[i],
        )
        for i in range(len(rates.groups))
    ]
    groups = list(dict.fromkeys(g for names in rates.groups for g in names))
    sections = {
        "groups": groups,
        "targets": targets,
        "per_group": [],
        "det": None,
        "histograms": None,
    }
    data = {
        "images": None,
        "templates": None,
        "identities": None,
        "missing_labels": {"images": 0, "identities": 0, "attributes": {}},
        "no_face": 0,
        "genuine_pairs": None,
        "impostor_pairs": None,
        "groups": [
            {
                "group": g,
                "templates": None,
                "identities": None,
                "genuine_pairs": None,
                "impostor_pairs": None,
            }
            for g in groups
        ],
    }
    run_settings = AuditSettings(
        targets=[t for t in rates.target_fmrs if t is not None],
        reps=0,
        seed=settings.seed,
        alpha=settings.alpha,
        confidence=settings.confidence,
    )
    prov = rp.provenance(
        run_settings,
        input_kind="rates",
        input_path=input_path,
        protocol="rates-table",
        duration_s=time.perf_counter() - start,
    )
    warnings = ["rates input: summaries only, without intervals (no identities to resample)"]
    return rp.build_report(sections, prov, data, warnings, list(rules))
