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


def det_plot(
    curves: Mapping[str, tuple[Sequence[float], Sequence[float]]],
    operating_points: Mapping[str, tuple[float, float]] | None = None,
    title: str = "DET curves per group",
) -> str:
    """Draw NIST-style DET curves (log FMR on x, log FNMR on y), one line per group.

    ``curves`` maps a group label to ``(fmr, fnmr)`` point lists. Points where either rate
    is zero cannot be drawn on log axes and are dropped. ``operating_points`` optionally maps
    a group label to its ``(fmr, fnmr)`` at the global threshold, drawn as a filled marker.
    """
    fig, ax = plt.subplots(figsize=(6.4, 5.2))
    lo_x = lo_y = 1.0
    for i, (label, (fmr, fnmr)) in enumerate(curves.items()):
        x = np.asarray(fmr, dtype=float)
        y = np.asarray(fnmr, dtype=float)
        keep = (x > 0) & (y > 0)
        style = group_style(i)
        if keep.any():
            lo_x = min(lo_x, float(x[keep].min()))
            lo_y = min(lo_y, float(y[keep].min()))
        ax.plot(
            x[keep],
            y[keep],
            color=style["color"],
            linestyle=style["linestyle"],
            marker=style["marker"],
            markevery=max(1, int(keep.sum()) // 8),
            markersize=5,
            linewidth=1.6,
            label=label,
        )
        if operating_points and label in operating_points:
            px, py = operating_points[label]
            if px > 0 and py > 0:
                ax.plot(
                    [px],
                    [py],
                    marker=style["marker"],
                    markersize=10,
                    color=style["color"],
                    markeredgecolor="black",
                    linestyle="none",
                )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(_log_floor(lo_x), 1.0)
    ax.set_ylim(_log_floor(lo_y), 1.0)
    ax.set_xlabel("False match rate (FMR)")
    ax.set_ylabel("False non-match rate (FNMR)")
    ax.set_title(title)
    ax.grid(True, which="major", alpha=0.5)
    ax.grid(True, which="minor", alpha=0.15)
    if curves:
        ax.legend(title="Group", fontsize="small")
    return to_data_uri(fig)


def fmr_heatmap(
    matrix: Sequence[Sequence[float | None]],
    labels: Sequence[str],
    title: str = "Cross-group FMR",
) -> str:
    """Draw the cross-group FMR matrix as a log10 heatmap with every cell annotated.

    ``matrix[i][j]`` is the FMR of impostor pairs between group ``labels[i]`` and
    ``labels[j]`` (``None`` where there are no pairs). Zero cells are shown as ``0`` on a
    hatched background, since log10(0) has no colour.
    """
    m = np.array([[np.nan if v is None else float(v) for v in row] for row in matrix])
    positive = m[np.isfinite(m) & (m > 0)]
    with np.errstate(divide="ignore", invalid="ignore"):
        logm = np.where(np.isfinite(m) & (m > 0), np.log10(m), np.nan)
    n = len(labels)
    size = max(4.0, 1.0 + 0.9 * n)
    fig, ax = plt.subplots(figsize=(size + 1.2, size))
    ax.set_facecolor("#dddddd")
    if positive.size:
        vmin, vmax = float(np.log10(positive.min())), float(np.log10(positive.max()))
        if vmin == vmax:
            vmin, vmax = vmin - 0.5, vmax + 0.5
    else:
        vmin, vmax = -4.0, 0.0
    image = ax.imshow(logm, cmap="cividis", vmin=vmin, vmax=vmax)
    cbar = fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    cbar.set_label("log10 FMR")
    mid = (vmin + vmax) / 2
    for i in range(n):
        for j in range(n):
            v = m[i, j]
            if not np.isfinite(v):
                text, colour = "n/a", "black"
            elif v == 0:
                text, colour = "0", "black"
                ax.add_patch(plt.Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, hatch="//", lw=0))
            else:
                text = f"{v:.1e}"
                colour = "white" if logm[i, j] < mid else "black"
            ax.text(j, i, text, ha="center", va="center", color=colour, fontsize=9)
    ax.set_xticks(range(n), labels, rotation=30, ha="right")
    ax.set_yticks(range(n), labels)
    ax.set_xlabel("Group of the other image")
    ax.set_ylabel("Group of one image")
    ax.set_title(title)
    return to_data_uri(fig)


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
