"""The pieces every HTML page of an audit is built from: the Jinja environment over
``templates/``, how numbers, counts, targets, thresholds and estimates are written, and the
table dicts the templates render.

Shared by ``report.html`` (:mod:`faceaudit.audit.html`) and its sections
(:mod:`~faceaudit.audit.comparison_html`, :mod:`~faceaudit.audit.identification_html`,
:mod:`~faceaudit.audit.redaction_html`); presenting only, nothing here computes a rate.
"""

from __future__ import annotations

import functools
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

TEMPLATES = Path(__file__).parent / "templates"
#: what a page shows for a missing number (an unbounded interval end, an undefined rate)
DASH = "—"

#: the verification summaries' names in the report, as the page writes them
SUMMARY_LABELS = {
    "fmr_ratio": "FMR max/min ratio",
    "fnmr_ratio": "FNMR max/min ratio",
    "fmr_difference": "FMR max − min",
    "fnmr_difference": "FNMR max − min",
    "inequity": "Inequity rate (FMR ratio^α · FNMR ratio^(1−α))",
    "fdr": "FDR (fairness discrepancy rate)",
    "garbe": "GARBE (Gini aggregation rate)",
    "ser": "SER (skewed error ratio)",
    "std": "STD of accuracy (percentage points)",
    "fmr_max_geomean": "FMR max / geometric mean",
    "fnmr_max_geomean": "FNMR max / geometric mean",
}


@functools.cache
def environment() -> jinja2.Environment:
    """The Jinja environment over ``templates/``: autoescaped, strict about undefined names."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=False,
    )


def num(v: float | None, spec: str = ".3g") -> str:
    """A number in ``spec`` (three significant digits by default); the dash when missing or
    not finite, ``0`` for zero."""
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return DASH
    if v == 0:
        return "0"
    return format(v, spec)


def threshold(v: float | None) -> str:
    """A threshold in full: the shortest text that reads back as the same float (a rounded
    threshold would be a different operating point)."""
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return DASH
    return repr(float(v))


def target(t: float | None) -> str:
    """A target FMR: ``1e-3`` for a power of ten, three significant digits otherwise, and
    "as given" for a rates table's (no) target."""
    if t is None:
        return "as given"
    exponent = round(math.log10(t)) if t > 0 else 0
    if t > 0 and math.isclose(t, 10.0**exponent):
        return f"1e{exponent}"
    return format(t, ".3g")


def count(n: int | None) -> str:
    """A count with thousands separators; the dash when missing."""
    return DASH if n is None else f"{n:,}"


def estimate(e: Mapping[str, Any] | None, spec: str = ".3g") -> str:
    """An estimate as running text: ``value [low, high]`` (a missing end is unbounded), or why
    it was not estimated."""
    if not e or e.get("value") is None:
        note = (e or {}).get("note")
        return f"not estimated ({note})" if note else DASH
    text = num(e["value"], spec)
    if e.get("low") is not None or e.get("high") is not None:  # a missing end is unbounded
        text += f" [{num(e.get('low'), spec)}, {num(e.get('high'), spec)}]"
    return text


def _flags(e: Mapping[str, Any]) -> Markup:
    """What an estimate rests on, when it needs saying: few identities, an exact bound, no
    interval from one identity, undefined bootstrap replicates."""
    parts = []
    if e.get("small_sample"):
        parts.append(f"few identities ({e.get('identities')})")
    if e.get("interval") == "clopper-pearson":
        parts.append("exact one-sided bound")
    if e.get("interval_note"):
        parts.append(str(e["interval_note"]))
    if e.get("undefined_replicates"):
        parts.append(f"{e['undefined_replicates']} undefined replicates")
    if not parts:
        return Markup("")
    return Markup(' <span class="flag">({})</span>').format("; ".join(parts))


def shared_notes(estimates: Iterable[Mapping[str, Any] | None]) -> dict[str, str]:
    """The reasons several of ``estimates`` were not estimated for, each labelled (``note
    1``, …) so that a table says it once (:func:`estimate_cell`'s ``shared``,
    :func:`table`'s ``notes``) instead of in every cell."""
    counts = Counter(str(e["note"]) for e in estimates
                     if e and e.get("value") is None and e.get("note"))
    repeated = [note for note, n in counts.items() if n > 1]
    return {note: f"note {i}" for i, note in enumerate(repeated, start=1)}


def said_once(shared: Mapping[str, str]) -> list[str]:
    """The notes of :func:`shared_notes`, each once: ``note 1: …``."""
    return [f"{label}: {note}" for note, label in shared.items()]


def estimate_cell(e: Mapping[str, Any] | None, spec: str = ".3g",
                  shared: Mapping[str, str] | None = None) -> str:
    """An estimate for a table cell: it may wrap before the interval, never inside a number;
    a reason for no estimate that ``shared`` labels is referred to by its label."""
    if shared and e and e.get("value") is None and str(e.get("note")) in shared:
        return f"not estimated ({shared[str(e['note'])]})"
    if not e or e.get("value") is None or (e.get("low") is None and e.get("high") is None):
        if e and e.get("value") is not None:
            return Markup("{}{}").format(estimate(e, spec), _flags(e))
        return estimate(e, spec)
    return Markup('<span class="num">{}</span> <span class="num">[{}, {}]</span>{}').format(
        num(e["value"], spec), num(e.get("low"), spec), num(e.get("high"), spec), _flags(e)
    )


def row(cells: Sequence[str], css: str = "") -> dict[str, Any]:
    """One table row for the templates: its cells and a CSS class (``fail``, ``muted``)."""
    return {"cells": list(cells), "css": css}


def table(caption: str, headers: Sequence[str], rows: list[dict[str, Any]],
          notes: Sequence[str] = ()) -> dict[str, Any]:
    """One table for the templates: caption, column headers, :func:`row` dicts and the notes
    said once below it (:func:`said_once`)."""
    return {"caption": caption, "headers": list(headers), "rows": rows, "notes": list(notes)}
