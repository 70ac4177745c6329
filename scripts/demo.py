"""`make demo`: the end-to-end audit — LFW by sex with the default model, report written.

Embeddings are cached after the first run (about 10 minutes on 2 cores; seconds afterwards).
The report lands in ./demo-out (report.json, report.html, CSV tables) and the headline is
printed. Where LFW is not on this machine, one paragraph says where to get it and put it.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from faceaudit.datasets import LFW_HELP, find_lfw

OUT = Path("demo-out")


def main() -> int:
    """Run the audit through the public CLI, exactly as a user would."""
    lfw = find_lfw()
    if lfw is None:
        print(LFW_HELP)
        return 2
    faceaudit = Path(sys.executable).with_name("faceaudit")
    print(f"faceaudit demo: auditing {lfw} by sex (FMR targets 1e-2, 1e-3, 1e-4) → {OUT}/")
    done = subprocess.run(
        [str(faceaudit), "audit", "--lfw", str(lfw), "--by", "sex", "--out", str(OUT),
         "--fail-if", "fmr_ratio>2", "--fail-if", "fnmr_ratio>1.5"],
        check=False,
    )
    if done.returncode == 3:
        print(f"\nThe bias gate failed (exit 3 in a pipeline): see {OUT}/report.html.")
        return 0
    return done.returncode


if __name__ == "__main__":
    sys.exit(main())
