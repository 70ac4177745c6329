"""The CLI's one grammar (docs/cli.md), walked over EVERY command.

Each command — the engine commands, every lazy sub-command of ``cli/lazy.py`` and every
sub-command of the groups — is run in-process with a bad argument: the error must be exactly one
line on stderr, ``faceaudit: error: <what> (<which>)``, naming what was wrong, nothing on
stdout, and the exit code of the README's table. A new command fails this test until it has a
bad-argument case below.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from faceaudit.cli import app
from faceaudit.cli.lazy import LAZY_COMMANDS
from faceaudit.ledger.genesis import init_home

PREFIX = "faceaudit: error: "


def _leaf_commands() -> list[str]:
    """Every runnable command path ("gallery enrol", "detect", …), hidden ones included."""
    root = typer.main.get_command(app)
    found: list[str] = []

    def walk(group, prefix: list[str]) -> None:
        ctx = typer.Context(group)
        for name in group.list_commands(ctx):
            command = group.get_command(ctx, name)
            if hasattr(command, "list_commands"):
                walk(command, [*prefix, name])
            else:
                found.append(" ".join([*prefix, name]))

    walk(root, [])
    return found


COMMANDS = _leaf_commands()


@pytest.fixture(scope="module")
def place(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with an initialised home (``home``), a plain file and nothing else."""
    root = tmp_path_factory.mktemp("grammar")
    init_home(root / "home")
    (root / "plain.txt").write_text("not a folder, not an image")
    return root


