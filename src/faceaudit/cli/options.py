"""What every ``faceaudit`` sub-command shares: exit codes, ``--home``, ``--actor``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from faceaudit.base.dask_cluster import ENV_VAR as CLUSTER_ENV_VAR
from faceaudit.base.dask_cluster import cluster_client as cluster_client
from faceaudit.base.home import Home, resolve_home

# Exit codes: a public contract (README).
EXIT_NO_MATCH = 1
EXIT_BAD_INPUT = 2
EXIT_GATE = 3
EXIT_TAMPERED = 4
EXIT_REFUSED = 5
EXIT_INPUTS_REFUSED = 6  # embed: some inputs were refused, the output holds the rest

HomeOption = Annotated[
    Path | None,
    typer.Option("--home", help="Deployment home (default: $FACEAUDIT_HOME or ~/.faceaudit)."),
]
ActorOption = Annotated[
    str | None,
    typer.Option("--actor", help="Who acts (default: $FACEAUDIT_ACTOR or the OS user)."),
]

def require_home(home: Path | None) -> Home:
    """Resolve ``--home`` and refuse a home ``faceaudit init`` did not create
    (:class:`~faceaudit.base.home.HomeMissingError` naming the path: exit 2). Every command but
    ``init`` opens its home through this."""
    return resolve_home(home).require()

CLUSTER_HELP = ("Dask scheduler (tcp://HOST:PORT) or local:N worker processes to run the work "
                "on (needs faceaudit\\[dask]; default: this process).")
ClusterOption = Annotated[
    str | None, typer.Option("--cluster", envvar=CLUSTER_ENV_VAR, help=CLUSTER_HELP)
]

