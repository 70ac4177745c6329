"""Audit several models on the same data in one report: templates of the same images, or score
tables of the same comparisons. The report is the first model's (the baseline: its gate, its
sections) plus a ``comparison`` section with every model's rates and summaries and each one's
difference from the baseline, on one shared draw of resampled identities (a paired bootstrap).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from faceaudit.audit.comparison import PairedResamples
from faceaudit.audit.comparison_report import comparison_section
from faceaudit.audit.engine import AuditSettings
from faceaudit.audit.gate import GateRule
from faceaudit.audit.inputs import Attributes, AuditInputError, Embeddings, ScoresTable
from faceaudit.audit.run import ProgressFactory, audit_embeddings, audit_scores


def model_names(sources: Sequence[str | Path]) -> list[str]:
    """A short name per model: the file's stem (or the backend's name), the full source when
    two stems clash; the same source twice is an error."""
    texts = [str(s) for s in sources]
    if len(set(texts)) != len(texts):
        twice = next(t for t in texts if texts.count(t) > 1)
        raise AuditInputError(f"model {twice} given twice: compare different models")
    stems = [Path(t).stem if Path(t).suffix else t for t in texts]
    return stems if len(set(stems)) == len(stems) else texts


def _examples(items: Sequence[str], n: int = 3) -> str:
    shown = ", ".join(sorted(items)[:n])
    return shown + (", …" if len(items) > n else "")


def align_embeddings(names: Sequence[str], models: Sequence[Embeddings]) -> list[Embeddings]:
    """Every model's templates in the first model's image order, after checking that all
    cover the same images with the same identities (else :class:`AuditInputError` naming
    the images that differ)."""
    base = models[0]
    order = {p: i for i, p in enumerate(base.paths)}
    out = [base]
    for name, emb in zip(names[1:], models[1:], strict=True):
        paths = set(emb.paths)
        missing = [p for p in base.paths if p not in paths]
        extra = [p for p in emb.paths if p not in order]
        if missing or extra:
            parts = []
            if missing:
                parts.append(f"{len(missing)} of {names[0]}'s images missing "
                             f"({_examples(missing)})")
            if extra:
                parts.append(f"{len(extra)} images not in {names[0]} ({_examples(extra)})")
            raise AuditInputError(
                f"{name} does not cover the same images as {names[0]}: {'; '.join(parts)}"
            )
        rows = np.array([order[p] for p in emb.paths])
        inverse = np.empty_like(rows)
        inverse[rows] = np.arange(len(rows))
        identities = [emb.identities[i] for i in inverse]
        wrong = [p for p, a, b in zip(base.paths, base.identities, identities, strict=True)
                 if a != b]
        if wrong:
            raise AuditInputError(
                f"{name} and {names[0]} name different identities for {len(wrong)} images "
                f"({_examples(wrong)})"
            )
        out.append(
            Embeddings(
                paths=list(base.paths),
                identities=identities,
                matrix=emb.matrix[inverse],
                backend_id=emb.backend_id,
                no_face_paths=emb.no_face_paths,
                model_sha256=emb.model_sha256,
            )
        )
    return out


def _column(values) -> pa.ChunkedArray:
    return values if isinstance(values, pa.ChunkedArray) else pa.chunked_array([pa.array(values)])


def check_same_comparisons(names: Sequence[str], tables: Sequence[ScoresTable]) -> None:
    """Score tables of several models must list the same comparisons row by row: the same
    genuine flag, groups and subjects on every row (only the score may differ)."""
    base = tables[0]
    for name, t in zip(names[1:], tables[1:], strict=True):
        if len(t.score) != len(base.score):
            raise AuditInputError(
                f"{name} has {len(t.score):,} comparisons and {names[0]} {len(base.score):,}: "
                "score tables compared must list the same comparisons"
            )
        if (t.subject_a is None) != (base.subject_a is None):
            raise AuditInputError(
                f"{name} and {names[0]}: only one names the subjects (subject_a, subject_b)"
            )
        columns = [("genuine", base.genuine, t.genuine)] + [
            (c, getattr(base, c), getattr(t, c))
            for c in ("group_a", "group_b", "subject_a", "subject_b")
            if getattr(base, c) is not None
        ]
        for column, a, b in columns:
            if column == "genuine":
                differ = np.flatnonzero(np.asarray(a) != np.asarray(b))
            else:
                same = pc.equal(_column(a), _column(b)).to_numpy(zero_copy_only=False)
                differ = np.flatnonzero(~same)
            if differ.size:
                raise AuditInputError(
                    f"{name} and {names[0]} differ in {column!r} on {differ.size:,} rows "
                    f"(first: data row {differ[0] + 1}); score tables compared must list the "
                    "same comparisons in the same order"
                )


def _combine(
    names: Sequence[str],
    reports: list[dict],
    paired: PairedResamples,
    confidence: float,
    no_interval: str | None = None,
) -> dict:
    """The first model's report with the ``comparison`` section and every model's warnings."""
    report = reports[0]
    report["comparison"] = comparison_section(
        names, reports, None if no_interval else paired.replicates, confidence
    )
    if no_interval:
        report["comparison"]["note"] = no_interval
    for name, other in zip(names[1:], reports[1:], strict=True):
        report["warnings"] += [f"{name}: {w}" for w in other["warnings"]]
    return report


NO_BOOTSTRAP = "no bootstrap (--bootstrap 0): differences have no interval"


def audit_models_embeddings(
    names: Sequence[str],
    models: Sequence[Embeddings],
    attributes: Attributes,
    by: Sequence[str],
    settings: AuditSettings,
    *,
    input_kind: str,
    input_paths: Sequence[str],
    attributes_path: str | None = None,
    rules: Sequence[GateRule] = (),
    workers: int | None = None,
    progress: ProgressFactory | None = None,
    client: object | None = None,
) -> dict:
    """Audit the templates of several models of the same images; one report, the first
    model's, with a ``comparison`` section (paired intervals). ``client``: score on a Dask
    cluster (:func:`faceaudit.audit.run.audit_embeddings`)."""
    aligned = align_embeddings(names, models)
    paired = PairedResamples(settings.reps, settings.seed)
    reports = []
    for emb, path in zip(aligned, input_paths, strict=True):
        reports.append(
            audit_embeddings(
                emb, attributes, by, settings,
                input_kind=input_kind, input_path=path, attributes_path=attributes_path,
                rules=rules, workers=workers, progress=progress, paired=paired,
                client=client,
            )
        )
    return _combine(names, reports, paired, settings.confidence,
                    NO_BOOTSTRAP if settings.reps < 1 else None)


def audit_models_scores(
    names: Sequence[str],
    tables: Sequence[ScoresTable],
    settings: AuditSettings,
    *,
    input_paths: Sequence[str],
    rules: Sequence[GateRule] = (),
    higher_is_better: bool = True,
) -> dict:
    """Audit several models' score tables of the same comparisons; one report, the first
    model's, with a ``comparison`` section (paired intervals when subjects are named)."""
    check_same_comparisons(names, tables)
    paired = PairedResamples(settings.reps, settings.seed)
    reports = [
        audit_scores(t, settings, input_path=path, rules=rules,
                     higher_is_better=higher_is_better, paired=paired)
        for t, path in zip(tables, input_paths, strict=True)
    ]
    no_interval = NO_BOOTSTRAP if settings.reps < 1 else None
    if tables[0].subject_a is None:
        no_interval = "the score tables name no subjects: no identities to resample, so "
        no_interval += "differences have no interval"
    return _combine(names, reports, paired, settings.confidence, no_interval)
