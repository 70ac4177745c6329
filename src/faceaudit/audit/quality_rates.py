"""Image quality in the audit: per group, the quality of its templates and FNMR by quality band.

A group's higher error rate can come from its photos (smaller, darker, blurrier faces) or from
the model. This section lets a reader tell which: per group the distribution (median and
quartiles) of each quality component of docs/quality.md, and the FNMR at the audit's primary
threshold within quality bands — tertiles of a component over *all* templates, so the bands
are the same for every group. A genuine pair is in the band of its worse image (a comparison is
as good as its poorer photo). If one group's FNMR is higher within every band, its photos do not
explain it.

Arrays in, plain data out (report ``quality`` section, docs/report-schema.md); intervals as
every per-group rate's (:func:`faceaudit.audit.estimates.rate_estimate`, identities resampled
within the group).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from faceaudit.audit.estimates import clean, rate_estimate
from faceaudit.audit.settings import AuditSettings

#: the components whose tertiles make the bands FNMR is given in
BAND_COMPONENTS: tuple[str, ...] = ("inter_eye_distance_px", "sharpness")
BAND_NAMES: tuple[str, ...] = ("low", "mid", "high")
BAND_RULE = ("tertiles of the component over all templates; a genuine pair is in the band of "
             "its worse image")


def quartiles(values: np.ndarray) -> dict[str, float | int | None]:
    """``{"q1", "median", "q3", "measured"}`` of the finite values (None where there are none)."""
    finite = np.asarray(values, dtype=np.float64)
    finite = finite[np.isfinite(finite)]
    if finite.size == 0:
        return {"q1": None, "median": None, "q3": None, "measured": 0}
    q1, median, q3 = np.quantile(finite, [0.25, 0.5, 0.75])
    return {"q1": clean(float(q1)), "median": clean(float(median)), "q3": clean(float(q3)),
            "measured": int(finite.size)}


def quality_distribution(quality: Mapping[str, np.ndarray], codes: np.ndarray,
                         names: Sequence[str]) -> list[dict[str, Any]]:
    """Per group (``codes`` index ``names``): its templates and each component's quartiles."""
    return [
        {"group": name, "templates": int((codes == g).sum()),
         "components": {comp: quartiles(values[codes == g]) for comp, values in quality.items()}}
        for g, name in enumerate(names)
    ]


def tertile_edges(values: np.ndarray) -> list[float] | None:
    """The 1/3 and 2/3 quantiles of the finite values (None when fewer than 3)."""
    finite = np.asarray(values, dtype=np.float64)
    finite = finite[np.isfinite(finite)]
    if finite.size < 3:
        return None
    return [float(v) for v in np.quantile(finite, [1 / 3, 2 / 3])]


def band_of(values: np.ndarray, edges: Sequence[float]) -> np.ndarray:
    """Each value's band: 0 (below the first edge), 1, or 2 (at or above the second); −1 for a
    value that is not finite."""
    values = np.asarray(values, dtype=np.float64)
    bands = np.searchsorted(np.asarray(edges, dtype=np.float64), values, side="right")
    return np.where(np.isfinite(values), bands, -1).astype(np.int64)


def genuine_pairs(matrix: np.ndarray, id_codes: np.ndarray) -> tuple[np.ndarray, np.ndarray,
                                                                      np.ndarray]:
    """Every genuine pair (i < j, same identity) of the templates: (i, j, score)."""
    order = np.argsort(id_codes, kind="stable")
    sorted_ids = id_codes[order]
    starts = np.flatnonzero(np.r_[True, sorted_ids[1:] != sorted_ids[:-1]])
    ends = np.r_[starts[1:], len(order)]
    firsts, seconds, scores = [], [], []
    for start, end in zip(starts, ends, strict=True):
        if end - start < 2:
            continue
        members = order[start:end]
        a, b = np.triu_indices(len(members), k=1)
        firsts.append(members[a])
        seconds.append(members[b])
        block = matrix[members]
        scores.append(np.einsum("ij,ij->i", block[a], block[b]))
    if not firsts:
        empty = np.zeros(0, np.int64)
        return empty, empty, np.zeros(0, np.float64)
    return (np.concatenate(firsts), np.concatenate(seconds),
            np.concatenate(scores).astype(np.float64))


