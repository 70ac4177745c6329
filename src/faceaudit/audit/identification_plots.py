"""Plots of the identification audit (PNG data URIs, as :mod:`faceaudit.audit.plots`): FPIR
and FNIR per probe group with intervals, the false-candidate composition as one heatmap on
one log colour scale, and FPIR against gallery size per group on log axes (measured beside
predicted). Arrays in, images out; nothing is recomputed."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np

from faceaudit.audit.plots import group_style, heatmap_limits, log_heatmap_figure, to_data_uri


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
                        title: str) -> tuple[str, tuple[float, float]]:
    """The share of non-mated searches of each probe group (rows) returning an innocent
    candidate of each group (columns), every cell annotated, on a log colour scale as every
    cross-group heatmap (:func:`faceaudit.audit.plots.log_heatmap_figure`); with the colour
    limits it was drawn with."""
    fig = log_heatmap_figure(matrix, labels, title, quantity="share of non-mated searches",
                             axis_labels=("Group of the innocent candidate",
                                          "Group of the probe"))
    limits = heatmap_limits(fig)
    return to_data_uri(fig), limits


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
