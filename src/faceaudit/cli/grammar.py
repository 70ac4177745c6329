"""The one error grammar of the ``faceaudit`` command line (docs/cli.md).

Every error, a usage error included, is ONE line on stderr::

    faceaudit: error: <what> (<which file, option or command>)

and one exit code per meaning (:mod:`faceaudit.cli.options`). Commands never print errors
themselves: they raise, and :func:`run_command` — used once, by the top-level group — turns
what they raised into that line. A :class:`~faceaudit.base.errors.FaceAuditError` carries its own
exit code (``exit_code``: 2 bad input, 4 ledger tampered, 5 refused by policy) and, where the
raiser knew it, the file or field it is about (``which``).

Nothing here imports an engine: the top-level help must stay light.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import Any

import typer
from typer import _click as click
from typer._click import exceptions as errors  # Typer parses with its own copy of Click
from typer.core import TyperGroup

from faceaudit.base.errors import FaceAuditError

NoArgsIsHelpError = errors.NoArgsIsHelpError
PREFIX = "faceaudit: error: "
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130  # Ctrl-C, as shells report SIGINT


def error_line(what: str, which: str | None = None) -> str:
    """The one line for an error: the prefix, ``what`` on one line, then ``(which)`` unless
    ``what`` already names it."""
    text = " ".join(part.strip() for part in str(what).splitlines() if part.strip())
    text = text.rstrip(".") or "failed"
    if which and which not in text:
        text = f"{text} ({which})"
    return PREFIX + text


def warning_line(what: str) -> str:
    """A warning: one line on stderr, ``faceaudit: warning: <what>``; the command goes on."""
    return "faceaudit: warning: " + " ".join(str(what).split())


def _param_name(param: Any, ctx: Any) -> str | None:
    """How a user names a parameter (a Click parameter, ``ctx`` its context): its longest
    option string, or an argument's metavar; the command itself when there is none."""
    if param is None:
        return ctx.command_path if ctx is not None else None
    if param.param_type_name == "option" and param.opts:
        return max(param.opts, key=len)
    return param.metavar or (param.name or "argument").upper()


def _first_lower(text: str) -> str:
    return text[:1].lower() + text[1:] if text[:1].isupper() and not text[1:2].isupper() else text


ARGS_KEY = "faceaudit.command_args"  # ctx.meta: the arguments handed to the leaf command


def _all_missing(error: errors.MissingParameter) -> list[Any]:
    """Every required parameter the command line left out, not only the first Click met
    (parsed again from the arguments the command was given; [] when they are not known)."""
    ctx = error.ctx
    if ctx is None or ctx.command is None or ARGS_KEY not in ctx.meta:
        return []
    try:
        opts, _, _ = ctx.command.make_parser(ctx).parse_args(list(ctx.meta[ARGS_KEY]))
    except errors.UsageError:
        return []
    return [param for param in ctx.command.get_params(ctx)
            if param.required and opts.get(param.name) in (None, ())
            and param.resolve_envvar_value(ctx) is None]


def usage_line(error: errors.UsageError) -> str:
    """The one line for a Click/Typer usage error (missing or bad option, unknown command).
    A missing option names every missing one at once (``--purpose, --case``)."""
    ctx = error.ctx
    if isinstance(error, errors.MissingParameter):
        missing = _all_missing(error)
        if len(missing) > 1:
            kinds = {p.param_type_name for p in missing}
            kind = f"{kinds.pop()}s" if len(kinds) == 1 else "parameters"
            return error_line(f"missing {kind}", ", ".join(
                str(_param_name(p, ctx)) for p in missing))
        kind = error.param_type or (error.param.param_type_name if error.param else "parameter")
        return error_line(f"missing {kind}", _param_name(error.param, ctx))
    if isinstance(error, errors.BadParameter):
        which = _param_name(error.param, ctx) if error.param is not None else (
            error.param_hint if isinstance(error.param_hint, str) else None)
        what = _first_lower(error.message)
        if error.param is not None:
            what = f"invalid value: {what}"
        return error_line(what, which or (ctx.command_path if ctx else None))
    if isinstance(error, errors.BadOptionUsage):
        return error_line(_first_lower(error.message), error.option_name)
    return error_line(_first_lower(error.message), ctx.command_path if ctx else None)


