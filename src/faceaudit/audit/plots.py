"""Plots for the audit report, rendered with matplotlib's Agg backend into PNG data URIs.

Every function takes plain arrays (already computed by the audit engine; nothing is
recomputed here) and returns a ``data:image/png;base64,...`` string that the HTML template
embeds directly, so the report is one self-contained file that works offline.

Colours come from the Okabe-Ito palette (safe for the common colour-vision deficiencies),
and lines also differ by marker and dash so that no information rests on colour alone.
The heatmap uses ``cividis``, which is perceptually uniform and colour-blind safe.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

OKABE_ITO = (
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#CC79A7",
    "#56B4E9",
    "#D55E00",
    "#F0E442",
    "#000000",
)
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
_DASHES = ("-", "--", "-.", ":")


def group_style(index: int) -> dict[str, object]:
    """Return the colour, marker and dash used for the ``index``-th group in every plot."""
    return {
        "color": OKABE_ITO[index % len(OKABE_ITO)],
        "marker": _MARKERS[index % len(_MARKERS)],
        "linestyle": _DASHES[(index // len(OKABE_ITO)) % len(_DASHES)],
    }


def to_data_uri(fig: Figure) -> str:
    """Render ``fig`` as a PNG ``data:`` URI (110 dpi, no software stamp, so the same figure
    gives the same bytes) and close it."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _log_floor(smallest: float) -> float:
    """Lower axis limit: the decade below the smallest positive rate, kept within [1e-10, 1e-2]."""
    if smallest >= 1.0:
        return 1e-4
    return float(np.clip(10.0 ** np.floor(np.log10(smallest)), 1e-10, 1e-2))


#: a group's rates at one target: ((FMR, low, high), (FNMR, low, high)); None where unknown
TargetMark = tuple[tuple[float | None, float | None, float | None],
                   tuple[float | None, float | None, float | None]]


