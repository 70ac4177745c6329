"""The CSV tables of a verification report as rows: the report's ``targets`` in, a header and
rows per table out. Pure; :func:`faceaudit.audit.report.write_tables` writes them.

``thresholds.csv`` (one row per target), ``per_group.csv`` (per target and group: FMR, FNMR
and accuracy with their intervals, the group's own threshold, the pairs and identities),
``cross_fmr.csv`` (per target and ordered pair of groups) and ``summaries.csv`` (per target and
summary, with the groups it is over joined by ``|``). Values are the report's, unformatted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple


class CsvTable(NamedTuple):
    """One CSV file's content: its file name, header and rows."""

    name: str
    header: list[str]
    rows: list[list[Any]]


THRESHOLDS_HEADER = ["target_fmr", "threshold", "supported", "required_pairs", "achieved_fmr"]
PER_GROUP_HEADER = [
    "target_fmr",
    "group",
    "supported",
    "fmr",
    "fmr_low",
    "fmr_high",
    "fnmr",
    "fnmr_low",
    "fnmr_high",
    "accuracy",
    "accuracy_low",
    "accuracy_high",
    "group_threshold",
    "fnmr_at_group_threshold",
    "impostor_pairs",
    "genuine_pairs",
    "impostor_identities",
    "genuine_identities",
    "small_sample",
]
CROSS_FMR_HEADER = ["target_fmr", "group_a", "group_b", "fmr", "low", "high", "impostor_pairs"]
SUMMARIES_HEADER = ["target_fmr", "summary", "value", "low", "high", "note", "groups"]


def threshold_rows(targets: Sequence[Mapping[str, Any]]) -> list[list[Any]]:
    """One row per target: its global threshold, whether the data support it, the impostor
    pairs it needs and the FMR the threshold achieves."""
    return [
        [t["target_fmr"], t["threshold"], t["supported"], t["required_pairs"], t["achieved_fmr"]]
        for t in targets
    ]


def per_group_rows(targets: Sequence[Mapping[str, Any]]) -> list[list[Any]]:
    """One row per target and group, in :data:`PER_GROUP_HEADER`'s order."""
    return [
        [t["target_fmr"], g["group"], g["supported"]]
        + [g[m][k] for m in ("fmr", "fnmr", "accuracy") for k in ("value", "low", "high")]
        + [
            g["group_threshold"],
            g["fnmr_at_group_threshold"],
            g["impostor_pairs"],
            g["genuine_pairs"],
            g.get("impostor_identities"),
            g.get("genuine_identities"),
            g.get("small_sample", False),
        ]
        for t in targets
        for g in t["groups"]
    ]


def cross_fmr_rows(targets: Sequence[Mapping[str, Any]]) -> list[list[Any]]:
    """One row per target with a cross-group matrix and ordered pair of its groups."""
    return [
        [
            t["target_fmr"],
            ga,
            gb,
            cross["fmr"][a][b],
            cross["low"][a][b],
            cross["high"][a][b],
            cross["impostor_pairs"][a][b],
        ]
        for t in targets
        if (cross := t["cross_fmr"])
        for a, ga in enumerate(cross["groups"])
        for b, gb in enumerate(cross["groups"])
    ]


def summary_rows(targets: Sequence[Mapping[str, Any]]) -> list[list[Any]]:
    """One row per target and fairness summary: value, interval, note and its groups."""
    return [
        [
            t["target_fmr"],
            key,
            s["value"],
            s["low"],
            s["high"],
            s.get("note"),
            "|".join(s.get("groups") or []),
        ]
        for t in targets
        for key, s in t["summaries"].items()
    ]


def report_tables(report: Mapping[str, Any]) -> list[CsvTable]:
    """The four CSV tables of ``report``, in the order they are written."""
    targets = report["targets"]
    return [
        CsvTable("thresholds.csv", THRESHOLDS_HEADER, threshold_rows(targets)),
        CsvTable("per_group.csv", PER_GROUP_HEADER, per_group_rows(targets)),
        CsvTable("cross_fmr.csv", CROSS_FMR_HEADER, cross_fmr_rows(targets)),
        CsvTable("summaries.csv", SUMMARIES_HEADER, summary_rows(targets)),
    ]
