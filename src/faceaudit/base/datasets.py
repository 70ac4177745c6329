"""Where faceaudit looks for a benchmark dataset the user has put on their machine."""

from __future__ import annotations

import os
from pathlib import Path

LFW_HELP = (
    "LFW (Labeled Faces in the Wild) was not found. faceaudit looks for it at $FACEAUDIT_DATA, "
    "then ./data/lfw, then ../shared/data/lfw. Get the images from the LFW project page at the "
    "University of Massachusetts (the 'All images as gzipped tar file' download, research use "
    "only), unpack them so that each person has a folder (data/lfw/Aaron_Eckhart/"
    "Aaron_Eckhart_0001.jpg), and put pairs.txt and the gender lists (female_names.txt, "
    "male_names.txt) in a folder lfw-meta beside it (data/lfw-meta/). Or point faceaudit at your "
    "copy: FACEAUDIT_DATA=/path/to/lfw make demo."
)


def lfw_candidates(cwd: Path | None = None) -> list[Path]:
    """The places searched for LFW, in order."""
    cwd = cwd or Path.cwd()
    places = [cwd / "data" / "lfw", cwd.parent / "shared" / "data" / "lfw"]
    env = os.environ.get("FACEAUDIT_DATA")
    return ([Path(env).expanduser()] if env else []) + places


def find_lfw(cwd: Path | None = None) -> Path | None:
    """The first LFW folder found among :func:`lfw_candidates`, or None."""
    for candidate in lfw_candidates(cwd):
        if candidate.is_dir() and any(candidate.iterdir()):
            return candidate
    return None