def det_figure(
    curves: Mapping[str, tuple[Sequence[float], Sequence[float]]],
    bands: Mapping[str, tuple[Sequence[float | None], Sequence[float | None]]] | None = None,
    targets: Sequence[tuple[float, Mapping[str, TargetMark]]] = (),
    title: str = "DET curves per group",
) -> Figure:
    """NIST-style DET curves (log FMR on x, log FNMR on y), one line per group, as a figure.

    ``curves`` maps a group label to ``(fmr, fnmr)`` point lists; ``bands`` to the FNMR
    interval ``(low, high)`` at the same points (a shaded band; None entries leave gaps).
    ``targets`` lists every target FMR with each group's FMR and FNMR there (value, low,
    high): the target is a dotted vertical line and each group's point a marker with its
    intervals as error bars. Points where a rate is zero cannot be drawn on log axes and are
    dropped.
    """
    fig, ax = plt.subplots(figsize=(6.4, 5.2))
    lo_x = lo_y = 1.0
    index = {label: i for i, label in enumerate(curves)}
    for label, (fmr, fnmr) in curves.items():
        x = np.asarray(fmr, dtype=float)
        y = np.asarray(fnmr, dtype=float)
        keep = (x > 0) & (y > 0)
        style = group_style(index[label])
        if keep.any():
            lo_x = min(lo_x, float(x[keep].min()))
            lo_y = min(lo_y, float(y[keep].min()))
        ax.plot(x[keep], y[keep], color=style["color"], linestyle=style["linestyle"],
                marker=style["marker"], markevery=max(1, int(keep.sum()) // 8), markersize=5,
                linewidth=1.6, label=label)
        if bands and label in bands:
            low = np.array([np.nan if v is None else v for v in bands[label][0]], dtype=float)
            high = np.array([np.nan if v is None else v for v in bands[label][1]], dtype=float)
            shown = (x > 0) & np.isfinite(low) & np.isfinite(high) & (high > 0)
            if shown.any():
                positive = low[shown][low[shown] > 0]
                if positive.size:
                    lo_y = min(lo_y, float(positive.min()))
                # a lower bound of 0 runs off the log axis: drawn to below its floor
                ax.fill_between(x[shown], np.where(low[shown] > 0, low[shown], 1e-12),
                                high[shown], color=style["color"], alpha=0.18, linewidth=0,
                                label=f"{label} FNMR 95% band")
    for t, (target, marks) in enumerate(targets):
        ax.axvline(target, color="black", linestyle=":", linewidth=1,
                   label="target FMR" if t == 0 else None)
        ax.annotate(f"{target:g}", (target, 1.0), xytext=(2, -10), textcoords="offset points",
                    fontsize=7)
        for label, ((fx, fl, fh), (ny, nl, nh)) in marks.items():
            if fx is None or ny is None or fx <= 0 or ny <= 0:
                continue
            style = group_style(index.get(label, 0))
            xerr = [[fx - fl if fl is not None else 0.0], [fh - fx if fh is not None else 0.0]]
            yerr = [[ny - nl if nl is not None and nl > 0 else 0.0],
                    [nh - ny if nh is not None else 0.0]]
            ax.errorbar([fx], [ny], xerr=xerr, yerr=yerr, marker=style["marker"],
                        markersize=8, color=style["color"], markeredgecolor="black",
                        linestyle="none", capsize=3)
            lo_x, lo_y = min(lo_x, fx), min(lo_y, ny)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(_log_floor(min(lo_x, *(t for t, _ in targets))) if targets
                else _log_floor(lo_x), 1.0)
    ax.set_ylim(_log_floor(lo_y), 1.0)
    ax.set_xlabel("False match rate (FMR)")
    ax.set_ylabel("False non-match rate (FNMR)")
    ax.set_title(title)
    ax.grid(True, which="major", alpha=0.5)
    ax.grid(True, which="minor", alpha=0.15)
    if curves:
        ax.legend(title="Group", fontsize="small")
    return fig


def det_plot(
    curves: Mapping[str, tuple[Sequence[float], Sequence[float]]],
    bands: Mapping[str, tuple[Sequence[float | None], Sequence[float | None]]] | None = None,
    targets: Sequence[tuple[float, Mapping[str, TargetMark]]] = (),
    title: str = "DET curves per group",
) -> str:
    """:func:`det_figure` as a PNG data URI."""
    return to_data_uri(det_figure(curves, bands, targets, title))


def shared_log_limits(matrices: Sequence[Sequence[Sequence[float | None]]],
                      ) -> tuple[float, float]:
    """``(vmin, vmax)`` in log10 of the positive cells of all ``matrices``: the one colour
    scale every heatmap of a report shares (half a decade either side when all are equal;
    ``(-4, 0)`` without a positive cell)."""
    cells = [float(v) for m in matrices for row in m for v in row
             if v is not None and np.isfinite(float(v)) and float(v) > 0]
    if not cells:
        return -4.0, 0.0
    vmin, vmax = float(np.log10(min(cells))), float(np.log10(max(cells)))
    if vmin == vmax:
        vmin, vmax = vmin - 0.5, vmax + 0.5
    return vmin, vmax


def log_heatmap_figure(
    matrix: Sequence[Sequence[float | None]],
    labels: Sequence[str],
    title: str,
    limits: tuple[float, float] | None = None,
    quantity: str = "FMR",
    axis_labels: tuple[str, str] = ("Group of the other image", "Group of one image"),
    counts: Sequence[Sequence[int | None]] | None = None,
) -> Figure:
    """A cross-group matrix as a log10 heatmap with every cell annotated, on the colour scale
    ``limits`` (log10; default: this matrix's own, :func:`shared_log_limits`), its colour bar
    and a legend for the cells without a colour.

    ``matrix[i][j]`` is the rate between group ``labels[i]`` and ``labels[j]`` (``None``
    where it is not estimated, grey). ``counts[i][j]``, where given, is the number of
    comparisons behind the cell: a ``None`` cell with comparisons is "too few" (fewer than the
    target needs, rule of three), one without is "n/a" — the legend names only what is drawn.
    Zero cells are shown as ``0`` on a hatched background, since log10(0) has no colour.
    """
    m = np.array([[np.nan if v is None else float(v) for v in row] for row in matrix])
    with np.errstate(divide="ignore", invalid="ignore"):
        logm = np.where(np.isfinite(m) & (m > 0), np.log10(m), np.nan)
    vmin, vmax = limits if limits is not None else shared_log_limits([matrix])
    n = len(labels)
    size = max(4.0, 1.0 + 0.9 * n)
    fig, ax = plt.subplots(figsize=(size + 1.2, size))
    ax.set_facecolor("#dddddd")
    image = ax.imshow(logm, cmap="cividis", vmin=vmin, vmax=vmax)
    cbar = fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    cbar.set_label(f"log10 {quantity} (one scale for every heatmap of this report)")
    mid = (vmin + vmax) / 2
    zeros = False
    shown_grey: set[str] = set()
    for i in range(n):
        for j in range(n):
            v = m[i, j]
            if not np.isfinite(v):
                text, colour = "n/a", "black"
                if counts is not None and (counts[i][j] or 0) > 0:
                    text = "too few"
                shown_grey.add(text)
            elif v == 0:
                text, colour, zeros = "0", "black", True
                ax.add_patch(plt.Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, hatch="//", lw=0))
            else:
                text = f"{v:.1e}"
                colour = "white" if logm[i, j] < mid else "black"
            ax.text(j, i, text, ha="center", va="center", color=colour, fontsize=9)
    ax.set_xticks(range(n), labels, rotation=30, ha="right")
    ax.set_yticks(range(n), labels)
    ax.set_xlabel(axis_labels[0])
    ax.set_ylabel(axis_labels[1])
    ax.set_title(title)
    grey = {"n/a": "n/a: no comparisons",
            "too few": "too few comparisons for this target (rule of three)"}
    handles = [Patch(facecolor="#dddddd", label=grey[k]) for k in grey if k in shown_grey]
    if zeros:
        handles.append(Patch(facecolor="white", hatch="//", label="0: no error"))
    if handles:
        ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=1,
                  fontsize="small", frameon=False)
    return fig