def failure(exc: BaseException) -> tuple[str | None, int] | None:
    """The line to print and the exit code for ``exc``, or None for a bug (let it raise).

    ``typer.Exit`` carries a code and prints nothing.
    """
    if isinstance(exc, typer.Exit):
        return None, exc.exit_code
    if isinstance(exc, errors.UsageError):
        return usage_line(exc), EXIT_USAGE
    if isinstance(exc, errors.FileError):
        return error_line(f"cannot open the file: {exc.message}", exc.ui_filename), EXIT_USAGE
    if isinstance(exc, errors.ClickException):
        return error_line(_first_lower(exc.format_message())), exc.exit_code or EXIT_USAGE
    if isinstance(exc, FaceAuditError):
        return error_line(str(exc), exc.which), exc.exit_code
    if isinstance(exc, OSError):  # a file we were told to read or write
        what = exc.strerror or str(exc)
        return error_line(_first_lower(what), exc.filename and str(exc.filename)), EXIT_USAGE
    if isinstance(exc, (typer.Abort, KeyboardInterrupt, EOFError)):
        return error_line("interrupted"), EXIT_INTERRUPTED
    return None


def run_command(invoke: Callable[[], object]) -> int:
    """Run ``invoke`` (a Click ``main`` in non-standalone mode) and return the exit code,
    printing the one error line on stderr for anything a user can cause."""
    try:
        code = invoke()
    except BaseException as exc:
        outcome = failure(exc)
        if outcome is None:
            raise
        line, code = outcome
        if line is not None:
            sys.stdout.flush()
            typer.echo(line, err=True)
        return code
    return code if isinstance(code, int) else 0


class GrammarGroup(TyperGroup):
    """A command group whose :meth:`main` reports every error by the grammar: the one place
    errors are turned into lines and exit codes, for the console script, ``python -m
    faceaudit`` and in-process test runners alike (the top-level group and each sub-group)."""

    def format_help(self, ctx: click.Context, formatter: Any) -> None:
        """The group's help, tidied first (faceaudit.cli.helpview): plain metavars."""
        from faceaudit.cli.helpview import tidy_help

        tidy_help(self, ctx, root=ctx.parent is None)
        super().format_help(ctx, formatter)

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        """Resolve the sub-command; an unknown one is refused with a "did you mean" when a
        likely command exists (``enrol`` → ``gallery enrol``; faceaudit.cli.suggest)."""
        try:
            name, command, rest = super().resolve_command(ctx, args)
        except errors.UsageError as unknown:
            if not args or self.get_command(ctx, args[0]) is not None:
                raise
            from faceaudit.cli.suggest import with_suggestion

            raise errors.UsageError(with_suggestion(unknown.message, self, ctx, args[0]),
                                    ctx) from None
        ctx.meta[ARGS_KEY] = list(rest)  # meta is shared down the chain: for _all_missing
        from faceaudit.cli.helpview import tidy_help

        tidy_help(self, ctx, root=ctx.parent is None)
        if command is not None:
            tidy_help(command, ctx)
        return name, command, rest

    def main(  # type: ignore[override]
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        """Run the command line; every error becomes the grammar's one stderr line and its exit
        code. Called without arguments, a group prints its help (stdout, exit 0)."""

        def invoke() -> object:
            try:
                return super(GrammarGroup, self).main(
                    args, prog_name, complete_var, standalone_mode=False, **extra)
            except errors.NoArgsIsHelpError as asked:
                typer.echo(asked.ctx.get_help())
                return 0

        code = run_command(invoke)
        if standalone_mode:
            sys.exit(code)
        return code
