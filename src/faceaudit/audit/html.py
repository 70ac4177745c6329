"""Render an audit's ``report.json`` dict into one self-contained ``report.html``.

The page is built only from the report dict (schema ``faceaudit.audit/2`` or /1, see
``docs/report-schema.md``); nothing is recomputed. Plots are PNG data URIs from
:mod:`faceaudit.audit.plots`, the stylesheet is inlined, there is no JavaScript, and a
Content-Security-Policy forbids any external resource, so the file works offline. Parts a
given input does not produce (a rates-only audit has no DET curves or heatmap) are shown as
"not available for this input".

This module builds the verification sections and composes the page; the optional sections
come from :mod:`~faceaudit.audit.comparison_html`, :mod:`~faceaudit.audit.identification_html`
and :mod:`~faceaudit.audit.redaction_html`, and all of them write numbers and tables with
:mod:`faceaudit.audit.html_parts` (none imports this module back).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from faceaudit import __version__
from faceaudit.audit import html_parts as hp
from faceaudit.audit import plots
from faceaudit.audit.comparison_html import comparison_view
from faceaudit.audit.identification_html import identification_view
from faceaudit.audit.pad_html import pad_view
from faceaudit.audit.quality_html import quality_view
from faceaudit.audit.redaction_html import redaction_view
from faceaudit.base.errors import InputDataError

SCHEMA = "faceaudit.audit/2"
READABLE = ("faceaudit.audit/1", SCHEMA)


class ReportFormatError(InputDataError):
    """The dict given to :func:`write_html` is not a ``faceaudit.audit/2`` (or /1) report."""

    code = "report-format"


def write_html(report: dict, out_dir: Path) -> Path:
    """Write ``out_dir/report.html`` rendered from ``report`` and return its path.

    ``report`` is the dict written to ``report.json`` (schema ``faceaudit.audit/2``, or /1).
    Raises :class:`ReportFormatError` when it is not such a report.
    """
    if not isinstance(report, Mapping) or report.get("schema") not in READABLE:
        found = report.get("schema") if isinstance(report, Mapping) else type(report).__name__
        raise ReportFormatError(f"expected a {SCHEMA!r} report, got schema {found!r}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "report.html"
    path.write_text(render_html(report), encoding="utf-8")
    return path


def render_html(report: Mapping[str, Any]) -> str:
    """Return the HTML text of the report (see :func:`write_html`)."""
    return hp.environment().get_template("report.html.j2").render(**_view(report))


def _identities(g: Mapping[str, Any]) -> str:
    """Impostor / genuine identities of a group, as a table cell."""
    imp, gen = g.get("impostor_identities"), g.get("genuine_identities")
    if imp is None and gen is None:
        return hp.DASH
    return f"{hp.count(imp)} / {hp.count(gen)}"


# --- the view model ---------------------------------------------------------------------------


def _view(r: Mapping[str, Any]) -> dict[str, Any]:
    prov = r.get("provenance") or {}
    targets = r.get("targets") or []
    primary = _primary_target(r)
    by = ", ".join(prov.get("by") or [])
    redaction = redaction_view(r.get("redaction"))
    pad = pad_view(r.get("pad"))
    return {
        "title": "faceaudit demographic audit" + (f" by {by}" if by else ""),
        "version": prov.get("faceaudit_version", __version__),
        "schema": r.get("schema", SCHEMA),
        "provenance": _provenance(prov),
        "gate": _gate(r.get("gate")),
        "warnings": list(r.get("warnings") or []),
        "summary": (_summary(primary) or (redaction["headlines"] if redaction else [])
                    or (pad["headlines"] if pad else [])),
        "redaction": redaction,
        "data_notes": _data_notes(r.get("data") or {}, by),
        "data_table": _data_table(r.get("data") or {}),
        "thresholds_table": _thresholds_table(targets),
        "group_tables": _group_tables(targets, r.get("per_group") or []),
        "fairness_tables": _fairness_tables(targets),
        "fairness_notes": _fairness_notes(targets, prov.get("alpha")),
        "operating_tables": _operating_tables(r.get("operating_points") or []),
        "det_figure": _det_figure(r.get("det"), targets),
        "heatmap_figures": heatmap_figures(targets),
        "cross_table": _cross_table(primary),
        "score_figure": _score_figure(r.get("histograms"), primary),
        "comparison": _comparison(r, primary),
        "identification": identification_view(r.get("identification")),
        "pad": pad,
        "quality": quality_view(r.get("quality"), r.get("data")),
    }


def _comparison(r: Mapping[str, Any], primary: Mapping[str, Any] | None) -> dict | None:
    """The side-by-side models section, when the audit compared several models."""
    if not r.get("comparison"):
        return None
    return comparison_view(r["comparison"], (primary or {}).get("target_fmr"))


def _primary_target(r: Mapping[str, Any]) -> Mapping[str, Any] | None:
    targets = r.get("targets") or []
    for t in targets:
        if t.get("target_fmr") == r.get("primary_target"):
            return t
    return targets[len(targets) // 2] if targets else None


def _provenance(p: Mapping[str, Any]) -> list[tuple[str, str]]:
    reps = p.get("bootstrap_reps")
    boot = (
        hp.DASH
        if reps is None
        else (
            "off"
            if reps == 0
            else f"{reps:,} reps, resampling {p.get('bootstrap_unit', 'identity')}"
        )
    )
    items = [
        ("Backend", p.get("backend_id") or "not recorded"),
        ("Input", f"{p.get('input_kind', '?')}: {p.get('input', '?')}"),
        ("Attributes", p.get("attributes")),
        ("Grouped by", ", ".join(p.get("by") or []) or None),
        ("Protocol", p.get("protocol")),
        ("Created (UTC)", p.get("created_at")),
        ("faceaudit", p.get("faceaudit_version")),
        ("Seed", p.get("seed")),
        ("Bootstrap", boot),
        ("Confidence", hp.num(p["confidence"]) if p.get("confidence") is not None else None),
        ("α", hp.num(p["alpha"]) if p.get("alpha") is not None else None),
        ("Score bin width", hp.num(p.get("score_bin_width")) if p.get("score_bin_width") else None),
        ("Duration", f"{p['duration_s']:.1f} s" if p.get("duration_s") is not None else None),
    ]
    return [(k, str(v)) for k, v in items if v is not None]


def _operating_tables(points: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One table per target of ``--operating-points``: each grid threshold with every group's
    FMR and FNMR and the ratios, the recommended row marked."""
    tables = []
    for point in points:
        grid = point.get("grid") or []
        if not grid:
            continue
        groups = [g["group"] for g in grid[0]["groups"]]
        headers = (["Threshold", "Recommended"] + [f"FMR {g}" for g in groups]
                   + [f"FNMR {g}" for g in groups] + ["FMR ratio", "FNMR ratio"])
        rows = [
            hp.row(
                [hp.num(p.get("threshold"), ".6g"), "yes" if p.get("recommended") else ""]
                + [hp.estimate_cell(g.get("fmr")) for g in p["groups"]]
                + [hp.estimate_cell(g.get("fnmr")) for g in p["groups"]]
                + [hp.estimate_cell((p.get("summaries") or {}).get(k))
                   for k in ("fmr_ratio", "fnmr_ratio")],
                "" if p.get("recommended") else "muted",
            )
            for p in grid
        ]
        chosen = point.get("recommended_threshold")
        caption = (f"Target FMR {hp.target(point.get('target_fmr'))}: worst-group threshold "
                   + (hp.num(chosen, ".6g") if chosen is not None
                      else f"none ({point.get('note')})"))
        tables.append(hp.table(caption, headers, rows))
    return tables