def heatmap_limits(fig: Figure) -> tuple[float, float]:
    """The colour norm limits (log10) a heatmap figure was drawn with."""
    low, high = fig.axes[0].images[0].get_clim()
    return float(low), float(high)


def fmr_heatmap(
    matrix: Sequence[Sequence[float | None]],
    labels: Sequence[str],
    title: str = "Cross-group FMR",
    limits: tuple[float, float] | None = None,
    counts: Sequence[Sequence[int | None]] | None = None,
) -> tuple[str, tuple[float, float]]:
    """The cross-group FMR heatmap (:func:`log_heatmap_figure`; ``counts``: the impostor
    comparisons behind each cell) as a PNG data URI, with the colour limits it was drawn with."""
    fig = log_heatmap_figure(matrix, labels, title, limits, counts=counts)
    drawn = heatmap_limits(fig)
    return to_data_uri(fig), drawn


def score_histograms(
    histograms: Mapping[str, tuple[Sequence[float], Sequence[float], Sequence[float]]],
    threshold: float | None = None,
    title: str = "Score distributions per group",
) -> str:
    """Draw genuine vs impostor score distributions, one small panel per group.

    ``histograms`` maps a group label to ``(bin_edges, genuine_counts, impostor_counts)``
    with ``len(bin_edges) == len(counts) + 1``. Each distribution is normalised to a density
    so that groups of different sizes compare; ``threshold`` is drawn as a vertical line.
    """
    n = max(1, len(histograms))
    cols = min(3, n)
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(
        rows, cols, figsize=(4.2 * cols, 3.0 * rows), squeeze=False, sharex=True
    )
    for ax, (label, (edges, genuine, impostor)) in zip(axes.flat, histograms.items(), strict=False):
        e = np.asarray(edges, dtype=float)
        widths = np.diff(e)
        for counts, name, colour, hatch in (
            (impostor, "impostor", OKABE_ITO[5], "//"),
            (genuine, "genuine", OKABE_ITO[0], None),
        ):
            c = np.asarray(counts, dtype=float)
            total = c.sum()
            density = c / (total * widths) if total > 0 else c
            ax.stairs(density, e, fill=True, alpha=0.45, color=colour, hatch=hatch, label=name)
            ax.stairs(density, e, color=colour, linewidth=1.2)
        if threshold is not None:
            ax.axvline(threshold, color="black", linestyle="--", linewidth=1, label="threshold")
        ax.set_title(label, fontsize="medium")
        ax.set_xlabel("Similarity score")
        ax.set_ylabel("Density")
    for ax in list(axes.flat)[len(histograms) :]:
        ax.set_visible(False)
    if histograms:
        axes.flat[0].legend(fontsize="small")
    fig.suptitle(title)
    fig.tight_layout()
    return to_data_uri(fig)
