"""Failure to find a face on LFW, per sex group, and the detection work it took.

    .venv/bin/python scripts/lfw_detection.py [--data PATH_TO_LFW] [--upsample N]

Embeds every LFW image as the audit does (``faceaudit audit --lfw``: primary face, images with no
face skipped and counted), with the default detection (no upsampling, then upsample 1 only where
nothing is found) or with ``--upsample N`` on every image (N=1 was the default before issue 15),
and prints, per sex group from LFW's name lists, the share of images where no face was found
(failure to template, with a Wilson 95 % interval) and the CPU seconds per stage. Results are
cached, so rerunning a setting costs seconds.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

from faceaudit.audit.inputs import read_lfw_attributes
from faceaudit.base.datasets import LFW_HELP, find_lfw
from faceaudit.engine.embed_files import EmbedSettings, embed_paths, list_dataset


def wilson(failures: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval of a proportion."""
    if n == 0:
        return (0.0, 1.0)
    p = failures / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def main() -> None:
    """Embed LFW with one detection setting and print failure to template per sex group."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=None, help="LFW folder (one per person)")
    parser.add_argument("--upsample", type=int, default=None,
                        help="scan every image at this upsampling (default: 0, then 1 where"
                             " no face is found)")
    args = parser.parse_args()
    lfw = args.data or find_lfw()
    if lfw is None:
        raise SystemExit(LFW_HELP)
    paths, identities = list_dataset(lfw)
    settings = EmbedSettings(upsample=args.upsample, no_face="skip", primary_only=True)
    _, run = embed_paths(paths, identities, settings, root=lfw)
    attributes = read_lfw_attributes(lfw)
    missed = set(run.no_face)
    groups: dict[str, list[int]] = {}
    for path, identity in zip(paths, identities, strict=True):
        label = f"{identity}/{path.name}"
        sex = attributes.lookup(label, identity).get("sex") or "unlabelled"
        counts = groups.setdefault(sex, [0, 0])
        counts[0] += label in missed
        counts[1] += 1
    result = {
        "detection": "auto (0, then 1 where none)" if args.upsample is None
        else f"upsample {args.upsample}",
        "images": len(paths),
        "no_face": len(missed),
        "refused": len(run.errors),
        "failure_to_template": {
            sex: {"images": n, "no_face": f, "rate": round(f / n, 5),
                  "ci95": [round(v, 5) for v in wilson(f, n)]}
            for sex, (f, n) in sorted(groups.items())
        },
        "cpu_seconds_by_stage": {k: round(v, 1) for k, v in run.stage_seconds.items()},
        "from_cache": run.n_cached,
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
