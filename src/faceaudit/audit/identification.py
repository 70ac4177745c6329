"""The 1:N identification audit, computed: repeated enrolled / non-enrolled splits searched
through the gallery's own exact 1:N search, counted per probe identity.

Arrays in, arrays out. Each repeat splits the identities (seeded) into enrolled and
non-enrolled; every enrolled identity contributes one gallery template (``"one"``: a random
image of it; the rest are its mated probes) or all of its images but one (``"all"``: one random
image held out as its mated probe; an identity with a single image is enrolled without a
probe). Every image of a non-enrolled identity is a non-mated probe. All probes of a repeat
are searched as one matrix product (:func:`faceaudit.gallery.template_search.score_matrix` and
:func:`~faceaudit.gallery.template_search.top_k_rows`, the steps ``TemplateSearch`` runs per query),
subjects ranked by their best template.

At each threshold ``t`` with candidate list length ``R``:

* a non-mated search is a **false positive** when its best subject scores ``>= t`` (then
  every candidate in its top ``R`` at or above ``t`` is a **false candidate**, an innocent
  person returned as a lead);
* a mated search is a **miss** when its mate is not among the top ``R`` subjects scoring
  ``>= t``; a **rank-1 hit** when the mate is the top subject and scores ``>= t``.

Counts are kept per *unit* (an identity within a probe group) summed over the repeats, so that
the presenting layer can pool them (rate = errors / searches) and resample identities for
intervals (:func:`faceaudit.audit.bootstrap.bootstrap_rates`). Gallery sizes below the audited
one are measured by searching non-mated probes against a random subset of the enrolled
subjects; the per-subject 1:1 false match rate of non-mated probes (``impostor_hits /
impostor_comparisons``) feeds the prediction ``1 − (1 − FMR)^N``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from faceaudit.base.errors import InputDataError
from faceaudit.gallery.template_search import score_matrix, top_k_rows

GALLERY_TEMPLATES = ("one", "all")
CHUNK = 4096  # probes scored at once (bounds the score matrix to CHUNK × gallery floats)


@dataclass(frozen=True)
class SplitSettings:
    """How the identification audit is run: thresholds, candidate list length, splits."""

    thresholds: Sequence[float]
    candidates: int = 10
    repeats: int = 20
    enrol_share: float = 0.5
    gallery_templates: str = "one"
    gallery_sizes: Sequence[int] = ()
    seed: int = 0

    def check(self) -> None:
        """Raise :class:`InputDataError` for settings no audit can run with."""
        if not self.thresholds:
            raise InputDataError("the identification audit needs at least one threshold")
        if self.candidates < 1:
            raise InputDataError(f"candidate list length must be at least 1, not {self.candidates}")
        if self.repeats < 1:
            raise InputDataError(f"repeats must be at least 1, not {self.repeats}")
        if not 0.0 < self.enrol_share < 1.0:
            raise InputDataError(f"enrolled share must lie in (0, 1), not {self.enrol_share}")
        if self.gallery_templates not in GALLERY_TEMPLATES:
            raise InputDataError(
                f"gallery templates must be one of {', '.join(GALLERY_TEMPLATES)}, "
                f"not {self.gallery_templates!r}"
            )
        if any(int(n) < 1 for n in self.gallery_sizes):
            raise InputDataError("gallery sizes must be positive")


@dataclass
class IdentificationCounts:
    """Per-unit counts summed over the repeats (``T`` thresholds, ``U`` units, ``G`` groups,
    ``S`` measured gallery sizes).

    ``unit_group``/``unit_identity`` name each unit; ``gallery_size`` is the number of
    subjects enrolled per repeat (the audited size); ``sizes`` the smaller gallery sizes
    measured by subsampling.
    """

    groups: list[str]
    unit_group: np.ndarray  # (U,)
    unit_identity: np.ndarray  # (U,) identity code
    thresholds: np.ndarray  # (T,)
    candidates: int
    repeats: int
    gallery_size: int
    gallery_templates: int  # templates per repeat
    non_mated: np.ndarray  # (U,) non-mated searches
    false_positive: np.ndarray  # (T, U)
    mated: np.ndarray  # (U,) mated searches
    miss: np.ndarray  # (T, U)
    rank1_hit: np.ndarray  # (T, U)
    cross_positive: np.ndarray  # (T, U, G): non-mated searches with ≥ 1 candidate of group g
    false_candidates: np.ndarray  # (T, G, G): probe group × candidate group, candidates
    impostor_comparisons: np.ndarray  # (U,) non-mated probe × enrolled subject comparisons
    impostor_hits: np.ndarray  # (T, U) of those scoring >= threshold
    sizes: np.ndarray  # (S,)
    size_false_positive: np.ndarray  # (S, T, U)

    @property
    def enrolled_identities(self) -> int:
        """Identities enrolled per repeat (the audited gallery size, in subjects)."""
        return self.gallery_size


def _split(
    rng: np.random.Generator,
    identity_rows: list[np.ndarray],
    n_enrolled: int,
    all_templates: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One repeat: (gallery rows, gallery subject of each, mated probe rows, their subject,
    non-mated probe rows). Subjects are numbered 0..n_enrolled-1, gallery rows sorted by
    subject."""
    order = rng.permutation(len(identity_rows))
    gallery, gallery_subject, mated, mated_subject = [], [], [], []
    for subject, ident in enumerate(order[:n_enrolled]):
        rows = identity_rows[ident]
        pick = int(rng.integers(len(rows)))
        if all_templates and len(rows) > 1:
            enrol, probes = np.delete(rows, pick), rows[pick : pick + 1]
        else:
            enrol, probes = rows[pick : pick + 1], np.delete(rows, pick)
        gallery.append(enrol)
        gallery_subject.append(np.full(len(enrol), subject))
        mated.append(probes)
        mated_subject.append(np.full(len(probes), subject))
    non_mated = [identity_rows[i] for i in order[n_enrolled:]]
    cat = np.concatenate
    return (
        cat(gallery),
        cat(gallery_subject),
        cat(mated).astype(np.intp),
        cat(mated_subject).astype(np.intp),
        cat(non_mated).astype(np.intp),
    )


