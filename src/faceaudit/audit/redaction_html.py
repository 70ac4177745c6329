"""The ``redaction`` section of ``report.html``: tables, a recall plot and a headline per tool.

Presenting only: everything is read from the report's ``redaction`` section
(:mod:`faceaudit.audit.redaction`, docs/report-schema.md); nothing is recomputed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt

from faceaudit.audit import html_parts as hp
from faceaudit.audit import plots


def redaction_view(section: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The template's view of a ``redaction`` section, or ``None`` when the report has none."""
    if not section:
        return None
    tools = section.get("tools") or []
    criterion = section.get("criterion") or {}
    clip = section.get("clip") or {}
    return {
        "clip": _clip_text(clip),
        "criterion": (
            f"A face-frame counts when at least {hp.num(criterion.get('min_visible'))} of the "
            f"face is in view; it is covered when at least {hp.num(criterion.get('min_covered'))} "
            "of its visible part lies under the redaction. Brackets are 95% bootstrap intervals "
            "(faces resampled within their group), or an exact one-sided bound when no "
            "face-frame (or every one) was missed."),
        "headlines": [_headline(t) for t in tools],
        "tools_table": _tools_table(tools),
        "group_table": _group_table(tools),
        "figure": _figure(tools, section.get("groups") or []),
    }


def _clip_text(clip: Mapping[str, Any]) -> str:
    size = f"{clip.get('width')}×{clip.get('height')}" if clip.get("width") else "?"
    return (f"Clip {clip.get('path') or ''} {size}, {hp.count(clip.get('frames'))} frames at "
            f"{hp.num(clip.get('fps'))} fps, {hp.count(clip.get('faces'))} faces "
            f"({clip.get('generator') or 'labelled'}, seed {clip.get('seed')}).").replace("  ", " ")


def _headline(tool: Mapping[str, Any]) -> str:
    groups = "; ".join(f"{g['group']} {hp.estimate(g.get('recall'), '.4f')}"
                       for g in tool.get("per_group") or [])
    return (f"{tool['tool']}: recall {hp.estimate(tool.get('recall'), '.4f')} — "
            f"{hp.count(tool.get('missed_face_frames'))} of {hp.count(tool.get('face_frames'))} "
            f"face-frames missed, {hp.count(tool.get('frames_with_uncovered_face'))} frames with a "
            f"face left uncovered. By group: {groups or 'none'}.")


def _tools_table(tools: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    rows = [hp.row([str(t["tool"]), hp.estimate_cell(t.get("recall"), ".4f"),
                    hp.estimate_cell(t.get("miss_rate"), ".3g"), hp.count(t.get("face_frames")),
                    hp.count(t.get("missed_face_frames")),
                    hp.count(t.get("frames_with_uncovered_face")),
                    hp.num(t.get("frames_per_s"), ".3g"), str(t.get("notes") or "")])
            for t in tools]
    return hp.table("Redaction recall per tool (all faces)",
                    ["Tool", "Recall [95% CI]", "Miss rate [95% CI]", "Face-frames",
                     "Missed face-frames", "Frames with a face uncovered", "Frames/s", "Notes"],
                    rows)


def _group_table(tools: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    rows = [hp.row([f"{t['tool']}: {g['group']}", hp.estimate_cell(g.get("recall"), ".4f"),
                    hp.estimate_cell(g.get("miss_rate"), ".3g"), hp.count(g.get("faces")),
                    hp.count(g.get("face_frames")), hp.count(g.get("missed_face_frames")),
                    hp.count(g.get("frames_with_uncovered_face"))])
            for t in tools for g in t.get("per_group") or []]
    return hp.table("Who is left visible: redaction recall per group",
                    ["Tool: group", "Recall [95% CI]", "Miss rate [95% CI]", "Faces",
                     "Face-frames", "Missed face-frames", "Frames with one uncovered"], rows)


def _figure(tools: Sequence[Mapping[str, Any]], groups: Sequence[str]) -> dict[str, str] | None:
    points = [(t["tool"], i, g["recall"]) for t in tools
              for i, g in enumerate(t.get("per_group") or [])
              if (g.get("recall") or {}).get("value") is not None]
    if not points:
        return None
    fig, ax = plt.subplots(figsize=(6.4, 0.5 * len(points) + 1.4))
    lows = []
    for row, (_tool, index, est) in enumerate(points):
        style = plots.group_style(index)
        low = est["low"] if est.get("low") is not None else est["value"]
        high = est["high"] if est.get("high") is not None else est["value"]
        lows.append(low)
        ax.errorbar([est["value"]], [row], xerr=[[est["value"] - low], [high - est["value"]]],
                    fmt=str(style["marker"]), color=str(style["color"]), capsize=4)
    ax.set_yticks(range(len(points)), [f"{tool}: {groups[i]}" for tool, i, _ in points])
    ax.invert_yaxis()
    ax.set_xlim(max(0.0, min(lows) - 0.01), 1.0005)
    ax.set_xlabel("Frame-level redaction recall (share of face-frames covered)")
    ax.set_title("Redaction recall per group, 95% intervals")
    ax.grid(True, axis="x", alpha=0.4)
    return {"src": plots.to_data_uri(fig),
            "alt": "Dot plot of redaction recall per tool and group with 95% interval bars: "
                   + "; ".join(f"{tool} {groups[i]} {hp.estimate(e, '.4f')}"
                               for tool, i, e in points),
            "caption": "Redaction recall per tool and group. A bar further left means faces of "
                       "that group were left visible more often."}
