"""The CLI imports only what a command needs (issue 15, cold start).

Behavioural, not timed: a fresh interpreter runs a command and then reports which heavy modules
ended up in ``sys.modules``. Speed itself is measured by bench/cold_start.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer

from faceaudit.cli import app
from faceaudit.cli.lazy import LAZY_COMMANDS

SRC = Path(__file__).resolve().parents[1] / "src"

# The model runtimes, the table/plot libraries and the web stack: none is needed to print help,
# read the ledger, install a policy, manage keys, create a home or witness a log.
HEAVY = ("dlib", "onnxruntime", "matplotlib", "pyarrow", "fastapi", "faiss", "numpy")

_PROBE = """
import json, sys
from faceaudit.cli import app  # importing the app object must not pull in the engines
loaded_on_import = sorted(m for m in {heavy} if m in sys.modules)
sys.argv = ["faceaudit", *{argv}]
from faceaudit.cli import main
try:
    main()
except SystemExit as stop:
    code = stop.code
print(json.dumps({{"on_import": loaded_on_import, "code": code,
                  "after_run": sorted(m for m in {heavy} if m in sys.modules)}}))
"""


def _run_fresh(argv: list[str], tmp_path: Path, heavy: tuple[str, ...] = HEAVY) -> dict:
    env = {**os.environ, "PYTHONPATH": str(SRC), "FACEAUDIT_HOME": str(tmp_path / "home"),
           "COLUMNS": "120"}
    done = subprocess.run(
        [sys.executable, "-c", _PROBE.format(heavy=repr(heavy), argv=repr(argv))],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("argv", [
    ["--help"],
    ["ledger", "--help"],
    ["policy", "--help"],
    ["keys", "--help"],
    ["init", "--help"],
    ["witness", "--help"],
])
def test_light_commands_start_without_engines_or_web_stack(argv: list[str], tmp_path: Path) -> None:
    """`faceaudit --help` and the record-keeping commands never import a model or web runtime."""
    probe = _run_fresh(argv, tmp_path)
    assert probe["on_import"] == []
    assert probe["code"] in (0, None)
    assert probe["after_run"] == [], f"{' '.join(argv)} imported {probe['after_run']}"


def test_keys_and_ledger_really_run_without_web_stack(tmp_path: Path) -> None:
    """Not just the help: creating a home and listing its keys and ledger stays light too."""
    assert _run_fresh(["init"], tmp_path)["code"] in (0, None)
    for argv in (["keys", "list"], ["ledger", "verify"]):
        probe = _run_fresh(argv, tmp_path)
        assert probe["code"] in (0, None), argv
        assert probe["after_run"] == [], f"{' '.join(argv)} imported {probe['after_run']}"


def test_top_help_lists_every_command_with_its_own_summary() -> None:
    """The summaries the top-level help shows without importing are the commands' real help."""
    group = typer.main.get_command(app)
    for name, lazy in LAZY_COMMANDS.items():
        command = lazy.load(name)
        first_paragraph = " ".join((command.help or "").split("\n\n")[0].split())
        assert " ".join(lazy.summary.split()) == first_paragraph, name
        assert command.name == name
    ctx = typer.Context(group)
    assert set(LAZY_COMMANDS) <= set(group.list_commands(ctx))


def test_embed_writes_its_parquet_table_without_importing_pandas(
    tmp_path: Path, faces_small: Path
) -> None:
    """pyarrow imports pandas whenever ``pa.array`` is called; the faces table is built from
    buffers instead, so a cold ``embed`` pays for neither pandas nor the full Pillow registry."""
    out = tmp_path / "one.parquet"
    image = faces_small / "face_recognition-mit" / "obama.jpg"
    probe = _run_fresh(["embed", str(image), "--out", str(out), "--workers", "1"], tmp_path,
                       heavy=("pandas", "PIL.PdfImagePlugin", "pyarrow", "dlib", "onnxruntime"))
    assert probe["code"] in (0, None)
    assert probe["after_run"] == ["dlib", "onnxruntime", "pyarrow"]
    import pyarrow.parquet as pq

    table = pq.read_table(out)
    assert table.num_rows == 1 and table.column("identity").to_pylist() == [None]
    assert table.column("box").to_pylist()[0][2] > table.column("box").to_pylist()[0][0]