def _identity_weights(identities: np.ndarray, reps: int,
                      rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The distinct identities and, per bootstrap replicate, how often each was drawn."""
    distinct = np.unique(identities)
    m = len(distinct)
    if m == 0 or reps <= 0:
        return distinct, np.zeros((0, m))
    draws = rng.integers(0, m, size=(reps, m))
    weights = np.zeros((reps, m))
    np.add.at(weights, (np.repeat(np.arange(reps), m), draws.ravel()), 1.0)
    return distinct, weights


def fnmr_by_band(
    quality: Mapping[str, np.ndarray],
    matrix: np.ndarray,
    id_codes: np.ndarray,
    codes: np.ndarray,
    names: Sequence[str],
    threshold: float,
    settings: AuditSettings,
    *,
    higher_is_better: bool = True,
    pairs: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> list[dict[str, Any]]:
    """FNMR at ``threshold`` per band of each of :data:`BAND_COMPONENTS` and per group.

    A genuine pair is a false non-match when its score is below ``threshold`` (above it when
    lower scores are better), as everywhere in the audit. ``pairs`` — (first, second, score)
    of the genuine comparisons — defaults to every genuine pair of the templates
    (:func:`genuine_pairs`); a pair-list audit gives its own. Tertile edges are over every
    template whose ``codes`` is a group (≥ 0). One entry per component with its tertile
    ``edges`` and, per band, the ``range`` of the component and each group's FNMR estimate
    (errors, comparisons, identities, interval).
    """
    first, second, scores = genuine_pairs(matrix, id_codes) if pairs is None else pairs
    miss = scores < threshold if higher_is_better else scores > threshold
    group_of_pair = codes[first]
    rng = np.random.default_rng(settings.seed)
    weights = {g: _identity_weights(id_codes[first][group_of_pair == g], settings.reps, rng)
               for g in range(len(names))}
    out = []
    for comp in BAND_COMPONENTS:
        if comp not in quality:
            continue
        edges = tertile_edges(quality[comp][codes >= 0])
        if edges is None:
            continue
        band = band_of(quality[comp], edges)
        pair_band = np.minimum(band[first], band[second])
        pair_band = np.where((band[first] < 0) | (band[second] < 0), -1, pair_band)
        bounds = [None, *edges, None]
        bands = []
        for b, label in enumerate(BAND_NAMES):
            groups = []
            for g, name in enumerate(names):
                here = (group_of_pair == g) & (pair_band == b)
                groups.append({"group": name, "fnmr": _band_rate(
                    id_codes[first][here], miss[here], weights[g], settings)})
            bands.append({"band": label, "range": [bounds[b], bounds[b + 1]], "groups": groups})
        out.append({"component": comp, "edges": edges, "bands": bands})
    return out


def _band_rate(identities: np.ndarray, miss: np.ndarray,
               weights: tuple[np.ndarray, np.ndarray], settings: AuditSettings) -> dict:
    """One group's FNMR in one band, with its identity-bootstrap interval."""
    comparisons, errors = int(miss.size), int(miss.sum())
    distinct, draws = weights
    present = np.unique(identities)
    value = errors / comparisons if comparisons else None
    replicates = None
    if comparisons and draws.size:
        where = np.searchsorted(distinct, identities)
        pairs = np.bincount(where, minlength=len(distinct)).astype(np.float64)
        misses = np.bincount(where, weights=miss.astype(np.float64), minlength=len(distinct))
        with np.errstate(invalid="ignore", divide="ignore"):
            replicates = (draws @ misses) / (draws @ pairs)
        replicates[~np.isfinite(replicates)] = np.nan
    return rate_estimate(value, replicates, errors=errors, comparisons=comparisons,
                         identities=len(present), confidence=settings.confidence,
                         min_identities=settings.min_identities,
                         note="no genuine pair of this group in this band")


def distribution_section(quality: Mapping[str, np.ndarray], codes: np.ndarray,
                         names: Sequence[str], note: str | None = None) -> dict[str, Any]:
    """The ``quality`` section without rates by band (``fnmr_by_band`` empty; ``note`` says
    why, when given): the components and the per-group distribution."""
    section: dict[str, Any] = {
        "components": list(quality),
        "distribution": quality_distribution(quality, codes, names),
        "band_rule": BAND_RULE,
        "target_fmr": None,
        "threshold": None,
        "fnmr_by_band": [],
    }
    if note:
        section["note"] = note
    return section


def quality_section(
    quality: Mapping[str, np.ndarray],
    matrix: np.ndarray,
    id_codes: np.ndarray,
    codes: np.ndarray,
    names: Sequence[str],
    targets: Sequence[Mapping[str, Any]],
    primary: float | None,
    settings: AuditSettings,
    *,
    higher_is_better: bool = True,
    pairs: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> dict[str, Any]:
    """The report's ``quality`` section: the components, per-group distribution, and FNMR by
    quality band at the primary target's threshold (``fnmr_by_band`` empty, with a note, when
    that threshold is not supported by the data); ``pairs`` as :func:`fnmr_by_band`'s."""
    entry = next((t for t in targets if t.get("target_fmr") == primary), None)
    threshold = entry.get("threshold") if entry else None
    section = distribution_section(quality, codes, names)
    section.update(target_fmr=primary, threshold=threshold)
    if threshold is None or (entry is not None and entry.get("supported") is False):
        section["note"] = "the primary target's threshold is not supported: no FNMR by band"
        return section
    section["fnmr_by_band"] = fnmr_by_band(quality, matrix, id_codes, codes, names,
                                           float(threshold), settings,
                                           higher_is_better=higher_is_better, pairs=pairs)
    return section
