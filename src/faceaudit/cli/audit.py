"""``faceaudit audit``: the Typer command (registered by faceaudit.cli as ``audit``).

Exit codes: 0 audit written, 2 bad input (one-line error), 3 a ``--fail-if`` rule failed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from faceaudit.audit import inputs
from faceaudit.audit.comparison_terminal import print_comparison
from faceaudit.audit.engine import AuditSettings
from faceaudit.audit.estimates import MIN_IDENTITIES
from faceaudit.audit.gate import parse_rule
from faceaudit.audit.report import write_report
from faceaudit.audit.run import audit_embeddings, audit_pairs, audit_rates, audit_scores
from faceaudit.audit.side_by_side import (
    audit_models_embeddings,
    audit_models_scores,
    model_names,
)
from faceaudit.audit.terminal import headline, json_summary, print_warnings
from faceaudit.base.progress import ProgressReport
from faceaudit.cli.options import EXIT_GATE, ClusterOption, cluster_client


def _floats(text: str, what: str) -> list[float]:
    try:
        values = [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise inputs.AuditInputError(
            f"{what}: expected comma-separated numbers, got {text!r}"
        ) from None
    if not values or not all(0 < v < 1 for v in values):
        raise inputs.AuditInputError(f"{what}: each value must lie strictly between 0 and 1")
    return values


MODES = ("verification", "identification")
GALLERY_TEMPLATES = ("one", "all")


def _identification_mode(mode: str, data, embeddings, lfw, pairs) -> bool:
    """Whether ``--mode`` asks for the identification audit (which needs templates)."""
    if mode not in MODES:
        raise inputs.AuditInputError(f"--mode must be one of {', '.join(MODES)}, not {mode!r}",
                                     which="--mode")
    if mode != "identification":
        return False
    if data is None and embeddings is None and lfw is None:
        raise inputs.AuditInputError(
            "--mode identification searches templates: give DATA, --lfw or --embeddings",
            which="--mode",
        )
    if pairs is not None:
        raise inputs.AuditInputError("--pairs applies to the verification audit only",
                                     which="--pairs")
    return True


def _sizes(text: str) -> list[int]:
    """``--gallery-size 1e3,1e4`` as whole numbers of subjects."""
    sizes = []
    for part in (x.strip() for x in text.split(",")):
        if not part:
            continue
        try:
            value = float(part)
        except ValueError:
            value = float("nan")
        if not (value >= 1 and value == int(value)):
            raise inputs.AuditInputError(
                f"expected whole numbers of subjects like 1e3,1e4, got {part!r}",
                which="--gallery-size",
            )
        sizes.append(int(value))
    return sizes


def _policy_point(path: Path) -> tuple[list[float], int]:
    """The operating point of a deployment policy file: ([fmr_target], max_candidates)."""
    from faceaudit.policy.model import read_policy_file

    policy, _ = read_policy_file(path)
    return [policy.fmr_target], policy.max_candidates


def audit_command(
    data: Annotated[
        Path | None, typer.Argument(help="Dataset folder: one sub-folder of images per identity.")
    ] = None,
    out: Annotated[
        Path, typer.Option("--out", help="Folder for report.json/.html and CSVs.")
    ] = Path("audit-report"),
    attributes: Annotated[
        Path | None,
        typer.Option(help="CSV/Parquet with an 'identity' or 'image' column and attributes."),
    ] = None,
    embeddings: Annotated[
        list[Path] | None,
        typer.Option(
            help="Embeddings Parquet (as written by 'faceaudit embed'); repeat to compare "
            "models of the same images."
        ),
    ] = None,
    scores: Annotated[
        list[Path] | None,
        typer.Option(
            help="Scores: score, genuine, group_a, group_b[, subject_a, subject_b]; repeat to "
            "compare models' scores of the same comparisons (same rows, same order)."
        ),
    ] = None,
    rates: Annotated[
        Path | None, typer.Option(help="Rates table: group, fmr, fnmr and/or accuracy.")
    ] = None,
    lower_is_better: Annotated[
        bool,
        typer.Option(
            "--lower-is-better",
            help="--scores are distances: a comparison matches when score <= threshold.",
        ),
    ] = False,
    lfw: Annotated[
        Path | None, typer.Option(help="LFW folder; labels from ../lfw-meta beside it.")
    ] = None,
    backend: Annotated[
        list[str] | None,
        typer.Option(
            help="Model for DATA/--lfw: dlib-resnet (default), dlib-native, onnx; repeat to "
            "compare models."
        ),
    ] = None,
    model: Annotated[
        Path | None, typer.Option(help="ArcFace-style .onnx file for --backend onnx.")
    ] = None,
    no_face: Annotated[
        str, typer.Option(help="DATA/--lfw images with no face: skip (counted) or centre crop.")
    ] = "skip",
    pairs: Annotated[
        Path | None,
        typer.Option(
            help="Audit only these pairs (LFW pairs.txt, or CSV image_a,image_b) "
            "instead of every pair."
        ),
    ] = None,
    by: Annotated[str, typer.Option(help="Attribute(s) to group by, e.g. sex or sex,race.")] = "",
    fmr: Annotated[str, typer.Option(help="Target FMRs, comma-separated.")] = "1e-2,1e-3,1e-4",
    bootstrap: Annotated[
        int, typer.Option(min=0, help="Bootstrap replicates (identities resampled); 0 = none.")
    ] = 1000,
    seed: Annotated[int, typer.Option(help="Bootstrap seed.")] = 0,
    alpha: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Weight of FMR vs FNMR in the summaries.")
    ] = 0.5,
    workers: Annotated[
        int | None, typer.Option(min=1, help="Scoring threads (default: up to 4).")
    ] = None,
    fail_if: Annotated[
        list[str] | None,
        typer.Option("--fail-if", help="Gate rule, e.g. 'fmr_ratio>2' or 'fnmr_ratio>1.5@1e-2'."),
    ] = None,
    min_identities: Annotated[
        int,
        typer.Option(min=1, help="Flag rates resting on fewer identities than this."),
    ] = MIN_IDENTITIES,
    as_json: Annotated[
        bool,
        typer.Option("--json", help="Print the summary as one JSON object on stdout."),
    ] = False,
    sign: Annotated[
        Path | None,
        typer.Option("--sign", help="Auditor private key: write report.json.sig beside it."),
    ] = None,
    mode: Annotated[
        str,
        typer.Option(
            help="verification (1:1, the default) or identification (1:N searches of a "
            "gallery: FPIR/FNIR per probe group).",
        ),
    ] = "verification",
    candidates: Annotated[
        int, typer.Option(min=1, help="Identification: candidate list length R per search.")
    ] = 10,
    repeats: Annotated[
        int, typer.Option(min=1, help="Identification: seeded enrolled/non-enrolled splits.")
    ] = 20,
    gallery_templates: Annotated[
        str,
        typer.Option(
            help="Identification: 'one' template per enrolled identity, or 'all' of its images "
            "but one (held out as its mated probe)."
        ),
    ] = "one",
    gallery_size: Annotated[
        str,
        typer.Option(
            help="Identification: further gallery sizes, e.g. 1e3,1e4 (measured by subsampling "
            "where the data allow, predicted beyond)."
        ),
    ] = "",
    calibration: Annotated[
        Path | None,
        typer.Option(help="Identification: calibration for the thresholds (default: the "
                     "backend's shipped one)."),
    ] = None,
    policy: Annotated[
        Path | None,
        typer.Option(help="Identification: a deployment policy.toml; its fmr_target and "
                     "max_candidates set the operating point."),
    ] = None,
    cluster: ClusterOption = None,
) -> None:
    """Audit demographic differentials in face recognition error rates (NIST IR 8280 style)."""
    console = Console(stderr=False)
    errors = Console(stderr=True)
    given = [
        n
        for n, v in (
            ("DATA", data),
            ("--embeddings", embeddings),
            ("--scores", scores),
            ("--rates", rates),
            ("--lfw", lfw),
        )
        if v is not None
    ]
    if len(given) != 1:
        raise inputs.AuditInputError(
            "give exactly one input: DATA, --embeddings, --scores, --rates or --lfw"
            + (f" (got {', '.join(given)})" if given else "")
        )
    if sign is not None:  # an unusable key fails before the audit runs
        from faceaudit.audit.signing import load_auditor_key

        load_auditor_key(sign)
    settings = AuditSettings(
        targets=_floats(fmr, "--fmr"),
        reps=bootstrap,
        seed=seed,
        alpha=alpha,
        min_identities=min_identities,
    )
    rules = [parse_rule(r) for r in fail_if or []]
    groups_by = [b.strip() for b in by.split(",") if b.strip()]
    identification = _identification_mode(mode, data, embeddings, lfw, pairs)
    if identification and gallery_templates not in GALLERY_TEMPLATES:
        raise inputs.AuditInputError(
            f"gallery templates must be one of {', '.join(GALLERY_TEMPLATES)}, not "
            f"{gallery_templates!r}", which="--gallery-templates")
    if identification and policy is not None:
        settings.targets, candidates = _policy_point(policy)
    if lower_is_better and scores is None:
        raise inputs.AuditInputError("--lower-is-better applies to --scores tables only")
    backends = list(backend or ["dlib-resnet"])
    several = max(len(embeddings or []), len(scores or []), len(backends)) > 1
    if len(backends) > 1 and data is None and lfw is None:
        raise inputs.AuditInputError(
            "several models need DATA or --lfw to embed", which="--backend"
        )
    if several and identification:
        raise inputs.AuditInputError("audits one model; compare models in the verification "
                                     "audit", which="--mode")
    if several and pairs is not None:
        raise inputs.AuditInputError("audits one model; compare models without it", which="--pairs")
    if cluster and (scores is not None or rates is not None):
        raise inputs.AuditInputError(
            "a cluster scores templates: give DATA, --lfw or --embeddings, not a table",
            which="--cluster",
        )
    if scores is not None and len(scores) > 1:
        report = audit_models_scores(
            model_names(scores),
            [inputs.read_scores(s) for s in scores],
            settings,
            input_paths=[str(s) for s in scores],
            rules=rules,
            higher_is_better=not lower_is_better,
        )
    elif scores is not None:
        report = audit_scores(
            inputs.read_scores(scores[0]),
            settings,
            input_path=str(scores[0]),
            rules=rules,
            higher_is_better=not lower_is_better,
        )
    elif rates is not None:
        report = audit_rates(
            inputs.read_rates(rates), settings, input_path=str(rates), rules=rules
        )
    else:
        if lfw is not None:
            attrs, attrs_path = inputs.read_lfw_attributes(lfw), str(inputs.lfw_meta(lfw))
        elif attributes is None:
            raise inputs.AuditInputError("--attributes is required with DATA or --embeddings")
        else:
            attrs, attrs_path = inputs.read_attributes(attributes), str(attributes)
        if not groups_by:
            raise inputs.AuditInputError("choose the grouping attribute(s) with --by, e.g. sex")
        with cluster_client(cluster) as client, ProgressReport() as shown:
            progress = shown.advance_factory  # on stderr, terminal or log (faceaudit.base.progress)
            if embeddings is not None:
                sources = [str(e) for e in embeddings]
                models, kind = [inputs.read_embeddings(e) for e in embeddings], "embeddings"
            else:
                from faceaudit.engine.embed_files import embed_dataset

                picked = lfw if lfw is not None else data
                if picked is None:
                    raise inputs.AuditInputError(
                        "give DATA, --embeddings, --scores, --rates or --lfw")
                kind = "lfw" if lfw is not None else "dataset"
                sources = [str(picked)] * len(backends)
                models = [
                    inputs.embeddings_from_table(
                        embed_dataset(
                            Path(picked), backend=b, model=model, no_face=no_face,
                            client=client,
                        ),
                        str(picked),
                    )
                    for b in backends
                ]
            emb, source = models[0], sources[0]
            if several:
                report = audit_models_embeddings(
                    model_names(embeddings or backends),
                    models,
                    attrs,
                    groups_by,
                    settings,
                    input_kind=kind,
                    input_paths=sources,
                    attributes_path=attrs_path,
                    rules=rules,
                    workers=workers,
                    progress=progress,
                    client=client,
                )
            elif identification:
                from faceaudit.audit.identification_run import audit_identification

                report = audit_identification(
                    emb,
                    attrs,
                    groups_by,
                    settings,
                    candidates=candidates,
                    repeats=repeats,
                    gallery_templates=gallery_templates,
                    gallery_sizes=_sizes(gallery_size),
                    input_kind=kind,
                    input_path=str(source),
                    attributes_path=attrs_path,
                    calibration=calibration,
                    rules=rules,
                    progress=progress,
                )
            elif pairs is not None:
                report = audit_pairs(
                    emb,
                    attrs,
                    groups_by,
                    inputs.read_pair_list(pairs),
                    settings,
                    input_kind=kind,
                    input_path=str(source),
                    pairs_path=str(pairs),
                    attributes_path=attrs_path,
                    rules=rules,
                )
            else:
                report = audit_embeddings(
                    emb,
                    attrs,
                    groups_by,
                    settings,
                    input_kind=kind,
                    input_path=str(source),
                    attributes_path=attrs_path,
                    rules=rules,
                    workers=workers,
                    progress=progress,
                    client=client,
                )
    write_report(report, out)
    if sign is not None:
        from faceaudit.audit.signing import sign_report

        sign_report(out / "report.json", sign)
    print_warnings(report, errors)
    if "identification" in report:
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
        if report.get("comparison"):
            print_comparison(report["comparison"], console, report["primary_target"])
        console.print(f"report written to {out / 'report.json'} and {out / 'report.html'}")
    if not report["gate"]["passed"]:
        raise typer.Exit(EXIT_GATE)


if __name__ == "__main__":
    typer.run(audit_command)
