"""The accountability report's files (``accountability.html``, ``accountability.md``) from the
facts of :mod:`faceaudit.deployment.accountability`.

Two parts, each section citing the statute's item it answers: Washington RCW 43.386.020(2)(a)–(h)
(the accountability report, filed before first use and updated every two years) and the EU AI
Act Art. 27(1)(a)–(f) fundamental rights impact assessment. A section states what the
deployment knows — engine, audits, policy, data — and leaves what only the deployer can write
as marked headings: "To be written by the deployer: …". The same sections feed both templates
(``templates/accountability.html.j2``, ``templates/accountability.md.j2``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader

DEPLOYER = "To be written by the deployer"
FMR_SECTION = "under RCW 43.386.020(2)(f)"


@dataclass
class Table:
    """A table of a section: its caption, column names and rows of text."""

    caption: str
    columns: list[str]
    rows: list[list[str]]


@dataclass
class Section:
    """One section of the report: the statute's item it answers (``cites``), the facts stated
    (``rows``: label, text; ``tables``) and the headings left to the deployer."""

    part: str
    cites: str
    title: str
    rows: list[tuple[str, str]] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    deployer: list[str] = field(default_factory=list)


def number(value: Any) -> str:
    """A number as the report prints it (4 significant digits; "—" for none)."""
    if value is None:
        return "—"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    return f"{value:.4g}"


def estimate(est: Any) -> str:
    """An estimate ``{value, low, high, note}`` as "value [low, high]" (the interval left out
    when there is none; the note when there is no value)."""
    if not isinstance(est, dict):
        return "—"
    if est.get("value") is None:
        return f"not estimated ({est['note']})" if est.get("note") else "not estimated"
    text = number(est["value"])
    if est.get("low") is not None and est.get("high") is not None:
        text += f" [{number(est['low'])}, {number(est['high'])}]"
    return text


def _listing(values: Any) -> str:
    return ", ".join(str(v) for v in values) if values else "none"


def audit_tables(facts: dict[str, Any]) -> list[Table]:
    """One table per registered audit and operating point: per-group rates with intervals."""
    tables = []
    for audit in facts["audits"]:
        who = (f"audit {audit['audit_id']} of {audit['backend_id']} ({audit['mode']}), created "
               f"{audit['created_at']}, signed by key {audit['signer_key_id'] or 'none'}, "
               f"registered {audit['registered_at']} (ledger event {audit['seq']})")
        for target in audit["targets"]:
            point = " — the policy's operating point" if target["at_policy_point"] else ""
            rows = [[str(g["group"]), estimate(g["fmr"]), estimate(g["fnmr"]),
                     number(g["impostor_pairs"]), number(g["genuine_pairs"])]
                    for g in target["groups"]]
            summaries = target["summaries"]
            rows.append(["max/min ratio", estimate(summaries.get("fmr_ratio")),
                         estimate(summaries.get("fnmr_ratio")), "", ""])
            tables.append(Table(
                f"{who}: at FMR target {number(target['target_fmr'])} (threshold "
                f"{number(target['threshold'])}){point}",
                ["group", "FMR [interval]", "FNMR [interval]", "impostor pairs",
                 "genuine pairs"], rows))
        for op in audit["identification"]:
            rows = [[str(g["group"]), estimate(g["fpir"]), estimate(g["fnir"])]
                    for g in op["groups"]]
            tables.append(Table(
                f"{who}: 1:N at FMR target {number(op['target_fmr'])}, "
                f"{number(op['candidates'])} candidates, gallery of "
                f"{number(op['gallery_size'])}",
                ["group", "FPIR [interval]", "FNIR [interval]"], rows))
    return tables


def _engine_rows(facts: dict[str, Any]) -> list[tuple[str, str]]:
    engine = facts["engine"]
    rows = [("system", f"{engine['system']} {engine['system_version']}"),
            ("backend", f"{engine['backend_id']} (model {engine['model_name']}, version "
                        f"{engine['model_version'] or '—'})"),
            ("model", engine["model"]), ("runtime", engine["runtime"]),
            ("package versions", ", ".join(f"{p} {v or 'not installed'}"
                                           for p, v in engine["packages"].items())),
            ("model file SHA-256 (the backend's)", engine["model_sha256"] or "unknown")]
    rows += [(f"{f['role']}: {f['file']}", f["sha256"] or "missing")
             for f in engine["model_files"]]
    rows.append(("operating point", f"FMR target {number(engine['fmr_target'])}: threshold "
                                    f"{number(engine['threshold'])} ({engine['calibration']})"))
    return rows


def _audit_rows(facts: dict[str, Any], where: str = "in the tables below"
                ) -> list[tuple[str, str]]:
    rows = [("bias gate now", facts["gate"]["sentence"])]
    if not facts["audits"]:
        rows.append(("registered audits", "none is registered: no measured error rates "
                                          "can be reported"))
    else:
        rows.append(("registered audits", f"{len(facts['audits'])}; their per-group error "
                                          f"rates with intervals {where}, newest evidence "
                                          "first"))
    rows += [("audit not readable", problem) for problem in facts["audit_problems"]]
    return rows


def _policy_rows(facts: dict[str, Any]) -> list[tuple[str, str]]:
    policy = facts["policy"]
    auth = policy["authorisation"]
    limits = "; ".join(f"{op}: at most {r['max_events']} per actor in "
                       f"{number(r['window_hours'])} h"
                       for op, r in policy["rate_limits"].items()) or "none"
    fields = "; ".join(f"{op}: {_listing(f)}" for op, f in policy["required_fields"].items())
    return [
        ("policy in force", "the default policy" if policy["is_default"] else
         f"{policy['source']} (SHA-256 {policy['sha256']})"),
        ("operations allowed", _listing(policy["allowed_operations"])),
        ("fields required before each operation", fields or "none"),
        ("authorisation required for", _listing(auth["required_for"])),
        ("offence required for", _listing(auth["offence_required_for"])),
        ("offence list", _listing(auth["offences"])
         + (f" ({auth['offences_legal_source']})" if auth["offences_legal_source"] else "")),
        ("urgent searches", f"held until authorised, outputs deleted after "
                            f"{number(auth['urgent_deadline_hours'])} h without one"),
        ("candidates returned per face", f"at most {policy['max_candidates']}"),
        ("rate limits", limits),
    ]


def _review_rows(facts: dict[str, Any]) -> list[tuple[str, str]]:
    policy = facts["policy"]
    review = policy["review"]
    return [
        ("human review", f"every candidate is reviewed on its own; it becomes a confirmed lead "
                         f"only when {review['required_reviewers']} independent reviewer(s) "
                         "confirm it"),
        ("blind review", "yes: reviewers see no score or rank, candidates shuffled"
         if review["blind"] else "no: reviewers see scores and ranks"),
        ("self-review", "allowed" if policy["allow_self_review"] else
         "refused: the searcher never reviews their own search"),
        ("action on a lead", "refused unless the lead is confirmed and an independent evidence "
                             "reference is recorded (a candidate is never evidence)"),
        ("decision role", "decision support: the system returns candidates for human review; "
                          "it takes no decision"),
    ]


def _gate_rows(facts: dict[str, Any]) -> list[tuple[str, str]]:
    gate = facts["policy"]["bias_gate"]
    rows = [("bias gate", f"identify and verify are refused unless the newest signed audit of "
                          f"the deployed model, at most {number(gate['max_audit_age_days'])} "
                          f"days old, shows FMR ratio ≤ {number(gate['max_fmr_ratio'])} and "
                          f"FNMR ratio ≤ {number(gate['max_fnmr_ratio'])} across groups"),
            ("groups an audit must cover", _listing(gate["required_groups"])),
            ("1:N audit required", "yes" if gate["require_identification_audit"] else "no")]
    if gate["waived_because"]:
        rows.append(("GATE WAIVED", gate["waived_because"]))
    return rows


def _data_rows(facts: dict[str, Any]) -> list[tuple[str, str]]:
    gallery = facts["data"]["gallery"]
    return [
        ("gallery", f"{gallery['storage']}: {gallery['subjects']} subject(s), "
                    f"{gallery['templates']} template(s) ({gallery['searchable']} subject(s) "
                    f"searchable with the deployed backend), {gallery['images_kept']} "
                    "enrolment image(s) kept"),
        ("legal bases of enrolment", ", ".join(f"{k}: {v}" for k, v in
                                               gallery["legal_bases"].items()) or "none"),
        ("inputs", "the probe image of each search or verification (not stored; its face "
                   "crop kept only when the policy says so); enrolment images under a "
                   "consent record (kept only when asked); the fields the policy requires"),
        ("data flow", "probe image → faces detected and embedded in memory → compared with the "
                      "gallery's templates at the policy's threshold → candidate list stored as "
                      "the search's result → review tasks for independent reviewers → a "
                      "confirmed lead → an action recorded with an independent evidence "
                      "reference → an outcome; every step a ledger event"),
        ("outputs", "per face searched: up to the policy's number of candidates with rank, "
                    "score and false match rate; review tasks and decisions; lead actions "
                    "and outcomes; a signed ledger event for every operation and refusal"),
    ]


def _retention_rows(facts: dict[str, Any]) -> list[tuple[str, str]]:
    gallery, keep = facts["data"]["gallery"], facts["data"]["retention"]
    crop = keep["probe_crop_hours"]
    return [
        ("templates and enrolment images", f"until erasure or consent expiry "
                                           f"({gallery['with_consent_expiry']} subject(s) "
                                           "have an expiry; `faceaudit gallery purge` erases "
                                           "the expired, logged)"),
        ("probe face crops", f"{number(crop)} h, then purged (logged)" if crop else
         "not kept"),
        ("outputs of an urgent search never authorised",
         f"deleted after {number(keep['urgent_deadline_hours'])} h"),
        ("search results", "kept with the gallery; an erasure scrubs the erased subject from "
                           "every stored result"),
        ("ledger", f"append-only, hash-chained, tree heads signed "
                   f"({facts['ledger']['signer']['description']}); {facts['ledger']['events']} "
                   f"event(s) since {facts['ledger']['first'] or '—'}"),
        ("audits", f"registered reports kept as evidence; an audit older than "
                   f"{number(keep['max_audit_age_days'])} days no longer allows searches"),
    ]


def _usage_rows(facts: dict[str, Any]) -> list[tuple[str, str]]:
    rows = []
    for action in ("identify", "verify"):
        use = facts["usage"][action]
        purposes = ", ".join(f"{p}: {n}" for p, n in use["by_purpose"].items())
        rows.append((f"{action} so far", f"{use['count']}" + (
            f" ({use['first']} to {use['last']}; by purpose: {purposes})" if use["count"]
            else "")))
    rows.append(("refusals logged", str(facts["usage"]["refused"])))
    rows.append(("policy changes logged", str(facts["usage"]["policy_changes"])))
    return rows


def _deployer(*items: str) -> list[str]:
    return [f"{DEPLOYER}: {item}" for item in items]


def report_sections(facts: dict[str, Any]) -> list[Section]:
    """The report's sections, in order, from ``facts``."""
    wa, eu = "Washington RCW 43.386.020 accountability report", \
        "EU AI Act Art. 27 fundamental rights impact assessment (draft)"
    tables = audit_tables(facts)
    return [
        Section(wa, "RCW 43.386.020(2)(a)", "Name, vendor and version; capabilities and limits",
                _engine_rows(facts) + _audit_rows(facts, FMR_SECTION),
                deployer=_deployer("the vendor and the service's name as procured",
                          "general capabilities and limitations, including reasonably "
                          "foreseeable capabilities outside the proposed use")),
        Section(wa, "RCW 43.386.020(2)(b)", "Data inputs, how they are collected, data generated",
                _data_rows(facts),
                deployer=_deployer("how probe and enrolment images are generated, collected "
                                   "and processed in this agency")),
        Section(wa, "RCW 43.386.020(2)(c)", "Purpose, proposed use and decision role",
                _review_rows(facts) + _usage_rows(facts),
                deployer=_deployer("the purpose and proposed use, the decisions it supports",
                                   "the intended benefits, with the data or research that "
                                   "demonstrates them")),
        Section(wa, "RCW 43.386.020(2)(d)(i), (iv)", "Use policy: when, how, by whom; rules "
                "before each use", _policy_rows(facts) + _gate_rows(facts),
                deployer=_deployer("the factors deciding where, when and how it is used, and "
                                   "by whom; whether another entity operates it on the "
                                   "agency's behalf, and that entity's access")),
        Section(wa, "RCW 43.386.020(2)(d)(ii), (iii)", "Minimising collection; data integrity "
                "and retention", _retention_rows(facts),
                deployer=_deployer("how records used with the service are maintained and "
                                   "updated; further measures against collecting more data "
                                   "than the purpose needs")),
        Section(wa, "RCW 43.386.020(2)(d)(v)", "Data security and sharing",
                [("access", "API keys by role (enroller, operator, reviewer, auditor, admin); "
                            "only key hashes stored; every operation logged under its key's "
                            "actor"),
                 ("tree-head signer", facts["ledger"]["signer"]["description"])],
                deployer=_deployer("where the data is stored and who may access it; whether "
                                   "and why access or data is shared with another entity, and "
                                   "the agreement that binds it")),
        Section(wa, "RCW 43.386.020(2)(d)(vi)", "Training procedures",
                deployer=_deployer("training of every person who operates the service or "
                                   "accesses its data, before first use")),
        Section(wa, "RCW 43.386.020(2)(e)", "Testing procedures",
                _audit_rows(facts, FMR_SECTION) + _gate_rows(facts)[:1],
                deployer=_deployer("the schedule and process of periodic operational tests")),
        Section(wa, "RCW 43.386.020(2)(f)", "False match rates and impacts on subpopulations",
                _audit_rows(facts), tables,
                deployer=_deployer("how error rates above one percent that are not comparable "
                                   "across subpopulations will be addressed")),
        Section(wa, "RCW 43.386.020(2)(g)", "Impacts on civil rights and liberties",
                [("demographic attributes", "never searched or filtered on; used only to "
                                            "audit error rates per group")],
                deployer=_deployer("potential impacts on privacy and disparate impacts on "
                                   "marginalised communities, and the steps to mitigate them "
                                   "and prevent unauthorised use")),
        Section(wa, "RCW 43.386.020(2)(h)", "Feedback procedures",
                [("a person's own data", "`faceaudit gallery subject-export ID`: everything "
                                         "held and logged about one subject"),
                 ("a defendant's case", "`faceaudit case export CASE`: a bundle verifiable "
                                        "offline with the deployment's public key")],
                deployer=_deployer("the channels for feedback from affected individuals and "
                                   "the community, and how feedback is answered")),
        Section(eu, "Art. 27(1)(a)", "The deployer's processes in which the system is used",
                _review_rows(facts) + _policy_rows(facts)[:3],
                deployer=_deployer("the processes, in line with the system's intended purpose")),
        Section(eu, "Art. 27(1)(b)", "Period and frequency of use",
                _usage_rows(facts)[:2] + [("rate limits", _policy_rows(facts)[-1][1])],
                deployer=_deployer("the period within which, and the frequency with which, "
                                   "the system is intended to be used")),
        Section(eu, "Art. 27(1)(c)", "Categories of persons and groups affected",
                _data_rows(facts)[:2] + [("groups measured by the audits", _listing(sorted(
                    {str(g) for a in facts["audits"] for g in a["groups"]})))],
                deployer=_deployer("the categories of natural persons and groups likely to be "
                                   "affected in this context (enrolled persons, persons in "
                                   "probe images, bystanders)")),
        Section(eu, "Art. 27(1)(d)", "Specific risks of harm",
                _audit_rows(facts) + _gate_rows(facts), tables,
                deployer=_deployer("the specific risks of harm to the persons and groups "
                                   "above, taking into account the provider's information "
                                   "(Art. 13)")),
        Section(eu, "Art. 27(1)(e)", "Human oversight measures", _review_rows(facts),
                deployer=_deployer("who oversees, with which competence and authority")),
        Section(eu, "Art. 27(1)(f)", "When risks materialise: governance and complaints",
                [("a failing or stale audit", "searches are refused until a passing audit is "
                                              "registered (the bias gate)"),
                 ("erasure", "`faceaudit gallery erase`: templates, images and the subject "
                             "in stored results, logged")] + _retention_rows(facts)[-2:-1],
                deployer=_deployer("internal governance arrangements and complaint "
                                   "mechanisms",
                                   "the notification of the market surveillance authority "
                                   "(Art. 27(3))")),
    ]


def _environment() -> Environment:
    return Environment(loader=PackageLoader("faceaudit.deployment", "templates"),
                       autoescape=lambda name: bool(name and name.endswith(".html.j2")),
                       trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)


def render(facts: dict[str, Any], template: str) -> str:
    """The report as text through ``template`` (``accountability.html.j2`` or ``.md.j2``)."""
    sections = report_sections(facts)
    parts = list(dict.fromkeys(s.part for s in sections))
    return _environment().get_template(template).render(facts=facts, sections=sections,
                                                        parts=parts, deployer=DEPLOYER)


def write_accountability(facts: dict[str, Any], out: Path) -> list[Path]:
    """Write ``accountability.html`` and ``accountability.md`` into ``out``; return them."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name in ("accountability.html", "accountability.md"):
        path = out / name
        path.write_text(render(facts, f"{name}.j2"), encoding="utf-8")
        written.append(path)
    return written
