"""Plots of the identification audit (PNG data URIs, as :mod:`faceaudit.audit.plots`): FPIR
and FNIR per probe group with intervals, the false-candidate composition as one heatmap on
one colour scale, and FPIR against gallery size per group on log axes (measured beside
predicted). Arrays in, images out; nothing is recomputed."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np

from faceaudit.audit.plots import group_style, to_data_uri


def _errorbars(value: float, low: float | None, high: float | None) -> list[list[float]]:
    lo = value if low is None else low
    hi = value if high is None else high
    return [[max(value - lo, 0.0)], [max(hi - value, 0.0)]]


def rates_plot(groups: Sequence[str], rates: Mapping[str, Sequence[Mapping | None]]) -> str:
    """Bars per group for each rate (``{"FPIR": [estimate per group], "FNIR": [...]}``), with
    the interval of each estimate as an error bar; a missing value is left blank."""
    fig, axes = plt.subplots(1, len(rates), figsize=(4.2 * len(rates), 3.4), squeeze=False)
    for ax, (name, estimates) in zip(axes[0], rates.items(), strict=True):
        for i, est in enumerate(estimates):
            if not est or est.get("value") is None:
                continue
            style = group_style(i)
            ax.bar(i, est["value"], color=style["color"], width=0.6,
                   yerr=_errorbars(est["value"], est.get("low"), est.get("high")), capsize=6,
                   hatch=None if i % 2 == 0 else "//", edgecolor="black", linewidth=0.6)
        ax.set_xticks(range(len(groups)), groups, rotation=20)
        ax.set_ylabel(name)
        ax.set_ylim(0, min(1.0, max(0.05, ax.get_ylim()[1])))
        ax.set_title(f"{name} per probe group")
    fig.tight_layout()
    return to_data_uri(fig)


def composition_heatmap(matrix: Sequence[Sequence[float | None]], labels: Sequence[str],
                        title: str) -> str:
    """The share of non-mated searches of each probe group (rows) returning an innocent
    candidate of each group (columns), on one linear colour scale from 0, every cell
    annotated."""
    m = np.array([[np.nan if v is None else float(v) for v in row] for row in matrix])
    n = len(labels)
    size = max(4.0, 1.0 + 0.9 * n)
    fig, ax = plt.subplots(figsize=(size + 1.2, size))
    ax.set_facecolor("#dddddd")
    top = float(np.nanmax(m)) if np.isfinite(m).any() and np.nanmax(m) > 0 else 1.0
    image = ax.imshow(m, cmap="cividis", vmin=0.0, vmax=top)
    cbar = fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    cbar.set_label("share of non-mated searches")
    for i in range(n):
        for j in range(n):
            v = m[i, j]
            text = "n/a" if not np.isfinite(v) else f"{v:.3g}"
            colour = "white" if np.isfinite(v) and v < top / 2 else "black"
            ax.text(j, i, text, ha="center", va="center", color=colour, fontsize=9)
    ax.set_xticks(range(n), labels, rotation=30, ha="right")
    ax.set_yticks(range(n), labels)
    ax.set_xlabel("Group of the innocent candidate")
    ax.set_ylabel("Group of the probe")
    ax.set_title(title)
    return to_data_uri(fig)


def gallery_size_plot(
    sizes: Sequence[int],
    measured: Mapping[str, Sequence[Mapping | None]],
    predicted: Mapping[str, Sequence[float | None]],
) -> str:
    """FPIR against gallery size per group on log–log axes: measured points with intervals
    (markers, solid) and the independence prediction (dashed line, same colour)."""
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    x = np.asarray(sizes, dtype=float)
    smallest = 1.0
    for i, group in enumerate(measured):
        style = group_style(i)
        pts = [(s, e) for s, e in zip(x, measured[group], strict=True)
               if e and e.get("value") is not None and e["value"] > 0]
        if pts:
            xs = np.array([p[0] for p in pts])
            ys = np.array([p[1]["value"] for p in pts])
            err = np.hstack([_errorbars(p[1]["value"], p[1].get("low"), p[1].get("high"))
                             for p in pts])
            ax.errorbar(xs, ys, yerr=err, color=style["color"], marker=style["marker"],
                        linestyle="-", capsize=4, label=f"{group} measured")
            smallest = min(smallest, float(ys.min()))
        pred = np.array([np.nan if v is None else v for v in predicted[group]], dtype=float)
        ok = np.isfinite(pred) & (pred > 0)
        if ok.any():
            ax.plot(x[ok], pred[ok], color=style["color"], linestyle="--",
                    label=f"{group} predicted (independence)")
            smallest = min(smallest, float(pred[ok].min()))
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_ylim(max(smallest / 2, 1e-6), 1.05)
    ax.set_xlabel("Gallery size N (enrolled subjects)")
    ax.set_ylabel("FPIR")
    ax.set_title("FPIR against gallery size")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    return to_data_uri(fig)
