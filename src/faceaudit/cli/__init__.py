"""The ``faceaudit`` command line: one module per command group; pillars never import Typer.

:mod:`faceaudit.cli.main` holds the Typer app and the engine commands (detect, embed, verify);
every other group lives in its own module here and is imported only when it runs
(:mod:`faceaudit.cli.lazy`).
"""

from faceaudit.cli.main import app, main

__all__ = ["app", "main"]
