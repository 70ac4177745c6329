"""One audit dispatcher: which inputs may be combined, in which mode, and which audit runs them.

``faceaudit audit`` and the service's audit jobs both describe what to audit as an
:class:`AuditRequest`; validating it names the input (:class:`InputKind`) and the mode, or
refuses the combination with an :class:`~faceaudit.audit.inputs.AuditInputError` (exit 2 on the
command line). :func:`run_audit` then reads the inputs and runs the matching audit of
:mod:`faceaudit.audit.run`, :mod:`faceaudit.audit.side_by_side` or
:mod:`faceaudit.audit.identification_run`, returning the report dict.

The checks run in one fixed order, so a command line with several mistakes is always told the
same first one. Those that need the inputs' contents (attributes, ``--by``, the files
themselves) wait until :func:`run_audit` reads them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator

from faceaudit.audit import inputs
from faceaudit.audit.engine import AuditSettings
from faceaudit.audit.estimates import MIN_IDENTITIES
from faceaudit.audit.gate import GateRule, parse_rule
from faceaudit.audit.run import (
    ProgressFactory,
    audit_embeddings,
    audit_pairs,
    audit_rates,
    audit_scores,
)
from faceaudit.audit.side_by_side import (
    audit_models_embeddings,
    audit_models_scores,
    model_names,
)
from faceaudit.base.dask_cluster import cluster_client
from faceaudit.base.progress import ProgressReport

MODES = ("verification", "identification")
GALLERY_TEMPLATES = ("one", "all")
DEFAULT_BACKEND = "dlib-resnet"

# () -> ([target FMR], candidate list length): a deployment policy's operating point
OperatingPoint = Callable[[], tuple[Sequence[float], int]]


class InputKind(StrEnum):
    """What the audit reads (the report's ``provenance.input_kind``)."""

    DATASET = "dataset"  # DATA: one folder of images per identity, embedded here
    LFW = "lfw"  # an LFW folder with its lfw-meta labels, embedded here
    EMBEDDINGS = "embeddings"  # templates Parquet(s) as written by ``faceaudit embed``
    SCORES = "scores"  # comparison scores table(s)
    RATES = "rates"  # per-group rates table
    PAD = "pad"  # presentation attack detection scores table (--pad-scores)

    @property
    def templates(self) -> bool:
        """Whether the input is (or becomes) templates, which the audit scores itself."""
        return self in (InputKind.DATASET, InputKind.LFW, InputKind.EMBEDDINGS)


@dataclass(frozen=True)
class AuditPlan:
    """What a validated :class:`AuditRequest` resolved to."""

    kind: InputKind
    identification: bool  # --mode identification (1:N searches), else verification (1:1)
    several: bool  # several models side by side (a comparison)
    settings: AuditSettings
    rules: list[GateRule]
    by: list[str]
    backends: list[str]
    candidates: int  # identification: candidate list length (a policy's, when given)
    apcer_targets: list[float] = field(default_factory=list)  # --pad-scores: BPCER at these

    @property
    def mode(self) -> str:
        """``"identification"`` or ``"verification"``."""
        return MODES[1] if self.identification else MODES[0]


class AuditRequest(BaseModel):
    """What to audit, as ``faceaudit audit``'s options (or a service job) give it.

    Exactly one input: ``data``, ``lfw``, ``embeddings``, ``scores``, ``rates`` or
    ``pad_scores``. Paths are
    read under ``root`` and recorded in the report as given. Validation refuses a bad
    combination with :class:`~faceaudit.audit.inputs.AuditInputError`; it also loads the
    signing key (an unusable key fails before the audit runs) and asks ``operating_point`` for
    a policy's operating point. :attr:`plan` is what it resolved to.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    # Input
    data: Path | None = None
    lfw: Path | None = None
    embeddings: list[Path] | None = None
    scores: list[Path] | None = None
    rates: Path | None = None
    root: Path = Path()
    lower_is_better: bool = False  # --scores are distances (--pad-scores: comparison_score)
    # PAD audit (--pad-scores): ISO/IEC 30107-3 rates per group
    pad_scores: Path | None = None
    higher_is_attack: bool = False  # default: a higher PAD score is more bona fide
    pai_species: str | list[str] = ""  # declared attack species (others are refused)
    apcer: str | list[float] = "1e-2,5e-2,1e-1"  # BPCER100, BPCER20, BPCER10
    pad_threshold: float | None = None  # a vendor's deployed PAD threshold
    comparison_threshold: float | None = None  # IAPMR: attacks matching at this score
    pad_system: str | None = None  # the PAD system measured, NAME:VERSION (provenance)
    # Models (DATA, --lfw)
    backends: list[str] | None = None
    model: Path | None = None
    no_face: str = "skip"
    # Groups
    attributes: Path | None = None
    by: str | list[str] = ""
    min_identities: Annotated[int, Field(ge=1)] = MIN_IDENTITIES
    # Thresholds and intervals
    fmr: str | list[float] = "1e-2,1e-3,1e-4"
    bootstrap: Annotated[int, Field(ge=0)] = 1000
    seed: int = 0
    alpha: Annotated[float, Field(ge=0.0, le=1.0)] = 0.5
    operating_points: bool = False  # the worst-group threshold grid
    # Gate
    fail_if: list[str] = Field(default_factory=list)
    # Verification: a pair list instead of every pair
    pairs: Path | None = None
    # Identification mode
    mode: str = MODES[0]
    candidates: Annotated[int, Field(ge=1)] = 10
    repeats: Annotated[int, Field(ge=1)] = 20
    gallery_templates: str = GALLERY_TEMPLATES[0]
    gallery_size: str = ""
    calibration: Path | None = None
    operating_point: OperatingPoint | None = None
    # Signing (checked here; the adapter signs what it writes)
    sign: Path | None = None
    # Compute
    workers: Annotated[int | None, Field(ge=1)] = None
    cluster: str | None = None

    _plan: AuditPlan = PrivateAttr()

    @model_validator(mode="after")
    def _check(self) -> AuditRequest:
        self._plan = self._resolve()
        return self

    @property
    def plan(self) -> AuditPlan:
        """The input kind, mode, settings, rules and grouping the request resolved to."""
        return self._plan

    def path(self, given: Path) -> Path:
        """Where to read a path the request names (under :attr:`root`)."""
        return self.root / given

    def _resolve(self) -> AuditPlan:
        kind = self._input_kind()
        if self.sign is not None:  # an unusable key fails before the audit runs
            from faceaudit.audit.signing import load_auditor_key

            load_auditor_key(self.sign)
        settings = AuditSettings(
            targets=parse_targets(self.fmr, "--fmr"),
            reps=self.bootstrap,
            seed=self.seed,
            alpha=self.alpha,
            min_identities=self.min_identities,
            operating_points=self.operating_points,
        )
        rules = [parse_rule(r) for r in self.fail_if]
        parts = self.by.split(",") if isinstance(self.by, str) else self.by
        by = [b.strip() for b in parts if b.strip()]
        identification = self._identification(kind)
        if self.operating_points and kind is InputKind.RATES:
            raise inputs.AuditInputError(
                "--operating-points moves the threshold: give comparisons (DATA, --lfw, "
                "--embeddings or --scores), not --rates", which="--operating-points")
        candidates = self.candidates
        if identification and self.gallery_templates not in GALLERY_TEMPLATES:
            raise inputs.AuditInputError(
                f"gallery templates must be one of {', '.join(GALLERY_TEMPLATES)}, not "
                f"{self.gallery_templates!r}", which="--gallery-templates")
        if identification and self.operating_point is not None:
            targets, candidates = self.operating_point()
            settings.targets = list(targets)
        if self.lower_is_better and kind not in (InputKind.SCORES, InputKind.PAD):
            raise inputs.AuditInputError("--lower-is-better applies to --scores tables only")
        apcer_targets = self._pad_checks(kind)
        backends = list(self.backends or [DEFAULT_BACKEND])
        several = max(len(self.embeddings or []), len(self.scores or []), len(backends)) > 1
        if len(backends) > 1 and kind not in (InputKind.DATASET, InputKind.LFW):
            raise inputs.AuditInputError(
                "several models need DATA or --lfw to embed", which="--backend"
            )
        if several and identification:
            raise inputs.AuditInputError("audits one model; compare models in the verification "
                                         "audit", which="--mode")
        if several and self.pairs is not None:
            raise inputs.AuditInputError("audits one model; compare models without it",
                                         which="--pairs")
        if self.cluster and not kind.templates:
            raise inputs.AuditInputError(
                "a cluster scores templates: give DATA, --lfw or --embeddings, not a table",
                which="--cluster",
            )
        return AuditPlan(kind=kind, identification=identification, several=several,
                         settings=settings, rules=rules, by=by, backends=backends,
                         candidates=candidates, apcer_targets=apcer_targets)

    def _pad_checks(self, kind: InputKind) -> list[float]:
        """The APCER targets of a PAD audit; the PAD options refused without --pad-scores
        and the options a PAD audit has no use for refused with it."""
        if kind is not InputKind.PAD:
            for name, given in (("--higher-is-attack", self.higher_is_attack),
                                ("--pad-threshold", self.pad_threshold is not None),
                                ("--comparison-threshold", self.comparison_threshold is not None),
                                ("--pai-species", bool(self.pai_species)),
                                ("--pad-system", self.pad_system is not None)):
                if given:
                    raise inputs.AuditInputError(f"{name} applies to --pad-scores only",
                                                 which=name)
            return []
        for name, given in (("--operating-points", self.operating_points),
                            ("--pairs", self.pairs is not None)):
            if given:
                raise inputs.AuditInputError(f"{name} does not apply to --pad-scores",
                                             which=name)
        if self.pad_system is not None:
            from faceaudit.audit.pad_system import check_pad_system

            check_pad_system(self.pad_system)
        return parse_targets(self.apcer, "--apcer")

    def species(self) -> list[str] | None:
        """The declared attack species (``--pai-species``), or None when not declared."""
        parts = self.pai_species.split(",") if isinstance(self.pai_species, str) \
            else self.pai_species
        named = [p.strip() for p in parts if p.strip()]
        return named or None

    def _input_kind(self) -> InputKind:
        """The one input given (DATA, --embeddings, --scores, --rates or --lfw)."""
        given = [
            (name, kind)
            for name, kind, value in (
                ("DATA", InputKind.DATASET, self.data),
                ("--embeddings", InputKind.EMBEDDINGS, self.embeddings),
                ("--scores", InputKind.SCORES, self.scores),
                ("--rates", InputKind.RATES, self.rates),
                ("--lfw", InputKind.LFW, self.lfw),
                ("--pad-scores", InputKind.PAD, self.pad_scores),
            )
            if value is not None
        ]
        if len(given) != 1:
            raise inputs.AuditInputError(
                "give exactly one input: DATA, --embeddings, --scores, --rates, --lfw or "
                "--pad-scores"
                + (f" (got {', '.join(name for name, _ in given)})" if given else "")
            )
        return given[0][1]

    def _identification(self, kind: InputKind) -> bool:
        """Whether ``mode`` asks for the identification audit (which needs templates)."""
        if self.mode not in MODES:
            raise inputs.AuditInputError(
                f"--mode must be one of {', '.join(MODES)}, not {self.mode!r}", which="--mode")
        if self.mode != "identification":
            return False
        if not kind.templates:
            raise inputs.AuditInputError(
                "--mode identification searches templates: give DATA, --lfw or --embeddings",
                which="--mode",
            )
        if self.pairs is not None:
            raise inputs.AuditInputError("--pairs applies to the verification audit only",
                                         which="--pairs")
        return True


def parse_targets(given: str | Sequence[float], what: str) -> list[float]:
    """Target FMRs, comma-separated (``"1e-2,1e-3"``) or as numbers, each in (0, 1)."""
    if isinstance(given, str):
        try:
            values = [float(x) for x in given.split(",") if x.strip()]
        except ValueError:
            raise inputs.AuditInputError(
                f"{what}: expected comma-separated numbers, got {given!r}"
            ) from None
    else:
        values = [float(x) for x in given]
    if not values or not all(0 < v < 1 for v in values):
        raise inputs.AuditInputError(f"{what}: each value must lie strictly between 0 and 1")
    return values


def parse_sizes(text: str) -> list[int]:
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


def run_audit(request: AuditRequest, *, show_progress: bool = False) -> dict:
    """Read the request's inputs and run its audit; return the report dict.

    ``show_progress``: report the long steps (embedding, scoring, searches) on stderr
    (:class:`~faceaudit.base.progress.ProgressReport`).
    """
    plan = request.plan
    if plan.kind is InputKind.SCORES:
        return _audit_score_tables(request, plan)
    if plan.kind is InputKind.PAD:
        return _audit_pad(request, plan)
    if plan.kind is InputKind.RATES:
        assert request.rates is not None
        return audit_rates(inputs.read_rates(request.path(request.rates)), plan.settings,
                           input_path=str(request.rates), rules=plan.rules)
    return _audit_templates(request, plan, show_progress)


def _audit_score_tables(request: AuditRequest, plan: AuditPlan) -> dict:
    """One scores table, or several models' tables of the same comparisons side by side."""
    scores = request.scores or []
    higher_is_better = not request.lower_is_better
    if len(scores) > 1:
        return audit_models_scores(
            model_names(scores),
            [inputs.read_scores(request.path(s)) for s in scores],
            plan.settings,
            input_paths=[str(s) for s in scores],
            rules=plan.rules,
            higher_is_better=higher_is_better,
        )
    return audit_scores(
        inputs.read_scores(request.path(scores[0])),
        plan.settings,
        input_path=str(scores[0]),
        rules=plan.rules,
        higher_is_better=higher_is_better,
    )


def _audit_pad(request: AuditRequest, plan: AuditPlan) -> dict:
    """A PAD scores table: ISO/IEC 30107-3 rates per group (:mod:`faceaudit.audit.pad_run`)."""
    from faceaudit.audit.pad_inputs import read_pad_scores
    from faceaudit.audit.pad_run import PadOptions, audit_pad

    assert request.pad_scores is not None
    options = PadOptions(
        apcer_targets=plan.apcer_targets, higher_is_attack=request.higher_is_attack,
        pad_threshold=request.pad_threshold, comparison_threshold=request.comparison_threshold,
        comparison_lower_is_better=request.lower_is_better, pad_system=request.pad_system,
        calibration=(
            None if request.calibration is None else request.path(request.calibration)),
    )
    table = read_pad_scores(request.path(request.pad_scores), request.species())
    return audit_pad(table, plan.settings, options, input_path=str(request.pad_scores),
                     rules=plan.rules)


def _attributes(request: AuditRequest, plan: AuditPlan) -> tuple[inputs.Attributes, str]:
    """The templates' attribute labels and the path the report records for them."""
    if plan.kind is InputKind.LFW:
        assert request.lfw is not None
        lfw = request.path(request.lfw)
        return inputs.read_lfw_attributes(lfw), str(inputs.lfw_meta(lfw))
    if request.attributes is None:
        raise inputs.AuditInputError("--attributes is required with DATA or --embeddings")
    return inputs.read_attributes(request.path(request.attributes)), str(request.attributes)


def _templates(
    request: AuditRequest, plan: AuditPlan, client: Any
) -> tuple[list[inputs.Embeddings], list[str]]:
    """Each model's templates (read, or embedded from DATA/--lfw) and its recorded source."""
    if plan.kind is InputKind.EMBEDDINGS:
        given = request.embeddings or []
        return [inputs.read_embeddings(request.path(e)) for e in given], [str(e) for e in given]
    from faceaudit.engine.embed_files import embed_dataset

    picked = request.lfw if plan.kind is InputKind.LFW else request.data
    assert picked is not None
    folder = request.path(picked)
    models = [
        inputs.embeddings_from_table(
            embed_dataset(folder, backend=b, model=request.model, no_face=request.no_face,
                          client=client),
            str(picked),
        )
        for b in plan.backends
    ]
    return models, [str(picked)] * len(plan.backends)


def _audit_templates(request: AuditRequest, plan: AuditPlan, show_progress: bool) -> dict:
    """Templates (DATA, --lfw, --embeddings): every pair, a pair list, several models side by
    side, or the identification audit."""
    attrs, attrs_path = _attributes(request, plan)
    if not plan.by:
        raise inputs.AuditInputError("choose the grouping attribute(s) with --by, e.g. sex")
    shown = ProgressReport() if show_progress else contextlib.nullcontext()
    with cluster_client(request.cluster) as client, shown as report:
        progress: ProgressFactory | None = report.advance_factory if report else None
        models, sources = _templates(request, plan, client)
        kind = plan.kind.value
        emb, source = models[0], sources[0]
        if plan.several:
            return audit_models_embeddings(
                model_names(request.embeddings or plan.backends),
                models,
                attrs,
                plan.by,
                plan.settings,
                input_kind=kind,
                input_paths=sources,
                attributes_path=attrs_path,
                rules=plan.rules,
                workers=request.workers,
                progress=progress,
                client=client,
            )
        if plan.identification:
            from faceaudit.audit.identification_run import audit_identification

            return audit_identification(
                emb,
                attrs,
                plan.by,
                plan.settings,
                candidates=plan.candidates,
                repeats=request.repeats,
                gallery_templates=request.gallery_templates,
                gallery_sizes=parse_sizes(request.gallery_size),
                input_kind=kind,
                input_path=source,
                attributes_path=attrs_path,
                calibration=request.calibration,
                rules=plan.rules,
                progress=progress,
            )
        if request.pairs is not None:
            return audit_pairs(
                emb,
                attrs,
                plan.by,
                inputs.read_pair_list(request.path(request.pairs)),
                plan.settings,
                input_kind=kind,
                input_path=source,
                pairs_path=str(request.pairs),
                attributes_path=attrs_path,
                rules=plan.rules,
            )
        return audit_embeddings(
            emb,
            attrs,
            plan.by,
            plan.settings,
            input_kind=kind,
            input_path=source,
            attributes_path=attrs_path,
            rules=plan.rules,
            workers=request.workers,
            progress=progress,
            client=client,
        )