def run_identification(
    matrix: np.ndarray,
    identities: np.ndarray,
    group_codes: np.ndarray,
    groups: Sequence[str],
    settings: SplitSettings,
    progress: Callable[[int], None] | None = None,
) -> IdentificationCounts:
    """Run the repeated splits over templates ``matrix`` (``(n, d)``, scores are inner
    products), identity codes and group codes (``>= 0``) of each row.

    ``progress(1)`` is called after each repeat. Raises :class:`InputDataError` when the data
    cannot form a gallery and probes of both kinds.
    """
    settings.check()
    matrix = np.asarray(matrix, dtype=np.float32)
    identities = np.asarray(identities)
    group_codes = np.asarray(group_codes, dtype=np.intp)
    G, T, R = len(groups), len(settings.thresholds), int(settings.candidates)
    thresholds = np.asarray(settings.thresholds, dtype=np.float64)
    id_names, id_codes = np.unique(identities, return_inverse=True)
    if len(id_names) < 2:
        raise InputDataError("the identification audit needs at least two identities")
    n_enrolled = int(round(settings.enrol_share * len(id_names)))
    n_enrolled = min(max(n_enrolled, 1), len(id_names) - 1)
    # units: (identity, probe group)
    unit_key = id_codes * G + group_codes
    unit_keys, unit_of_row = np.unique(unit_key, return_inverse=True)
    U = len(unit_keys)
    unit_group = unit_keys % G
    order = np.argsort(id_codes, kind="stable")
    starts = np.searchsorted(id_codes[order], np.arange(len(id_names)))
    identity_rows = np.split(order, starts[1:])
    sizes = np.array(sorted({int(n) for n in settings.gallery_sizes if int(n) < n_enrolled}),
                     dtype=np.int64)
    counts = IdentificationCounts(
        groups=list(groups),
        unit_group=unit_group,
        unit_identity=unit_keys // G,
        thresholds=thresholds,
        candidates=R,
        repeats=settings.repeats,
        gallery_size=n_enrolled,
        gallery_templates=0,
        non_mated=np.zeros(U, np.int64),
        false_positive=np.zeros((T, U), np.int64),
        mated=np.zeros(U, np.int64),
        miss=np.zeros((T, U), np.int64),
        rank1_hit=np.zeros((T, U), np.int64),
        cross_positive=np.zeros((T, U, G), np.int64),
        false_candidates=np.zeros((T, G, G), np.int64),
        impostor_comparisons=np.zeros(U, np.int64),
        impostor_hits=np.zeros((T, U), np.int64),
        sizes=sizes,
        size_false_positive=np.zeros((len(sizes), T, U), np.int64),
    )
    rng = np.random.default_rng(settings.seed)
    templates = 0
    for _ in range(settings.repeats):
        gallery, subject_of, mated, mate, non_mated = _split(
            rng, identity_rows, n_enrolled, settings.gallery_templates == "all"
        )
        templates += len(gallery)
        subject_starts = np.flatnonzero(np.r_[True, np.diff(subject_of) != 0])
        subject_group = group_codes[gallery[subject_starts]]
        subsets = [rng.choice(n_enrolled, size=int(n), replace=False) for n in sizes]
        for lo in range(0, len(non_mated), CHUNK):
            rows = non_mated[lo : lo + CHUNK]
            _count_non_mated(counts, matrix, rows, unit_of_row[rows], gallery, subject_starts,
                             subject_group, subsets)
        for lo in range(0, len(mated), CHUNK):
            rows = mated[lo : lo + CHUNK]
            _count_mated(counts, matrix, rows, unit_of_row[rows], mate[lo : lo + CHUNK],
                         gallery, subject_starts)
        if progress is not None:
            progress(1)
    counts.gallery_templates = templates // settings.repeats
    if counts.non_mated.sum() == 0:
        raise InputDataError("no non-mated probes: every identity was enrolled")
    return counts


