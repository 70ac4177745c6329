"""Real headless Chromium for the tests that render pages (Debian package ``chromium``)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--enable-logging=stderr",
    "--v=0",
    "--virtual-time-budget=15000",
)


def chromium() -> str:
    """Path of a Chromium binary; skips the test, saying why, when there is none."""
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    pytest.skip("no Chromium binary on PATH (Debian: apt-get install chromium)")


def open_in_chromium(target: str, profile: Path, *extra: str) -> tuple[str, list[str]]:
    """Open ``target`` (a URL) headless; return stdout and the page's console/error lines."""
    proc = subprocess.run(
        [chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *extra, target],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    console = [line for line in proc.stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line]
    return proc.stdout, console


_OVERFLOW_SCRIPT = """<script>
window.addEventListener("load", () => {
  const rows = [...document.querySelectorAll(SELECTOR)].map((el, i) =>
    [el.id || el.tagName.toLowerCase() + i, el.scrollWidth, el.clientWidth].join(" "));
  const out = document.createElement("pre");
  out.id = "faceaudit-overflow";
  out.textContent = rows.join("\\n");
  document.body.appendChild(out);
});
</script>"""


def overflowing(html: str, folder: Path, selector: str = "section",
                width: int = 1280) -> list[str]:
    """The elements matching ``selector`` whose content is wider than they are
    (``scrollWidth > clientWidth``) when ``html`` is laid out in Chromium ``width`` px wide.

    The page's own HTML and CSS are laid out as served; a measuring script is added to a copy
    in ``folder`` (a served page's CSP lets no inline script run), opened from a file.
    """
    folder.mkdir(parents=True, exist_ok=True)
    script = _OVERFLOW_SCRIPT.replace("SELECTOR", repr(selector))
    page = folder / "page.html"
    page.write_text(html.replace("</body>", script + "</body>"), encoding="utf-8")
    dom, _ = open_in_chromium(page.as_uri(), folder / "profile", "--dump-dom",
                              f"--window-size={width},900")
    found = dom.split('<pre id="faceaudit-overflow">', 1)
    assert len(found) == 2, "the measuring script did not run"
    rows = [line.split() for line in found[1].split("</pre>", 1)[0].strip().splitlines()]
    assert rows, f"no element matches {selector!r}"
    return [f"{name}: scrollWidth {scroll} > clientWidth {client}"
            for name, scroll, client in rows if int(scroll) > int(client)]
