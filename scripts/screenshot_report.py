"""Render an audit's report.json to report.html and screenshot it with headless Chromium.

    .venv/bin/python scripts/screenshot_report.py OUT_DIR/report.json [--png docs/img/report.png]

The README's screenshot (docs/img/report.png) comes from the report written by `make demo`.
Needs a Chromium binary (Debian: `apt-get install chromium`).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from faceaudit.audit.html import write_html

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report", type=Path, help="report.json written by `faceaudit audit`")
    parser.add_argument("--png", type=Path, default=Path("docs/img/report.png"))
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=2400)
    args = parser.parse_args()

    browser = next(
        (
            shutil.which(n)
            for n in ("chromium", "chromium-browser", "google-chrome")
            if shutil.which(n)
        ),
        None,
    )
    if browser is None:
        print("no Chromium binary on PATH (Debian: apt-get install chromium)", file=sys.stderr)
        return 2
    report = json.loads(args.report.read_text(encoding="utf-8"))
    args.png.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        page = write_html(report, Path(tmp))
        subprocess.run(
            [
                browser,
                *FLAGS,
                f"--user-data-dir={Path(tmp) / 'profile'}",
                f"--screenshot={args.png.resolve()}",
                f"--window-size={args.width},{args.height}",
                page.as_uri(),
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
    print(f"wrote {args.png}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
