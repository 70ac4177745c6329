"""``faceaudit audit``: the Typer command (registered by faceaudit.cli as ``audit``).

A thin adapter over :mod:`faceaudit.audit.dispatch`, which decides which inputs may be combined
and runs the audit: options → :class:`~faceaudit.audit.dispatch.AuditRequest` →
:func:`~faceaudit.audit.dispatch.run_audit` → report files, signature and terminal summary.

Exit codes: 0 audit written, 2 bad input (one-line error), 3 a ``--fail-if`` rule failed.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from faceaudit.audit.comparison_terminal import print_comparison
from faceaudit.audit.dispatch import AuditRequest, run_audit
from faceaudit.audit.estimates import MIN_IDENTITIES
from faceaudit.audit.quality_terminal import print_quality
from faceaudit.audit.report import write_report
from faceaudit.audit.terminal import headline, json_summary, print_warnings
from faceaudit.cli.options import CLUSTER_ENV_VAR, CLUSTER_HELP, EXIT_GATE

# --help panels: which options apply to which input and mode
INPUT = "Input (exactly one: DATA, --embeddings, --scores, --rates, --lfw or --pad-scores)"
MODELS = "Models (DATA, --lfw)"
GROUPS = "Groups"
THRESHOLDS = "Thresholds and intervals"
GATE = "Gate"
IDENTIFICATION = "Identification mode (--mode identification)"
OUTPUT = "Output"
SIGNING = "Signing"
COMPUTE = "Compute (DATA, --lfw, --embeddings)"
PAD = "Presentation attack detection (--pad-scores, ISO/IEC 30107-3)"


def policy_point(path: Path) -> tuple[list[float], int]:
    """The operating point of a deployment policy file: ([fmr_target], max_candidates)."""
    from faceaudit.policy.model import read_policy_file

    policy, _ = read_policy_file(path)
    return [policy.fmr_target], policy.max_candidates


def audit_command(
    data: Annotated[
        Path | None, typer.Argument(help="Dataset folder: one sub-folder of images per identity.")
    ] = None,
    embeddings: Annotated[
        list[Path] | None,
        typer.Option(
            help="Embeddings Parquet (as written by 'faceaudit embed'); repeat to compare "
            "models of the same images.",
            rich_help_panel=INPUT,
        ),
    ] = None,
    scores: Annotated[
        list[Path] | None,
        typer.Option(
            help="Scores: score, genuine, group_a, group_b[, subject_a, subject_b]; repeat to "
            "compare models' scores of the same comparisons (same rows, same order).",
            rich_help_panel=INPUT,
        ),
    ] = None,
    lower_is_better: Annotated[
        bool,
        typer.Option(
            "--lower-is-better",
            help="--scores are distances: a comparison matches when score <= threshold.",
            rich_help_panel=INPUT,
        ),
    ] = False,
    rates: Annotated[
        Path | None,
        typer.Option(help="Rates table: group, fmr, fnmr and/or accuracy.",
                     rich_help_panel=INPUT),
    ] = None,
    lfw: Annotated[
        Path | None,
        typer.Option(help="LFW folder; labels from ../lfw-meta beside it.", rich_help_panel=INPUT),
    ] = None,
    pad_scores: Annotated[
        Path | None,
        typer.Option("--pad-scores",
                     help="PAD scores: score, presentation (bona_fide or the attack species), "
                     "group, subject[, comparison_score]: APCER/BPCER/IAPMR per group.",
                     rich_help_panel=INPUT),
    ] = None,
    pairs: Annotated[
        Path | None,
        typer.Option(
            help="Audit only these pairs (LFW pairs.txt, or CSV image_a,image_b) "
            "instead of every pair.",
            rich_help_panel=INPUT,
        ),
    ] = None,
    backend: Annotated[
        list[str] | None,
        typer.Option(
            help="Model for DATA/--lfw: dlib-resnet (default), dlib-native, onnx; repeat to "
            "compare models.",
            rich_help_panel=MODELS,
        ),
    ] = None,
    model: Annotated[
        Path | None,
        typer.Option(help="ArcFace-style .onnx file for --backend onnx.", rich_help_panel=MODELS),
    ] = None,
    no_face: Annotated[
        str,
        typer.Option(help="DATA/--lfw images with no face: skip (counted) or centre crop.",
                     rich_help_panel=MODELS),
    ] = "skip",
    attributes: Annotated[
        Path | None,
        typer.Option(help="CSV/Parquet with an 'identity' or 'image' column and attributes.",
                     rich_help_panel=GROUPS),
    ] = None,
    by: Annotated[
        str,
        typer.Option(help="Attribute(s) to group by, e.g. sex or sex,race.",
                     rich_help_panel=GROUPS),
    ] = "",
    min_identities: Annotated[
        int,
        typer.Option(min=1, help="Flag rates resting on fewer identities than this.",
                     rich_help_panel=GROUPS),
    ] = MIN_IDENTITIES,
    fmr: Annotated[
        str, typer.Option(help="Target FMRs, comma-separated.", rich_help_panel=THRESHOLDS)
    ] = "1e-2,1e-3,1e-4",
    bootstrap: Annotated[
        int,
        typer.Option(min=0, help="Bootstrap replicates (identities resampled); 0 = none.",
                     rich_help_panel=THRESHOLDS),
    ] = 1000,
    seed: Annotated[int, typer.Option(help="Bootstrap seed.", rich_help_panel=THRESHOLDS)] = 0,
    alpha: Annotated[
        float,
        typer.Option(min=0.0, max=1.0, help="Weight of FMR vs FNMR in the summaries.",
                     rich_help_panel=THRESHOLDS),
    ] = 0.5,
    operating_points: Annotated[
        bool,
        typer.Option("--operating-points",
                     help="Per target, a grid of global thresholds with every group's rates "
                          "and the worst-group threshold (every group's FMR upper bound within "
                          "the target).", rich_help_panel=THRESHOLDS),
    ] = False,
    fail_if: Annotated[
        list[str] | None,
        typer.Option("--fail-if", help="Gate rule, e.g. 'fmr_ratio>2' or 'fnmr_ratio>1.5@1e-2'.",
                     rich_help_panel=GATE),
    ] = None,
    mode: Annotated[
        str,
        typer.Option(
            help="verification (1:1, the default) or identification (1:N searches of a "
            "gallery: FPIR/FNIR per probe group).",
            rich_help_panel=IDENTIFICATION,
        ),
    ] = "verification",
    candidates: Annotated[
        int,
        typer.Option(min=1, help="Identification: candidate list length R per search.",
                     rich_help_panel=IDENTIFICATION),
    ] = 10,
    repeats: Annotated[
        int,
        typer.Option(min=1, help="Identification: seeded enrolled/non-enrolled splits.",
                     rich_help_panel=IDENTIFICATION),
    ] = 20,
    gallery_templates: Annotated[
        str,
        typer.Option(
            help="Identification: 'one' template per enrolled identity, or 'all' of its images "
            "but one (held out as its mated probe).",
            rich_help_panel=IDENTIFICATION,
        ),
    ] = "one",
    gallery_size: Annotated[
        str,
        typer.Option(
            help="Identification: further gallery sizes, e.g. 1e3,1e4 (measured by subsampling "
            "where the data allow, predicted beyond).",
            rich_help_panel=IDENTIFICATION,
        ),
    ] = "",
    calibration: Annotated[
        Path | None,
        typer.Option(help="Identification (and --pad-scores IAPMR): calibration for the "
                     "thresholds (default: the backend's shipped one).",
                     rich_help_panel=IDENTIFICATION),
    ] = None,
    policy: Annotated[
        Path | None,
        typer.Option(help="Identification: a deployment policy.toml; its fmr_target and "
                     "max_candidates set the operating point.", rich_help_panel=IDENTIFICATION),
    ] = None,
    lower_is_attack: Annotated[
        bool,
        typer.Option("--lower-is-attack/--higher-is-attack",
                     help="PAD score direction: lower means attack, i.e. accepted as bona fide "
                     "when score >= threshold (the default); --higher-is-attack for "
                     "attack/spoof scores.", rich_help_panel=PAD),
    ] = True,
    pai_species: Annotated[
        str,
        typer.Option("--pai-species", help="Declared attack species, comma-separated; any "
                     "other presentation value is refused.", rich_help_panel=PAD),
    ] = "",
    apcer: Annotated[
        str,
        typer.Option("--apcer", help="APCER targets of BPCER at APCER (BPCER100, BPCER20, "
                     "BPCER10), comma-separated.", rich_help_panel=PAD),
    ] = "1e-2,5e-2,1e-1",
    pad_threshold: Annotated[
        float | None,
        typer.Option("--pad-threshold", help="The vendor's deployed PAD threshold: rates "
                     "there too (gate rules without @ are judged there).",
                     rich_help_panel=PAD),
    ] = None,
    comparison_threshold: Annotated[
        float | None,
        typer.Option("--comparison-threshold", help="IAPMR: an attack matches when its "
                     "comparison_score >= this (default: --calibration's threshold at the "
                     "primary --fmr).", rich_help_panel=PAD),
    ] = None,
    pad_system: Annotated[
        str | None,
        typer.Option("--pad-system", help="The PAD system measured, NAME:VERSION (recorded in "
                     "the report; a policy registers the audit under it).",
                     rich_help_panel=PAD),
    ] = None,
    out: Annotated[
        Path,
        typer.Option("--out", help="Folder for report.json/.html and CSVs.",
                     rich_help_panel=OUTPUT),
    ] = Path("audit-report"),
    as_json: Annotated[
        bool,
        typer.Option("--json", help="Print the summary as one JSON object on stdout.",
                     rich_help_panel=OUTPUT),
    ] = False,
    sign: Annotated[
        Path | None,
        typer.Option("--sign", help="Auditor private key: write report.json.sig beside it.",
                     rich_help_panel=SIGNING),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(min=1, help="Scoring threads (default: up to 4).", rich_help_panel=COMPUTE),
    ] = None,
    cluster: Annotated[
        str | None,
        typer.Option("--cluster", envvar=CLUSTER_ENV_VAR, help=CLUSTER_HELP,
                     rich_help_panel=COMPUTE),
    ] = None,
) -> None:
    """Audit demographic differentials in face recognition error rates (NIST IR 8280 style)."""
    request = AuditRequest(
        data=data, embeddings=embeddings, scores=scores, rates=rates, lfw=lfw,
        lower_is_better=lower_is_better, pairs=pairs, backends=backend, model=model,
        no_face=no_face, attributes=attributes, by=by, min_identities=min_identities, fmr=fmr,
        bootstrap=bootstrap, seed=seed, alpha=alpha, operating_points=operating_points,
        fail_if=list(fail_if or []), mode=mode,
        candidates=candidates, repeats=repeats, gallery_templates=gallery_templates,
        gallery_size=gallery_size, calibration=calibration,
        operating_point=partial(policy_point, policy) if policy is not None else None,
        sign=sign, workers=workers, cluster=cluster, pad_scores=pad_scores,
        higher_is_attack=not lower_is_attack, pai_species=pai_species, apcer=apcer,
        pad_threshold=pad_threshold, comparison_threshold=comparison_threshold,
        pad_system=pad_system,
    )
    report = run_audit(request, show_progress=True)
    write_report(report, out)
    if sign is not None:
        from faceaudit.audit.signing import sign_report

        sign_report(out / "report.json", sign)
    present(report, out, as_json)
    if not report["gate"]["passed"]:
        raise typer.Exit(EXIT_GATE)


def present(report: dict, out: Path, as_json: bool) -> None:
    """The warnings on stderr, then the summary on stdout: one JSON object (``--json``) or the
    headline (with the side-by-side comparison, if any) and where the report was written."""
    console = Console(stderr=False)
    print_warnings(report, Console(stderr=True))
    if "pad" in report:
        from faceaudit.audit.pad_terminal import pad_headline, pad_json

        if as_json:
            print(pad_json(report, out))
        else:
            pad_headline(report, console)
            console.print(f"report written to {out / 'report.json'} and {out / 'report.html'}")
    elif "identification" in report:
        from faceaudit.audit.identification_terminal import (
            identification_headline,
            identification_json,
        )

        if as_json:
            print(identification_json(report, out))
        else:
            identification_headline(report, console)
            console.print(f"report written to {out / 'report.json'} and {out / 'report.html'}")
    elif as_json:
        print(json_summary(report, out))
    else:
        headline(report, console)
        print_quality(report, console)
        if report.get("comparison"):
            print_comparison(report["comparison"], console, report["primary_target"])
        console.print(f"report written to {out / 'report.json'} and {out / 'report.html'}")


if __name__ == "__main__":
    typer.run(audit_command)
