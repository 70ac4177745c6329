"""The public transparency report's templates: the same published tables laid out as each
statute asks, each citing its section (plain data, no I/O).

A template is a list of sections; each section names the statute's item it answers, the
tables that answer it (by name, from :mod:`faceaudit.ledger.transparency_counts`) and notes
for what the deployment does not record. Demographic breakdowns are never computed: where a
statute asks for one, the template says what it asks and that no officer-recorded field holds
it, so none is reported — a face is never used to infer one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

NO_DEMOGRAPHICS = ("No demographic breakdown is reported: faceaudit records no age, race or "
                   "gender on a case or a gallery record, and never infers one from a face.")
ALL_TABLES = ("searches_by_offence", "searches_by_purpose", "searches_by_result",
              "searches_by_candidates", "searches_by_gate", "searches_by_authorisation",
              "verifications", "leads", "lead_actions", "lead_outcomes", "refusals_by_rule",
              "erasures", "urgent_authorisations", "integrity")


@dataclass(frozen=True)
class Section:
    """One item of a template: its heading, the statute's words it answers (``asks``), the
    tables that answer it, whether the audits in force, the system and the ledger's
    verification belong here, and notes."""

    heading: str
    asks: str
    tables: tuple[str, ...] = ()
    audits: bool = False
    system: bool = False
    integrity: bool = False
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Template:
    """A report layout: ``name`` (``--template``), its title, the section of law it cites and
    its sections; ``demographics`` says what the statute asks for and what is reported."""

    name: str
    title: str
    citation: str
    sections: tuple[Section, ...]
    demographics: str = NO_DEMOGRAPHICS
    notes: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        """The template as JSON."""
        return {"name": self.name, "title": self.title, "citation": self.citation,
                "demographics": self.demographics, "notes": list(self.notes),
                "sections": [{"heading": s.heading, "asks": s.asks, "tables": list(s.tables),
                              "audits": s.audits, "system": s.system,
                              "integrity": s.integrity, "notes": list(s.notes)}
                             for s in self.sections]}


_UNAUTHORISED = ("Refusals whose rule is marked 'unauthorised use' are attempted uses the "
                 "policy does not allow, each refused and logged; 'integrity' rules are a "
                 "ledger that did not verify, or audit evidence refused as altered, unsigned, "
                 "untrusted or about another model. No data breach is known to the system "
                 "beyond these; the agency adds any it learns of otherwise.")

FULL = Template(
    "full", "Face recognition transparency report", "every table faceaudit publishes",
    (Section("Use", "Searches by offence, purpose, result, bias gate verdict and "
             "authorisation; 1:1 verifications.",
             ("searches_by_offence", "searches_by_purpose", "searches_by_result",
              "searches_by_candidates", "searches_by_gate", "searches_by_authorisation",
              "verifications"), system=True),
     Section("From a search to a decision", "Candidates confirmed as leads by independent "
             "reviewers, actions taken on them (on independent evidence) and outcomes.",
             ("leads", "lead_actions", "lead_outcomes")),
     Section("Authorisations", "Urgent searches whose authorisation was granted, refused or "
             "not recorded in time (their outputs deleted).", ("urgent_authorisations",)),
     Section("Refusals, erasures and integrity", "Operations refused by rule, erasures and "
             "purges, ledger recoveries and the ledger's verification.",
             ("refusals_by_rule", "erasures", "integrity"), integrity=True,
             notes=(_UNAUTHORISED,)),
     Section("Audits in force", "The bias audits the gate read at the end of each period, "
             "with their headline ratios of per-group error rates.", audits=True)))

MARYLAND = Template(
    "maryland-2-510", "Annual report on facial recognition technology",
    "Md. Code, Crim. Proc. § 2-510(a)",
    (Section("§ 2-510(a)(1) Systems and databases", "The name of each facial recognition "
             "system and the names and a description of the databases searched.", system=True),
     Section("§ 2-510(a)(2) Searches and type of crime", "For each system, the total number of "
             "searches performed and the type of crime or incident associated with each use.",
             ("searches_by_offence",),
             notes=("Offences are those recorded with each search (identify --offence), from "
                    "the policy's closed list.",)),
     Section("§ 2-510(a)(3) Possible matches that led to further investigative action",
             "The total number of possible matches returned that led to further investigative "
             "action, for each system and each database searched.",
             ("searches_by_result", "leads", "lead_actions"),
             notes=("A possible match leads to further action only once independent reviewers "
                    "confirmed it and an action was recorded on independent evidence.",
                    "Age, race and gender of individuals connected to the possible matches are "
                    "asked for only 'if the information is available from the government "
                    "records searched': the gallery's records hold none, so none is "
                    "reported.")),
     Section("§ 2-510(a)(4) Data breaches and unauthorized uses", "Any data breaches or "
             "unauthorized uses of facial recognition technology under the agency's control.",
             ("refusals_by_rule", "integrity"), integrity=True, notes=(_UNAUTHORISED,))),
    demographics=("§ 2-510(a)(3) asks for the age, race and gender of individuals connected "
                  "to possible matches if available from the government records searched. "
                  + NO_DEMOGRAPHICS),
    notes=("Published by February 1 for the prior calendar year: run with --period year.",))

UTAH = Template(
    "utah-77-23e-106", "Facial recognition comparisons: statistical report",
    "Utah Code § 77-23e-106(3)(a)",
    (Section("§ 77-23e-106(3)(a)(i)-(ii) Types of crime and requests per type",
             "The different types of crime for which a request was received, and how many "
             "requests for each type of crime.", ("searches_by_offence",)),
     Section("§ 77-23e-106(3)(a)(iii) Probable matches per request", "The number of probable "
             "matches provided in response to each request.",
             ("searches_by_result", "searches_by_candidates"),
             notes=("Counted as requests by the number of candidates returned (bands), so that "
                    "no single request can be picked out.",)),
     Section("§ 77-23e-106(3)(a)(iv) Image source of each match", "The image source from "
             "which each match was made.", system=True,
             notes=("Every candidate comes from the deployment's one consented gallery, "
                    "described under the system.",))),
    notes=("§ 77-23e-106(3)(b): no details of a pending investigation are disclosed — the "
           "report holds counts only, no case, person or image.",))

MONTANA = Template(
    "montana-44-15-111", "Facial recognition technology: annual report",
    "Mont. Code Ann. § 44-15-111(2)",
    (Section("§ 44-15-111(2)(a) Searches run", "The number of facial recognition searches "
             "run.", ("searches_by_result",)),
     Section("§ 44-15-111(2)(b) Offences investigated", "The offenses that the searches were "
             "used to investigate.", ("searches_by_offence",)),
     Section("§ 44-15-111(2)(c) Arrests and convictions", "The number of arrests and "
             "convictions that resulted from the searches.", ("lead_actions", "lead_outcomes"),
             notes=("Arrests are the actions of kind 'arrest' recorded on confirmed leads; "
                    "'charged' is the furthest outcome faceaudit records. Convictions are a "
                    "court's decision, not recorded by faceaudit: the agency adds them.",))),
    notes=("Submitted by June 30 for the previous calendar year: run with --period year.",))

WASHINGTON = Template(
    "washington-43-386", "Annual report on the use of a facial recognition service",
    "RCW 43.386 (Laws of 2020, ch. 257): annual report; records per RCW 43.386.070(2)",
    (Section("Extent of use", "The extent of the agency's use of the facial recognition "
             "service.", ("searches_by_offence", "searches_by_purpose", "searches_by_result",
                          "verifications"), system=True),
     Section("Compliance with the accountability report", "An assessment of compliance with "
             "the terms of the accountability report: human review, authorisations, the bias "
             "gate and its audits.", ("leads", "searches_by_gate", "searches_by_authorisation",
                                      "urgent_authorisations"), audits=True),
     Section("Known or reasonably suspected violations", "Any known or reasonably suspected "
             "violations of the accountability report.", ("refusals_by_rule", "integrity"),
             integrity=True, notes=(_UNAUTHORISED,))),
    demographics=("RCW 43.386.070(4) asks for nonidentifying demographic data of individuals "
                  "named in surveillance warrant applications; faceaudit records no such "
                  "field. " + NO_DEMOGRAPHICS))

TEMPLATES = {t.name: t for t in (FULL, MARYLAND, UTAH, MONTANA, WASHINGTON)}