@pytest.fixture(scope="module")
def busy_port() -> Iterator[int]:
    """A port some other program is listening on."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        yield taken.getsockname()[1]


def bad_arguments(place: Path, port: int) -> dict[str, tuple[list[str], int, str]]:
    """Per command: arguments with one thing wrong, the exit code, and what the line must name."""
    home = ["--home", str(place / "home")]
    no_home = str(place / "no-home")
    missing = str(place / "missing.jpg")
    plain = str(place / "plain.txt")
    no_folder = str(place / "no-folder" / "out.x")
    return {
        "detect": ([missing], 2, missing),
        "embed": ([missing, "-o", str(place / "e.parquet")], 2, missing),
        "verify": ([plain, plain], 2, plain),
        "init": (["--home", plain + "/home"], 2, plain),
        "audit": (["--scores", missing], 2, missing),
        "compare": ([missing, plain], 2, missing),
        "identify": ([missing, "--purpose", "p", "--case", "c", "--home", no_home], 2, no_home),
        "review pending": (["--home", no_home], 2, no_home),
        "review show": (["t1", "--home", no_home], 2, no_home),
        "review decide": (["t1", "--confirm", "--reject", *home], 2, "--confirm"),
        "lead action": (["r1", "zero", "s", "--kind", "arrest", "--by", "b", *home], 2,
                        "FACE"),
        "lead outcome": (["r1", "0", "s", "cleared", "--by", "b", "--home", no_home], 2,
                         no_home),
        "witness": (["--state", str(place / "w"), "--home", str(place / "home"), "--url", "x"],
                    2, "--url"),
        "redact": ([missing, "-o", str(place / "r.jpg")], 2, missing),
        "serve": (["--port", str(port), *home], 2, f"127.0.0.1:{port}"),
        "auditor keygen": (["--out", plain], 2, plain),
        "auditor sign": ([missing, "--key", plain], 2, plain),
        "gallery enrol": ([missing, "--subject", "s1", "--basis", "hearsay", "--evidence", "e",
                           *home], 2, "hearsay"),
        "gallery enrol-folder": ([plain, "--basis", "consent", "--evidence-column", "ref",
                                  *home], 2, plain),
        "gallery list": (["--home", no_home], 2, no_home),
        "gallery erase": (["nobody", *home], 2, "nobody"),
        "gallery purge": (["--home", no_home], 2, no_home),
        "gallery subject-export": (["p1", "--home", no_home], 2, no_home),
        "case export": (["C-1", "--out", str(place / "bundle"), "--home", no_home], 2, no_home),
        "report accountability": (["--out", str(place / "acc"), "--home", no_home], 2,
                                  no_home),
        "case verify": ([missing, "--public-key", plain], 2, missing),
        "ledger verify": (["--home", no_home], 2, no_home),
        "ledger export": ([*home, "--out", no_folder], 2, no_folder),
        "ledger report": (["--from", "soon", "--to", "2020-01-01", "--out", plain, *home],
                          2, "--from"),
        "report transparency": (["--from", "soon", "--to", "2020-01-01", *home], 2, "--from"),
        "ledger sth": (["--key", missing, *home], 2, missing),
        "ledger checkpoint": (["--key", missing, *home], 2, missing),
        "ledger prove": (["--seq", "99", *home], 2, "99"),
        "ledger keygen": (["--out", no_folder, "--home", no_home], 2, no_home),
        "ledger restore-heads": ([missing, *home], 2, missing),
        "policy show": (["--home", no_home], 2, no_home),
        "policy set": ([missing, *home], 2, missing),
        "policy register-audit": ([missing, *home], 2, missing),
        "policy status": (["--home", no_home], 2, no_home),
        "policy init": ([plain], 2, plain),
        "policy trust-key": ([missing, *home], 2, missing),
        "policy untrust-key": ([plain, *home], 2, plain),
        "authorisation record": (["r1", "--granted", "--expires", "soon", *home], 2, "soon"),
        "authorisation held": (["--home", no_home], 2, no_home),
        "authorisation sweep": (["--home", no_home], 2, no_home),
        "keys create": (["--role", "root", "--actor", "x", *home], 2, "root"),
        "keys revoke": (["no-such-key", *home], 2, "no-such-key"),
        "keys list": (["--home", no_home], 2, no_home),
    }


def _check_one_line(result, code: int, names: str, args: list[str]) -> None:
    shown = f"{args}: exit {result.exit_code}\nstdout={result.stdout!r}\nstderr={result.stderr!r}"
    assert result.exit_code == code, shown
    assert result.exception is None or isinstance(result.exception, SystemExit), shown
    lines = result.stderr.splitlines()
    assert len(lines) == 1, shown
    assert lines[0].startswith(PREFIX) and len(lines[0]) > len(PREFIX), shown
    assert names in lines[0], shown
    assert result.stdout == "", shown


def test_every_command_is_walked(place: Path) -> None:
    """The table covers every command the CLI has (engine, lazy, and each group's)."""
    assert set(LAZY_COMMANDS) <= {c.split()[0] for c in COMMANDS}
    assert set(COMMANDS) == set(bad_arguments(place, 0)), "give the new command a bad argument"


@pytest.mark.parametrize("command", COMMANDS)
def test_bad_argument_is_one_line_and_its_exit_code(
    command: str, place: Path, busy_port: int
) -> None:
    """A bad argument: one ``faceaudit: error:`` line naming it, nothing on stdout, exit 2."""
    args, code, names = bad_arguments(place, busy_port)[command]
    argv = [*command.split(), *args]
    _check_one_line(CliRunner().invoke(app, argv), code, names, argv)


@pytest.mark.parametrize("command", COMMANDS)
def test_usage_error_is_one_line(command: str) -> None:
    """An unknown option is a usage error: one line naming the option, not a help panel."""
    argv = [*command.split(), "--no-such-option"]
    _check_one_line(CliRunner().invoke(app, argv), 2, "--no-such-option", argv)


def test_missing_argument_and_unknown_command_are_one_line() -> None:
    """Missing arguments/options and unknown commands name what is missing or unknown."""
    for argv, names in (
        (["detect"], "IMAGE"),
        (["embed", "x.jpg"], "--out"),
        (["gallery", "enrol", "x.jpg"], "--subject"),
        (["no-such-command"], "no-such-command"),
        (["gallery", "no-such-command"], "no-such-command"),
        (["serve", "--port", "70000"], "--port"),
    ):
        _check_one_line(CliRunner().invoke(app, argv), 2, names, argv)


def test_a_group_without_a_command_prints_its_help() -> None:
    """``faceaudit`` or ``faceaudit gallery`` alone shows the help on stdout (exit 0)."""
    for argv in ([], ["gallery"]):
        result = CliRunner().invoke(app, argv)
        assert result.exit_code == 0 and "Usage:" in result.stdout and result.stderr == ""


def test_exit_codes_by_meaning(tmp_path: Path) -> None:
    """4 tampered, 5 refused by policy: one line each, from the same grammar."""
    from faceaudit.ledger import Ledger

    photo = Path(__file__).resolve().parents[2] / "demo" / "photos" / "mdtf-cc-by-2.0" / "1.png"
    home = init_home(tmp_path / "home")
    h = ["--home", str(home.root)]
    refused = CliRunner().invoke(app, ["identify", str(photo), "--purpose", "p", "--case", "c",
                                       *h])
    _check_one_line(refused, 5, "refused by policy", ["identify"])

    Ledger(home).append("alice", "enrol")
    lines = home.ledger_path.read_bytes().splitlines(keepends=True)
    home.ledger_path.write_bytes(b"".join(lines[:-1]) + lines[-1].replace(b"alice", b"mallory"))
    tampered = CliRunner().invoke(app, ["gallery", "purge", *h])
    _check_one_line(tampered, 4, "ledger", ["gallery", "purge"])
    verified = CliRunner().invoke(app, ["ledger", "verify", *h])
    assert verified.exit_code == 4 and "TAMPERED" in verified.stdout  # the report is data
    assert verified.stderr.startswith(PREFIX) and len(verified.stderr.splitlines()) == 1
