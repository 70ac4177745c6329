"""``faceaudit review pending|show|decide`` and ``faceaudit lead action|outcome``.

Per-candidate review by independent reviewers, then what was done with a confirmed lead
(docs/decisions.md, "How a search becomes a decision"). The reviewer is the acting user
(``--actor``, ``$FACEAUDIT_ACTOR`` or the OS user). Exit codes as every deployment command: 0
done, 2 bad input, 4 a tampered ledger, 5 refused (the refusal is in the ledger).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from faceaudit.base.actor import default_actor
from faceaudit.cli.decision_option import one_decision
from faceaudit.cli.grammar import GrammarGroup
from faceaudit.cli.options import ActorOption, HomeOption, require_home
from faceaudit.cli.output import JsonOption, emit

if TYPE_CHECKING:
    from faceaudit.deployment.operations import Deployment
    from faceaudit.deployment.reviews import TaskRef

review_app = typer.Typer(
    help="Review candidates one by one, blind and independently: pending, show, decide.",
    no_args_is_help=True,
    cls=GrammarGroup,
)
lead_app = typer.Typer(
    help="A lead is not evidence: record an action on a confirmed lead (with independent"
         " evidence) and its outcome.",
    no_args_is_help=True,
    cls=GrammarGroup,
)

ResultArgument = Annotated[str, typer.Argument(help="Result id printed by identify")]
FaceArgument = Annotated[int, typer.Argument(help="Face index in the result (from 0)")]
CandidateArgument = Annotated[str, typer.Argument(help="The candidate's subject id")]
ByOption = Annotated[str, typer.Option("--by", help="The named person who attests it")]


def _deployment(home: Path | None) -> Deployment:
    from faceaudit.deployment.operations import Deployment

    return Deployment(require_home(home))


def _ref(task: str | None, result_id: str | None, face: int | None,
         candidate: str | None) -> TaskRef:
    from faceaudit.deployment.reviews import TaskRef

    if (task is None) == (result_id is None):
        raise typer.BadParameter("give a TASK id, or --result with --face and --candidate",
                                 param_hint="TASK")
    if result_id is not None and (face is None or candidate is None):
        raise typer.BadParameter("--result needs --face and --candidate", param_hint="--face")
    return TaskRef(task_id=task, result_id=result_id, face=face, subject_id=candidate)


@review_app.command()
def pending(home: HomeOption = None, actor: ActorOption = None,
            as_json: JsonOption = False) -> None:
    """List the review tasks you may still decide, oldest first, with their age."""
    emit({"pending": _deployment(home).pending_reviews(actor=default_actor(actor))}, as_json)


@review_app.command()
def show(
    task: Annotated[str, typer.Argument(help="Task id from review pending")],
    home: HomeOption = None,
    actor: ActorOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show one review task as you may see it (blind: no score, no rank; never another
    reviewer's decision)."""
    emit(_deployment(home).review_task(actor=default_actor(actor),
                                       ref=_ref(task, None, None, None)), as_json)


@review_app.command()
def decide(
    task: Annotated[str | None, typer.Argument(help="Task id from review pending")] = None,
    decision: Annotated[str | None, typer.Option(
        "--decision", metavar="confirm|reject",
        help="confirm: the candidate is the person; reject: not the person (REST: decision)")
    ] = None,
    confirm: Annotated[bool, typer.Option(
        "--confirm", help="Same as --decision confirm (the old spelling, accepted through 0.2)")
    ] = False,
    reject: Annotated[bool, typer.Option(
        "--reject", help="Same as --decision reject (the old spelling, accepted through 0.2)")
    ] = False,
    result_id: Annotated[str | None, typer.Option(
        "--result-id", "--result",
        help="Name the task by result id, with --face and --candidate (--result: the old "
             "name, accepted through 0.2)")] = None,
    face: Annotated[int | None, typer.Option("--face", help="Face index in the result")
                    ] = None,
    candidate: Annotated[str | None, typer.Option(
        "--candidate", help="The candidate's subject id")] = None,
    note: Annotated[str | None, typer.Option("--note", help="Free-text note")] = None,
    home: HomeOption = None,
    actor: ActorOption = None,
    as_json: JsonOption = False,
) -> None:
    """Decide one review task: --decision confirm or --decision reject, as the acting user."""
    chosen = one_decision(decision, {"confirm": confirm, "reject": reject})
    ref = _ref(task, result_id, face, candidate)
    emit(_deployment(home).review(actor=default_actor(actor), ref=ref,
                                  decision="confirm" if chosen == "confirm" else "reject",
                                  note=note), as_json)


@lead_app.command()
def action(
    result_id: ResultArgument,
    face: FaceArgument,
    candidate: CandidateArgument,
    kind: Annotated[str, typer.Option(
        "--kind", help="arrest, warrant, lineup, search, interview, surveillance or other")],
    by: ByOption,
    evidence: Annotated[str | None, typer.Option(
        "--evidence", help="Reference to the independent evidence the action rests on")] = None,
    home: HomeOption = None,
    actor: ActorOption = None,
    as_json: JsonOption = False,
) -> None:
    """Record an action on a confirmed lead; refused without independent evidence."""
    ref = _ref(None, result_id, face, candidate)
    emit(_deployment(home).lead_action(actor=default_actor(actor), ref=ref, kind=kind,
                                       evidence=evidence, by=by), as_json)


@lead_app.command()
def outcome(
    result_id: ResultArgument,
    face: FaceArgument,
    candidate: CandidateArgument,
    ended: Annotated[str, typer.Argument(
        metavar="OUTCOME", help="cleared, charged or no-further-action")],
    by: ByOption,
    home: HomeOption = None,
    actor: ActorOption = None,
    as_json: JsonOption = False,
) -> None:
    """Record how a confirmed lead ended: cleared, charged or no-further-action."""
    ref = _ref(None, result_id, face, candidate)
    emit(_deployment(home).lead_outcome(actor=default_actor(actor), ref=ref, outcome=ended,
                                        by=by), as_json)