def _count_non_mated(
    counts: IdentificationCounts,
    matrix: np.ndarray,
    rows: np.ndarray,
    units: np.ndarray,
    gallery: np.ndarray,
    subject_starts: np.ndarray,
    subject_group: np.ndarray,
    subsets: list[np.ndarray],
) -> None:
    """Search non-mated probes ``rows``; add false positives, false candidates and the 1:1
    impostor counts of their units."""
    G = len(counts.groups)
    scores = score_matrix(matrix[gallery], matrix[rows], subject_starts)
    cand, cand_scores = top_k_rows(scores, counts.candidates, counts.thresholds.min())
    n_units = len(counts.non_mated)
    counts.non_mated += np.bincount(units, minlength=n_units)
    counts.impostor_comparisons += np.bincount(units, minlength=n_units) * scores.shape[1]
    probe_group = counts.unit_group[units]
    cand_group = subject_group[cand]
    subset_best = [scores[:, subset].max(axis=1) for subset in subsets]
    hits = hits_at(scores, counts.thresholds)  # (T, Q): one pass however many thresholds
    for t, threshold in enumerate(counts.thresholds):
        above = cand_scores >= threshold  # (Q, R): false candidates
        counts.false_positive[t] += np.bincount(units, weights=above[:, 0], minlength=n_units
                                                ).astype(np.int64)
        counts.impostor_hits[t] += np.bincount(units, weights=hits[t], minlength=n_units
                                               ).astype(np.int64)
        np.add.at(counts.false_candidates[t], (np.broadcast_to(probe_group[:, None], cand.shape)
                                               [above], cand_group[above]), 1)
        for g in range(G):
            any_g = (above & (cand_group == g)).any(axis=1)
            counts.cross_positive[t, :, g] += np.bincount(units, weights=any_g,
                                                          minlength=n_units).astype(np.int64)
        for s, best in enumerate(subset_best):
            counts.size_false_positive[s, t] += np.bincount(
                units, weights=best >= threshold, minlength=n_units
            ).astype(np.int64)


def hits_at(scores: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """``(T, Q)``: how many of each row's ``scores`` are ``>=`` each of ``thresholds``, in
    one pass over the matrix (the ``--operating-points`` grid adds dozens of thresholds)."""
    thresholds = np.asarray(thresholds, dtype=np.float64)
    Q, T = scores.shape[0], len(thresholds)
    order = np.argsort(thresholds, kind="stable")
    rows, cols = np.nonzero(scores >= thresholds.min())
    # level: how many thresholds (ascending) the score reaches, 1..T here
    level = np.searchsorted(thresholds[order], scores[rows, cols].astype(np.float64),
                            side="right")
    per = np.zeros((Q, T + 1), np.int64)
    np.add.at(per, (rows, level), 1)
    reached = per[:, ::-1].cumsum(axis=1)[:, ::-1]  # reached[:, j]: level >= j
    out = np.empty((T, Q), np.int64)
    out[order] = reached[:, 1:].T
    return out


def _count_mated(
    counts: IdentificationCounts,
    matrix: np.ndarray,
    rows: np.ndarray,
    units: np.ndarray,
    mate: np.ndarray,
    gallery: np.ndarray,
    subject_starts: np.ndarray,
) -> None:
    """Search mated probes ``rows`` (their mates' subject numbers ``mate``); add searches,
    misses and rank-1 hits of their units."""
    scores = score_matrix(matrix[gallery], matrix[rows], subject_starts)
    cand, cand_scores = top_k_rows(scores, counts.candidates, counts.thresholds.min())
    n_units = len(counts.mated)
    counts.mated += np.bincount(units, minlength=n_units)
    is_mate = cand == mate[:, None]
    for t, threshold in enumerate(counts.thresholds):
        found = (is_mate & (cand_scores >= threshold)).any(axis=1)
        counts.miss[t] += np.bincount(units, weights=~found, minlength=n_units).astype(np.int64)
        first = is_mate[:, 0] & (cand_scores[:, 0] >= threshold)
        counts.rank1_hit[t] += np.bincount(units, weights=first, minlength=n_units
                                           ).astype(np.int64)


def predicted_fpir(fmr: np.ndarray, gallery_size: int | np.ndarray) -> np.ndarray:
    """FPIR predicted from a per-comparison false match rate for a gallery of ``gallery_size``
    subjects, assuming the comparisons of one search are independent: ``1 − (1 − FMR)^N``."""
    fmr = np.asarray(fmr, dtype=np.float64)
    return -np.expm1(np.asarray(gallery_size, dtype=np.float64) * np.log1p(-fmr))
