"""The ``comparison`` section as HTML: side-by-side tables (every model's estimate, each
model's difference from the baseline with its interval) and a plot of the differences.

Used twice: inside ``report.html`` (an audit of several models) and as the standalone page of
``faceaudit compare --html``. Rendered only from the section dict; nothing is recomputed.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from markupsafe import Markup

from faceaudit import __version__
from faceaudit.audit import html_parts as hp
from faceaudit.audit import plots
from faceaudit.audit.comparison_terminal import comparison_target, row_label


def _difference_cell(d: Mapping[str, Any]) -> str:
    if d.get("value") is None:
        return hp.estimate_cell(d)
    value = f"{d['value']:+.3g}" if d["value"] else "0"
    if d.get("low") is None and d.get("high") is None:
        return Markup('<span class="num">{}</span> <span class="flag">({})</span>').format(
            value, d.get("note") or "no interval"
        )
    verdict = (
        Markup(' <span class="flag">(excludes 0)</span>') if d.get("excludes_zero") else ""
    )
    return Markup('<span class="num">{}</span> <span class="num">[{}, {}]</span>{}').format(
        value, hp.num(d.get("low")), hp.num(d.get("high")), verdict
    )


def _label(row: Mapping[str, Any]) -> str:
    if row.get("group") is None:
        key = str(row["metric"])
        return f"{hp.SUMMARY_LABELS.get(key, key)} ({key})"
    return row_label(row)


def comparison_tables(section: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One table per target: a row per rate/summary, a column per model, a column per
    difference from the baseline."""
    baseline = section["baseline"]
    names = [m["name"] for m in section["models"]]
    level = f"{section.get('confidence', 0.95):.0%}"
    tables = []
    for t in section.get("targets") or []:
        headers = ["Rate"] + [
            f"{m['model']} (threshold {hp.threshold(m.get('threshold'))}) [{level} CI]"
            for m in t["models"]
        ] + [f"{n} − {baseline}" + (f" [{level} paired CI]" if section.get("paired") else "")
             for n in names[1:]]
        rows = [
            hp.row(
                [_label(r)]
                + [hp.estimate_cell(v) for v in r["values"]]
                + [_difference_cell(d) for d in r["differences"]]
            )
            for r in t["rows"]
        ]
        caption = f"Models side by side at target FMR {hp.target(t['target_fmr'])}"
        tables.append(hp.table(caption, headers, rows))
    return tables


def comparison_notes(section: Mapping[str, Any]) -> list[str]:
    """What the numbers are: which model is the baseline, how thresholds were set, what the
    difference intervals are (or why there are none)."""
    models = "; ".join(
        f"{m['name']}: {m.get('input') or '—'}"
        + (f" (backend {m['backend_id']})" if m.get("backend_id") else "")
        for m in section["models"]
    )
    baseline = (
        "the baseline, whose audit the rest of this report shows"
        if not any("report" in m for m in section["models"])
        else "the baseline, the first report given"
    )
    notes = [
        f"Models: {models}. Differences are model − {section['baseline']} ({baseline}).",
        f"Thresholds: {section['thresholds']}.",
    ]
    if section.get("paired") and not section.get("note"):
        notes.append(
            f"Difference intervals: {section['interval']}. An interval that excludes 0 is a "
            "difference these data can tell apart from none."
        )
    else:
        notes.append(f"Difference intervals: {section.get('note')}.")
    return notes


def difference_plot(
    labels: list[str],
    series: Mapping[str, list[tuple[float | None, float | None, float | None]]],
    title: str,
) -> str:
    """A forest plot: per label, each model's difference (point) and interval (bar), a dashed
    line at 0; models differ by colour and marker. Returns a PNG data URI."""
    fig, ax = plots.plt.subplots(figsize=(6.4, 0.45 * len(labels) + 1.4))
    offsets = np.linspace(-0.15, 0.15, len(series)) if len(series) > 1 else [0.0]
    for i, (name, values) in enumerate(series.items()):
        style = plots.group_style(i)
        label: str | None = name
        for y, (v, lo, hi) in enumerate(values):
            if v is None:
                continue
            yy = y + offsets[i]
            if lo is not None and hi is not None:
                ax.plot([lo, hi], [yy, yy], color=style["color"], linewidth=2)
            ax.plot([v], [yy], marker=style["marker"], color=style["color"], linestyle="none",
                    label=label)
            label = None
    ax.axvline(0.0, color="#555555", linestyle="--", linewidth=1)
    ax.set_yticks(range(len(labels)), labels)
    ax.invert_yaxis()
    ax.set_xlabel("difference from the baseline (rate)")
    ax.set_title(title)
    if len(series) > 1:
        ax.legend(loc="best", fontsize="small")
    ax.grid(axis="x", alpha=0.3)
    return plots.to_data_uri(fig)


def comparison_figure(section: Mapping[str, Any], target: float | None) -> dict[str, str] | None:
    """Per-group FMR and FNMR differences from the baseline at ``target`` with their intervals
    (a forest plot; None when no difference has a value)."""
    if not section.get("targets"):
        return None
    entry = comparison_target(section, target)
    names = [m["name"] for m in section["models"]][1:]
    rows = [r for r in entry["rows"] if r.get("group") is not None and r["metric"] != "accuracy"]
    labels = [row_label(r) for r in rows]
    series = {
        name: [(r["differences"][m].get("value"), r["differences"][m].get("low"),
                r["differences"][m].get("high")) for r in rows]
        for m, name in enumerate(names)
    }
    if not any(v is not None for s in series.values() for v, _, _ in s):
        return None
    at = hp.target(entry["target_fmr"])
    alt = "Differences from the baseline at target FMR " + at + ": " + "; ".join(
        f"{name} {label}: {hp.num(v)}"
        + (f" [{hp.num(lo)}, {hp.num(hi)}]" if lo is not None else "")
        for name, s in series.items()
        for label, (v, lo, hi) in zip(labels, s, strict=True)
    )
    return {
        "src": difference_plot(labels, series, f"Model − {section['baseline']}, FMR {at}"),
        "alt": alt,
        "caption": f"Each model's difference from {section['baseline']} in each group's FMR and "
        f"FNMR at target FMR {at}, with its interval; the dashed line is no difference.",
    }


def comparison_view(section: Mapping[str, Any] | None, target: float | None) -> dict | None:
    """The template's view of a ``comparison`` section (``None`` when there is none)."""
    if not section:
        return None
    return {
        "notes": comparison_notes(section),
        "tables": comparison_tables(section),
        "figure": comparison_figure(section, target),
    }


def write_comparison_page(section: Mapping[str, Any], path: Path, sources: list[str]) -> Path:
    """Write the standalone side-by-side page of ``faceaudit compare --html``."""
    first = (section.get("targets") or [{}])[0].get("target_fmr")
    targets = [t["target_fmr"] for t in section.get("targets") or []]
    primary = targets[len(targets) // 2] if targets else first
    text = hp.environment().get_template("comparison.html.j2").render(
        title="faceaudit: models compared",
        version=__version__,
        sources=sources,
        comparison=comparison_view(section, primary),
    )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path