def _gate_interval(rule: Mapping[str, Any]) -> str:
    """``[low, high]`` of a gate rule (``∞)`` when unbounded above), or "none"."""
    low, high = rule.get("low"), rule.get("high")
    if low is None:
        return "none"
    return f"[{hp.num(low)}, {hp.num(high) + ']' if high is not None else '∞)'}"


def _gate(g: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if not g or not g.get("rules"):
        return None
    rules = g["rules"]
    failed = [x for x in rules if x.get("status") != "pass"]
    if g.get("passed"):
        text = f"all {len(rules)} condition(s) hold over their whole interval."
    else:
        text = (
            f"{len(failed)} of {len(rules)} condition(s) not passed: "
            + "; ".join(
                f"{x.get('expression')} ({x.get('status')}, value {hp.num(x.get('value'))} "
                f"{_gate_interval(x)})"
                for x in failed
            )
            + "."
        )
    rows = [
        hp.row(
            [
                str(x.get("expression")),
                hp.target(x.get("target_fmr")),
                hp.num(x.get("value")),
                _gate_interval(x),
                f"{x.get('op')} {hp.num(x.get('limit'), '.6g')}",
                str(x.get("status", "")).upper(),
                x.get("note") or "",
            ],
            "" if x.get("status") == "pass" else "fail",
        )
        for x in rules
    ]
    table = hp.table(
        "Gate conditions: a condition fails when “value op limit” holds over its whole 95 % "
        "interval, passes when it holds nowhere in it, and is inconclusive when the interval "
        "crosses the limit; insufficient when the rates behind it have no interval or too few "
        "identities",
        ["Condition", "Target FMR", "Value", "95% interval", "Fails when", "Verdict", "Note"],
        rows,
    )
    verdict = g.get("verdict") or ("pass" if g.get("passed") else "fail")
    label = {"pass": "PASSED", "fail": "FAILED"}.get(verdict, str(verdict).upper())
    return {"passed": bool(g.get("passed")), "label": label, "text": text, "table": table}


def _supported_values(target: Mapping[str, Any], key: str) -> list[tuple[str, float]]:
    return [
        (g["group"], g[key]["value"])
        for g in target.get("groups") or []
        if g.get("supported", True) and (g.get(key) or {}).get("value") is not None
    ]


def _summary(t: Mapping[str, Any] | None) -> list[str]:
    if not t:
        return []
    thr = t.get("threshold")
    where = (
        f"At FMR {hp.target(t['target_fmr'])}"
        + (f" (global threshold {hp.threshold(thr)})" if thr is not None else "")
        if t.get("target_fmr") is not None
        else "In the given rates"
    )
    if t.get("target_fmr") is not None and not t.get("supported", True):
        return [f"{where}: this target is unsupported by the data (rule of three)."]
    sentences = []
    summaries = t.get("summaries") or {}
    for key, name in (("fmr", "FMR"), ("fnmr", "FNMR")):
        values = _supported_values(t, key)
        if len(values) < 2:
            continue
        lo = min(values, key=lambda kv: kv[1])
        hi = max(values, key=lambda kv: kv[1])
        sentences.append(
            f"{where}, {name} ranges from {hp.num(lo[1])} ({lo[0]}) to {hp.num(hi[1])} ({hi[0]}):"
            f" ratio {hp.estimate(summaries.get(f'{key}_ratio'))}."
        )
    accuracy = _supported_values(t, "accuracy")
    if not sentences and len(accuracy) >= 2:
        lo = min(accuracy, key=lambda kv: kv[1])
        hi = max(accuracy, key=lambda kv: kv[1])
        sentences.append(
            f"{where}, accuracy ranges from {hp.num(lo[1], '.4f')} ({lo[0]}) to "
            f"{hp.num(hi[1], '.4f')} ({hi[0]}): SER {hp.estimate(summaries.get('ser'))}, "
            f"STD {hp.estimate(summaries.get('std'))} percentage points."
        )
    return sentences


def _data_notes(d: Mapping[str, Any], by: str) -> list[str]:
    notes = []
    if d.get("images") is not None:
        notes.append(
            f"{hp.count(d.get('images'))} images read; {hp.count(d.get('templates'))} templates "
            f"of {hp.count(d.get('identities'))} identities used."
        )
    if d.get("genuine_pairs") is not None:
        notes.append(
            f"{hp.count(d.get('genuine_pairs'))} genuine and {hp.count(d.get('impostor_pairs'))} "
            "impostor comparisons in all (within and across groups)."
        )
    missing = d.get("missing_labels") or {}
    if missing.get("images"):
        per_attr = ", ".join(f"{k}: {v:,}" for k, v in (missing.get("attributes") or {}).items())
        notes.append(
            f"{missing['images']:,} images ({missing.get('identities', 0):,} identities) lack a "
            f"label{' for ' + by if by else ''} and were left out, not mixed in"
            + (f" ({per_attr})." if per_attr else ".")
        )
    if d.get("no_face"):
        notes.append(f"{d['no_face']:,} images had no detectable face and were skipped.")
    return notes


def _data_table(d: Mapping[str, Any]) -> dict[str, Any] | None:
    groups = d.get("groups") or []
    if not groups:
        return None
    rows = [
        hp.row(
            [
                str(g.get("group")),
                hp.count(g.get("templates")),
                hp.count(g.get("identities")),
                hp.count(g.get("genuine_pairs")),
                hp.count(g.get("impostor_pairs")),
                hp.count(g.get("no_face")),
                hp.DASH if g.get("ftt") is None else f"{g['ftt']:.2%}",
            ]
        )
        for g in groups
    ]
    return hp.table(
        "Images and comparisons per group (pairs with both images in the group)",
        ["Group", "Templates", "Identities", "Genuine pairs", "Impostor pairs", "No face",
         "Failure to template"],
        rows,
    )


def _thresholds_table(targets: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    if not any(t.get("target_fmr") is not None for t in targets):
        return None
    rows = [
        hp.row(
            [
                hp.target(t.get("target_fmr")),
                "supported" if t.get("supported") else "UNSUPPORTED (not estimated)",
                hp.count(t.get("required_pairs")),
                hp.threshold(t.get("threshold")),
                hp.num(t.get("achieved_fmr")),
            ],
            "" if t.get("supported") else "muted",
        )
        for t in targets
    ]
    return hp.table(
        "Global thresholds, set on all impostor comparisons",
        ["Target FMR", "Rule of three", "Impostor pairs needed", "Threshold", "Achieved FMR"],
        rows,
    )


def _group_tables(
    targets: Sequence[Mapping[str, Any]], per_group: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    tables = []
    for t in targets:
        rows = [
            hp.row(
                [
                    str(g.get("group")),
                    "yes" if g.get("supported", True) else "no",
                    hp.estimate_cell(g.get("fmr")),
                    hp.estimate_cell(g.get("fnmr")),
                    hp.estimate_cell(g.get("accuracy"), ".4f"),
                    hp.threshold(g.get("group_threshold")),
                    hp.num(g.get("fnmr_at_group_threshold")),
                    hp.count(g.get("impostor_pairs")),
                    hp.count(g.get("genuine_pairs")),
                    _identities(g),
                ],
                "" if g.get("supported", True) else "muted",
            )
            for g in t.get("groups") or []
        ]
        if not rows:
            continue
        caption = (
            f"Per group at target FMR {hp.target(t['target_fmr'])}"
            f" (global threshold {hp.threshold(t.get('threshold'))})"
            if t.get("target_fmr") is not None
            else "Per group, as given in the rates table"
        )
        tables.append(
            hp.table(
                caption,
                [
                    "Group",
                    "Supported",
                    "FMR [95% CI]",
                    "FNMR [95% CI]",
                    "Accuracy [95% CI]",
                    "Group's own threshold",
                    "FNMR at own threshold",
                    "Impostor pairs",
                    "Genuine pairs",
                    "Identities (impostor / genuine)",
                ],
                rows,
            )
        )
    eer_rows = [
        hp.row(
            [
                str(g.get("group")),
                hp.estimate_cell(g.get("eer")),
                hp.threshold(g.get("eer_threshold")),
            ]
        )
        for g in per_group
        if (g.get("eer") or {}).get("value") is not None
    ]
    if eer_rows:
        tables.append(
            hp.table(
                "Equal error rate per group (within-group comparisons)",
                ["Group", "EER [95% CI]", "Threshold at EER"],
                eer_rows,
            )
        )
    return tables


def _fairness_tables(targets: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    keys = [k for k in hp.SUMMARY_LABELS if any(k in (t.get("summaries") or {}) for t in targets)]
    if not keys:
        return []
    shared = hp.shared_notes((t.get("summaries") or {}).get(k) for t in targets for k in keys)
    rows = [
        hp.row(
            [hp.SUMMARY_LABELS[k] + f" ({k})"]
            + [hp.estimate_cell((t.get("summaries") or {}).get(k), shared=shared)
               for t in targets]
        )
        for k in keys
    ]
    headers = ["Summary"] + [f"At FMR {hp.target(t.get('target_fmr'))}" for t in targets]
    return [hp.table("Fairness summaries [95% CI]", headers, rows, hp.said_once(shared))]


def _fairness_notes(targets: Sequence[Mapping[str, Any]], alpha: float | None) -> list[str]:
    """Notes below the fairness table: each note of an estimated summary once per target
    (with the summaries it concerns); the reasons a summary was not estimated are the
    table's own (its cells, or said once below it)."""
    notes = []
    for t in targets:
        by_note: dict[str, list[str]] = {}
        for k, s in (t.get("summaries") or {}).items():
            if isinstance(s, Mapping) and s.get("note") and s.get("value") is not None:
                by_note.setdefault(str(s["note"]), []).append(k)
        notes += [f"At FMR {hp.target(t.get('target_fmr'))}, {', '.join(keys)}: {note}"
                  for note, keys in by_note.items()]
    notes += _summary_group_notes(targets)
    if alpha is not None:
        notes.append(
            f"α = {hp.num(alpha)} weighs FMR against FNMR in the inequity rate, FDR and GARBE. "
            "Ratios and GARBE: lower is fairer (1 and 0 are perfectly even); FDR: 1 is "
            "perfectly even."
        )
    return notes


def _summary_group_notes(targets: Sequence[Mapping[str, Any]]) -> list[str]:
    """Which groups each summary is over: a part that leaves a group out is named with its
    target and the reasons; the parts over every group, when they all are over the same
    groups, are said once (not once per target and per summary family)."""
    parts = [(t, part) for t in targets for part in (t.get("summary_groups") or {}).values()]
    whole = [(t, part) for t, part in parts if not part.get("left_out")]
    same = len({tuple(part["groups"]) for _, part in whole}) == 1
    notes = []
    for t, part in parts:
        left = "; ".join(f"{x['group']} ({x['reason']})" for x in part.get("left_out") or [])
        if left or not same:
            notes.append(
                f"At FMR {hp.target(t.get('target_fmr'))}, {', '.join(part['summaries'])} are "
                f"over {', '.join(part['groups']) or 'no group'}"
                + (f"; left out: {left}." if left else " (every group).")
            )
    if whole and same:
        groups = ", ".join(whole[0][1]["groups"]) or "no group"
        notes.append(("Every other summary" if len(whole) < len(parts) else "Every summary")
                     + f" at every target is over every group ({groups}).")
    return notes


def _mark(e: Mapping[str, Any] | None) -> tuple[float | None, float | None, float | None]:
    e = e or {}
    return e.get("value"), e.get("low"), e.get("high")


def _det_figure(
    det: Sequence[Mapping[str, Any]] | None, targets: Sequence[Mapping[str, Any]],
) -> dict[str, str] | None:
    """The DET figure: each group's curve with its FNMR band, every supported target marked
    with each group's FMR and FNMR there (their intervals as error bars)."""
    if not det:
        return None
    curves = {str(c["group"]): (c.get("fmr") or [], c.get("fnmr") or []) for c in det}
    bands = {str(c["group"]): (c["fnmr_low"], c["fnmr_high"]) for c in det
             if c.get("fnmr_low") is not None and c.get("fnmr_high") is not None}
    marks: list[tuple[float, dict[str, Any]]] = []
    for t in targets:
        if t.get("target_fmr") is None or not t.get("supported", True):
            continue
        marks.append((float(t["target_fmr"]), {
            str(g["group"]): (_mark(g.get("fmr")), _mark(g.get("fnmr")))
            for g in t.get("groups") or [] if g.get("supported", True)}))
    described = "; ".join(
        f"at target FMR {hp.target(target)}: "
        + ", ".join(f"{k} FMR {hp.num(f[0])}, FNMR {hp.num(n[0])}" for k, (f, n) in m.items())
        for target, m in marks)
    alt = (
        "Detection error trade-off curves, false non-match rate against false match rate on "
        f"log axes, for groups {', '.join(curves)}"
        + (", with 95% bands of FNMR" if bands else "")
        + (f". {described}." if described else ".")
    )
    targets_text = ", ".join(hp.target(target) for target, _ in marks)
    return {
        "src": plots.det_plot(curves, bands, marks),
        "alt": alt,
        "caption": "DET curves per group (within-group comparisons). Lower is better"
        + ("; shaded: the 95% identity-bootstrap interval of each group's FNMR along its "
           "curve" if bands else "")
        + (f"; dotted lines: the target FMRs ({targets_text}), each group at the global "
           "threshold of each with its FMR and FNMR intervals as error bars." if marks
           else "."),
    }


def heatmap_figures(targets: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The cross-group FMR heatmap of every supported target, all on one log colour scale
    (:func:`faceaudit.audit.plots.shared_log_limits`); each figure's ``limits`` are the colour
    limits it was drawn with."""
    shown = [t for t in targets if t.get("cross_fmr") and t.get("target_fmr") is not None
             and t.get("supported", True)]
    limits = plots.shared_log_limits([t["cross_fmr"].get("fmr") or [] for t in shown])
    figures = []
    for t in shown:
        cross = t["cross_fmr"]
        labels = [str(g) for g in cross.get("groups") or []]
        matrix = cross.get("fmr") or []
        at = hp.target(t["target_fmr"])
        cells = "; ".join(
            f"{a} with {b}: {hp.num(matrix[i][j])}"
            for i, a in enumerate(labels)
            for j, b in enumerate(labels)
            if j >= i
        )
        src, drawn = plots.fmr_heatmap(matrix, labels, f"Cross-group FMR, target {at}", limits,
                                       counts=cross.get("impostor_pairs"))
        figures.append(
            {
                "src": src,
                "limits": drawn,
                "alt": f"Heatmap of log10 false match rate between groups at target FMR {at}: "
                f"{cells}.",
                "caption": f"Impostor FMR between each pair of groups at the global threshold "
                f"for target FMR {at}; the diagonal is the within-group FMR. Every heatmap "
                f"of this report shares one log colour scale (10^{limits[0]:.2f} to "
                f"10^{limits[1]:.2f}).",
            }
        )
    return figures


def _cross_table(t: Mapping[str, Any] | None) -> dict[str, Any] | None:
    cross = (t or {}).get("cross_fmr")
    if not cross or not t or t.get("target_fmr") is None:
        return None
    labels = [str(g) for g in cross.get("groups") or []]
    low, high = cross.get("low"), cross.get("high")

    def cell(i: int, j: int) -> str:
        return hp.estimate_cell(
            {
                "value": cross["fmr"][i][j],
                "low": low[i][j] if low else None,
                "high": high[i][j] if high else None,
            }
        )

    rows = [hp.row([a] + [cell(i, j) for j in range(len(labels))]) for i, a in enumerate(labels)]
    return hp.table(
        f"Cross-group FMR [95% CI] at target FMR {hp.target(t['target_fmr'])} "
        "(row: group whose identities are resampled)",
        ["Group", *labels],
        rows,
    )


def _score_figure(
    h: Mapping[str, Any] | None, primary: Mapping[str, Any] | None
) -> dict[str, str] | None:
    if not h or not h.get("groups"):
        return None
    edges = h["bin_edges"]
    series = {
        str(g["group"]): (
            edges,
            g.get("genuine") or [0] * (len(edges) - 1),
            g.get("impostor") or [0] * (len(edges) - 1),
        )
        for g in h["groups"]
    }
    threshold = (primary or {}).get("threshold")
    marked = threshold is not None
    return {
        "src": plots.score_histograms(series, threshold),
        "alt": "Histograms of genuine and impostor similarity scores, one panel per group ("
        + ", ".join(series)
        + ")"
        + (f", with the global threshold {hp.threshold(threshold)} marked." if marked else "."),
        "caption": "Within-group score distributions (each series normalised to a density)"
        + (f"; dashed line: global threshold {hp.threshold(threshold)}." if marked else "."),
    }
