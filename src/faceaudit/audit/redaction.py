"""The report's ``redaction`` section: who a footage redaction left visible, per group.

For each redaction tool measured on one labelled clip: the share of ground-truth face-frames it
missed (and its complement, frame-level recall), overall and per group, with the audit's own
identity bootstrap (:mod:`faceaudit.audit.bootstrap`: each face of the clip is one person, resampled
with replacement within its group) and its small-sample rules (:mod:`faceaudit.audit.estimates`),
and the number of frames in which some face was left uncovered. The per-face-frame coverage
comes from :mod:`faceaudit.footage.coverage`. Schema: docs/report-schema.md, ``redaction``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from faceaudit.audit import report as rp
from faceaudit.audit.bootstrap import bootstrap_rates
from faceaudit.audit.engine import AuditSettings
from faceaudit.audit.estimates import rate_estimate
from faceaudit.base.errors import InputDataError
from faceaudit.footage.coverage import MIN_COVERED, MIN_VISIBLE, Coverage

_NO_FACE_FRAMES = "no face-frame of this group was in view"


def recall_of(miss: Mapping) -> dict:
    """The recall estimate ``1 − miss rate`` of a miss-rate estimate (interval ends swapped)."""
    out = dict(miss)
    flip = {"value": "value", "low": "high", "high": "low"}
    for key, source in flip.items():
        out[key] = None if miss.get(source) is None else 1.0 - miss[source]
    return out


def tool_section(
    tool: str,
    cov: Coverage,
    face_groups: Mapping[int, str],
    groups: Sequence[str],
    settings: AuditSettings,
    *,
    frames_per_s: float | None = None,
    notes: str | None = None,
) -> dict:
    """One tool's entry of ``redaction.tools``: miss rate and recall overall and per group (with
    identity-bootstrap intervals), missed face-frames and frames with a face left uncovered.

    ``face_groups`` maps every face id of the clip to its group (one of ``groups``).
    """
    faces = sorted(face_groups)
    unknown = sorted({face_groups[f] for f in faces} - set(groups))
    if unknown:
        raise InputDataError(f"faces labelled with groups not listed: {', '.join(unknown)}")
    missed, scored = cov.per_face(faces)
    unit_group = np.array([list(groups).index(face_groups[f]) for f in faces], dtype=np.int64)
    columns = len(groups) + 1  # column 0: all faces; column g + 1: faces of group g
    errors = np.zeros((len(faces), columns))
    comparisons = np.zeros((len(faces), columns))
    errors[:, 0], comparisons[:, 0] = missed, scored
    rows = np.arange(len(faces))
    errors[rows, unit_group + 1], comparisons[rows, unit_group + 1] = missed, scored
    replicates = None
    if settings.reps and len(faces):
        replicates = bootstrap_rates(unit_group, errors, comparisons, settings.reps, settings.seed)

    def estimate(column: int, members: np.ndarray) -> dict:
        n_missed, n_scored = int(errors[:, column].sum()), int(comparisons[:, column].sum())
        miss = rate_estimate(
            n_missed / n_scored if n_scored else None,
            None if replicates is None else replicates[:, column],
            errors=n_missed,
            comparisons=n_scored,
            identities=int((scored[members] > 0).sum()),
            confidence=settings.confidence,
            min_identities=settings.min_identities,
            note=_NO_FACE_FRAMES,
        )
        return {"miss_rate": miss, "recall": recall_of(miss)}

    everyone = np.ones(len(faces), bool)
    per_group = []
    for g, group in enumerate(groups):
        members = unit_group == g
        per_group.append({
            "group": group,
            "faces": int(members.sum()),
            "face_frames": int(scored[members].sum()),
            "missed_face_frames": int(missed[members].sum()),
            "frames_with_uncovered_face": cov.frames_with_a_miss(
                [f for f, m in zip(faces, members, strict=True) if m]),
            **estimate(g + 1, members),
        })
    return {
        "tool": tool,
        "notes": notes,
        "faces": len(faces),
        "face_frames": int(scored.sum()),
        "missed_face_frames": int(missed.sum()),
        "frames_with_uncovered_face": cov.frames_with_a_miss(),
        **estimate(0, everyone),
        "frames_per_s": None if frames_per_s is None else round(float(frames_per_s), 3),
        "per_group": per_group,
    }


def redaction_section(clip: Mapping, groups: Sequence[str], tools: Sequence[dict], *,
                      min_visible: float = MIN_VISIBLE, min_covered: float = MIN_COVERED) -> dict:
    """The report's ``redaction`` section: the clip, the coverage criterion, one entry per tool."""
    return {
        "clip": dict(clip),
        "criterion": {"min_visible": min_visible, "min_covered": min_covered},
        "bootstrap_unit": "face",
        "groups": list(groups),
        "tools": list(tools),
    }


def redaction_report(section: dict, settings: AuditSettings, *, input_path: str,
                     attributes: str | None, by: Sequence[str], duration_s: float = 0.0) -> dict:
    """A whole ``faceaudit.audit/2`` report whose measurement is a redaction section (no
    verification targets: ``targets`` is empty and the gate has no rules)."""
    prov = rp.provenance(settings, input_kind="redaction", input_path=input_path,
                         protocol="labelled-clip", attributes=attributes, by=list(by),
                         higher_is_better=None, duration_s=duration_s)
    prov["bootstrap_unit"] = "face"
    prov["target_fmrs"] = []
    warnings = [
        f"{tool['tool']}: {group['group']} rests on {group['faces']} faces (fewer than "
        f"{settings.min_identities}); its interval is wide"
        for tool in section["tools"] for group in tool["per_group"]
        if group["miss_rate"].get("small_sample")
    ]
    report = rp.build_report({"groups": list(section["groups"]), "targets": []}, prov, {},
                             warnings, [])
    report["redaction"] = section
    return report
