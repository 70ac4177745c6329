"""The PAD audit's numbers (ISO/IEC 30107-3) against a brute-force count on the raw rows:
thresholds set on the attack scores with ties, per group and per species APCER, BPCER, the
worst species, IAPMR, at every operating point; and interval coverage on simulated subjects."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from faceaudit.audit.gate import parse_rule
from faceaudit.audit.pad_inputs import PadTable
from faceaudit.audit.pad_rates import pad_data, pad_rates
from faceaudit.audit.pad_report import pad_section
from faceaudit.audit.pad_run import PadOptions, audit_pad
from faceaudit.audit.settings import AuditSettings

SPECIES = ("mask", "print", "replay")


def synthetic(seed: int, *, subjects=(40, 3), per_subject=6, ties=True) -> PadTable:
    """Groups ``A`` (many subjects) and ``B`` (few); bona fide scores high, attacks low, on a
    coarse grid (ties everywhere) when ``ties``; ``mask`` attacks never reach the bona fide
    range (a species with zero accepted attacks at every threshold set by the others)."""
    rng = np.random.default_rng(seed)
    score, species, group, subject, comparison = [], [], [], [], []

    def grid(x: np.ndarray) -> np.ndarray:
        return np.round(x, 1) if ties else x

    for name, n_subjects, shift in (("A", subjects[0], 0.0), ("B", subjects[1], 0.08)):
        for s in range(n_subjects):
            for _ in range(per_subject):
                score.append(float(grid(rng.normal(0.75 - shift, 0.15, 1))[0]))
                species.append(None)
                group.append(name)
                subject.append(f"{name}{s}")
                comparison.append(np.nan)
            for sp in SPECIES:
                for _ in range(per_subject):
                    mean = {"mask": -0.5, "print": 0.3 + shift, "replay": 0.35}[sp]
                    score.append(float(grid(rng.normal(mean, 0.15, 1))[0]))
                    species.append(sp)
                    group.append(name)
                    subject.append(f"{name}{s}")
                    comparison.append(float(np.round(rng.uniform(0, 1), 2)))
    return PadTable(np.array(score), species, group, subject, np.array(comparison))


def brute_threshold(table: PadTable, target: float, higher_is_attack: bool) -> float:
    """The lowest candidate threshold (an attack score, or just above the highest one) at
    which every species' APCER over all groups is at most ``target``, by trying each."""
    s = -table.score if higher_is_attack else table.score
    attack = np.array([x is not None for x in table.species])
    names = np.array([x or "" for x in table.species])
    candidates = np.r_[np.unique(s[attack]), np.nextafter(s[attack].max(), np.inf)]
    for c in candidates:
        if all(np.mean(s[names == sp] >= c) <= target for sp in SPECIES):
            return float(-c if higher_is_attack else c)
    raise AssertionError("no threshold")


def brute_rates(table: PadTable, threshold: float, higher_is_attack: bool,
                cmp_threshold: float | None) -> dict:
    """Per group: BPCER, APCER per species, the worst species' APCER, IAPMR at ``threshold``."""
    accepted = table.score <= threshold if higher_is_attack else table.score >= threshold
    group = np.array(table.group)
    names = np.array([x or "" for x in table.species])
    out = {}
    for g in sorted(set(table.group)):
        bona = (group == g) & (names == "")
        row = {"bpcer": np.mean(~accepted[bona]), "species": {}}
        for sp in SPECIES:
            rows = (group == g) & (names == sp)
            row["species"][sp] = (int(accepted[rows].sum()), int(rows.sum()))
        row["apcer"] = max(e / n for e, n in row["species"].values())
        if cmp_threshold is not None:
            rows = (group == g) & (names != "")
            match = table.comparison >= cmp_threshold
            row["iapmr"] = np.mean((accepted & match)[rows])
        out[g] = row
    return out


def check_against_brute_force(report: dict, table: PadTable, higher_is_attack: bool,
                              cmp_threshold: float | None) -> None:
    for point in report["pad"]["operating_points"]:
        if point["apcer_target"] is not None:
            assert point["threshold"] == brute_threshold(table, point["apcer_target"],
                                                         higher_is_attack)
        brute = brute_rates(table, point["threshold"], higher_is_attack, cmp_threshold)
        for row in point["groups"]:
            want = brute[row["group"]]
            assert row["bpcer"]["value"] == pytest.approx(want["bpcer"], abs=0)
            assert row["apcer"]["value"] == pytest.approx(want["apcer"], abs=0)
            for sp, (errors, n) in want["species"].items():
                est = row["species"][sp]
                assert (est["errors"], est["presentations"]) == (errors, n)
                assert est["value"] == errors / n
            worst = row["apcer_species"]
            assert want["species"][worst][0] / want["species"][worst][1] == want["apcer"]
            if cmp_threshold is not None:
                assert row["iapmr"]["value"] == pytest.approx(want["iapmr"], abs=0)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("higher_is_attack", [False, True])
def test_rates_match_a_brute_force_count_with_ties(seed, higher_is_attack):
    table = synthetic(seed)
    if higher_is_attack:  # the same presentations scored the other way round
        table = PadTable(-table.score, table.species, table.group, table.subject,
                         table.comparison)
    options = PadOptions(higher_is_attack=higher_is_attack, pad_threshold=-0.5
                         if higher_is_attack else 0.5, comparison_threshold=0.5)
    report = audit_pad(table, AuditSettings(reps=50), options, input_path="synthetic")
    check_against_brute_force(report, table, higher_is_attack, 0.5)
    labels = [p["label"] for p in report["pad"]["operating_points"]]
    assert labels == ["BPCER100", "BPCER20", "BPCER10", "given threshold"]


def test_known_rates_per_group_and_species():
    """Rates built by hand: at threshold 0.5, A's BPCER is 10/100, its print APCER 5/100,
    replay 20/100 (its worst species), mask 0/100; B has 3 subjects."""
    rows = []
    for g, n_subjects in (("A", 50), ("B", 3)):
        per = 100 // n_subjects + (1 if g == "B" else 0)
        total = per * n_subjects if g == "B" else 100
        bf = [0.5 - 0.1] * (total // 10) + [0.5] * (total - total // 10)  # 0.5 ties: accepted
        pr = [0.5] * (total // 20) + [0.49] * (total - total // 20)
        rp = [0.9] * (total // 5) + [0.1] * (total - total // 5)
        mk = [0.0] * total
        for kind, scores in ((None, bf), ("print", pr), ("replay", rp), ("mask", mk)):
            for i, x in enumerate(scores):
                rows.append((x, kind, g, f"{g}{i % n_subjects}"))
    score, species, group, subject = zip(*rows, strict=True)
    table = PadTable(np.array(score), list(species), list(group), list(subject), None)
    report = audit_pad(table, AuditSettings(reps=100), PadOptions(pad_threshold=0.5),
                       input_path="hand")
    given = report["pad"]["operating_points"][-1]
    a, b = given["groups"]
    assert a["bpcer"]["value"] == 0.1 and a["bpcer"]["errors"] == 10
    assert a["species"]["print"]["value"] == 0.05
    assert a["species"]["replay"]["value"] == 0.2
    assert a["species"]["mask"]["value"] == 0.0
    assert a["species"]["mask"]["interval"] == "clopper-pearson"  # zero accepted attacks
    assert a["apcer"]["value"] == 0.2 and a["apcer_species"] == "replay"
    assert a["bona_fide_subjects"] == 50 and not a["small_sample"]
    assert b["bona_fide_subjects"] == 3 and b["small_sample"]
    assert b["bpcer"]["small_sample"] and b["bpcer"]["subjects"] == 3
    assert any("fewer than 30 subjects" in w for w in report["warnings"])
    # the worst species over all groups: replay at 0.2
    assert given["overall"]["apcer_species"] == "replay"
    assert given["overall"]["apcer"]["value"] == (20 + 102 // 5) / (100 + 102)


def test_species_with_no_accepted_attack_ties_break_to_the_fewest_attacks():
    """When every species has APCER 0 in a group, its worst species is the one with the
    fewest attacks: its exact bound is the widest (the conservative choice)."""
    rows = [(0.9, None, g, f"{g}{i % 5}") for g in "AB" for i in range(50)]
    rows += [(0.0, "print", g, f"{g}{i % 5}") for g in "AB" for i in range(40)]
    rows += [(0.0, "mask", g, f"{g}{i % 5}") for g in "AB" for i in range(10)]
    score, species, group, subject = zip(*rows, strict=True)
    table = PadTable(np.array(score), list(species), list(group), list(subject), None)
    report = audit_pad(table, AuditSettings(reps=20), PadOptions(pad_threshold=0.5),
                       input_path="t")
    row = report["pad"]["operating_points"][-1]["groups"][0]
    assert row["apcer"]["value"] == 0.0 and row["apcer_species"] == "mask"
    assert row["apcer"]["presentations"] == 10 and row["apcer"]["interval"] == "clopper-pearson"


def test_unsupported_apcer_target_is_flagged_and_never_passes():
    table = synthetic(0, subjects=(10, 10), per_subject=3)  # 60 attacks per species
    report = audit_pad(table, AuditSettings(reps=50, min_identities=5),
                       PadOptions(), input_path="t",
                       rules=[parse_rule("bpcer_ratio>1000@0.01")])
    first = report["pad"]["operating_points"][0]
    assert first["label"] == "BPCER100" and not first["supported"]
    assert first["required_attacks_per_species"] == 300
    assert any("BPCER100" in w and "not supported" in w for w in report["warnings"])
    assert report["gate"]["rules"][0]["status"] == "insufficient"
    assert not report["gate"]["passed"]


def test_intervals_cover_the_true_rate():
    """Seeded simulation: subjects differ in how often they are rejected (a beta mixture);
    the 95 % interval of each group's BPCER covers the population rate in most data sets."""
    rng = np.random.default_rng(7)
    true = {"A": 0.10, "B": 0.25}
    covered = {g: 0 for g in true}
    runs = 60
    for _ in range(runs):
        score, species, group, subject = [], [], [], []
        for g, p in true.items():
            for s in range(30):
                p_s = rng.beta(2 * p / (1 - p), 2)  # mean p, spread between subjects
                for _ in range(8):
                    score.append(0.0 if rng.random() < p_s else 1.0)
                    species.append(None)
                    group.append(g)
                    subject.append(f"{g}{s}")
                for _ in range(4):
                    score.append(float(rng.uniform(-1.0, 0.0)))
                    species.append("print")
                    group.append(g)
                    subject.append(f"{g}{s}")
        table = PadTable(np.array(score), species, group, subject, None)
        rates = pad_rates(pad_data(table), targets=[0.1], given_threshold=0.5, reps=300,
                          seed=int(rng.integers(1 << 30)))
        section = pad_section(rates, confidence=0.95, min_identities=30, reps=300,
                              iapmr_source=None)
        for row in section["operating_points"][-1]["groups"]:
            est = row["bpcer"]
            covered[row["group"]] += est["low"] <= true[row["group"]] <= est["high"]
    for g in true:
        assert covered[g] / runs >= 0.85, covered


def test_the_synthetic_demo_table_recovers_the_generators_rates(tmp_path):
    """scripts/synthetic_pad.py: the audit's intervals at a given threshold cover the rates
    the generator has in closed form, and the BPCER differential it builds in is seen."""
    import importlib.util
    from pathlib import Path

    from faceaudit.audit.pad_inputs import read_pad_scores

    script = Path(__file__).resolve().parents[2] / "scripts" / "synthetic_pad.py"
    spec = importlib.util.spec_from_file_location("synthetic_pad", script)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.generate(tmp_path / "pad.csv", seed=0)
    table = read_pad_scores(tmp_path / "pad.csv")
    report = audit_pad(table, AuditSettings(reps=200),
                       PadOptions(pad_threshold=0.3, comparison_threshold=0.5),
                       input_path="pad.csv")
    truth = module.true_rates(0.3)
    given = report["pad"]["operating_points"][-1]
    for row in given["groups"]:
        true = truth[row["group"]]
        assert row["bpcer"]["low"] <= true["bpcer"] <= row["bpcer"]["high"]
        for sp, est in row["species"].items():
            assert est["low"] <= true[f"apcer_{sp}"] <= est["high"], (row["group"], sp)
    assert given["summaries"]["bpcer_ratio"]["low"] > 1


def test_a_group_with_too_few_attacks_for_the_target_is_left_out_of_apcer_summaries():
    """Group B's 18 attacks per species cannot resolve an APCER of 10 % (the rule of three
    needs 30): it is left out of the APCER differentials there, with its counts, as the
    comparison audit leaves a group out of the FMR summaries; BPCER still compares it."""
    table = synthetic(0, subjects=(40, 3))
    report = audit_pad(table, AuditSettings(reps=50), PadOptions(apcer_targets=[0.1]),
                       input_path="t", rules=[parse_rule("apcer_ratio>2")])
    point = report["pad"]["operating_points"][0]
    b = point["groups"][1]
    assert b["group"] == "B" and not b["supported"] and point["groups"][0]["supported"]
    left = point["summary_groups"]["apcer"]["left_out"]
    assert left == [{"group": "B", "reason": "18 mask, 18 print, 18 replay attack presentations;"
                     " the rule of three needs 30 per species for APCER 0.1"}]
    assert point["summaries"]["apcer_ratio"]["value"] is None
    assert point["summaries"]["bpcer_ratio"]["groups"] == ["A", "B"]
    assert report["gate"]["rules"][0]["status"] == "unevaluable"
    assert any("no apcer_* summaries" in w for w in report["warnings"])


@st.composite
def _tables(draw):
    """Small tables on a five-value grid (ties everywhere), two or three groups, one to three
    species, any subjects; every group has bona fide and attack presentations."""
    n_groups = draw(st.integers(2, 3))
    species = SPECIES[: draw(st.integers(1, 3))]
    score, kinds, group, subject = [], [], [], []
    for g in range(n_groups):
        for kind in (None, *species):
            for _ in range(draw(st.integers(1, 12))):
                score.append(draw(st.integers(0, 4)) / 4)
                kinds.append(kind)
                group.append(f"g{g}")
                subject.append(f"g{g}s{draw(st.integers(0, 3))}")
    return PadTable(np.array(score), kinds, group, subject, None)


@settings(max_examples=80, deadline=None)
@given(table=_tables(), target=st.sampled_from([0.01, 0.05, 0.1, 0.2, 0.25, 0.5]),
       higher_is_attack=st.booleans())
def test_any_small_table_matches_the_brute_force_count(table, target, higher_is_attack):
    species = sorted({s for s in table.species if s is not None})
    rates = pad_rates(pad_data(table, higher_is_attack=higher_is_attack), targets=[target],
                      reps=0)
    point = rates.points[0]
    s = -table.score if higher_is_attack else table.score
    names = np.array([x or "" for x in table.species])
    attack = names != ""
    want = next(c for c in np.r_[np.unique(s[attack]), np.nextafter(s[attack].max(), np.inf)]
                if all(np.mean(s[names == sp] >= c) <= target for sp in species))
    assert point.threshold == (-want if higher_is_attack else want)
    accepted = s >= want
    group = np.array(table.group)
    for g, name in enumerate(rates.data.groups):
        bona = (group == name) & ~attack
        assert point.bpcer.errors[g] == int((~accepted & bona).sum())
        assert point.bpcer.trials[g] == int(bona.sum())
        for i, sp in enumerate(species):
            rows = (group == name) & (names == sp)
            assert point.apcer[i].errors[g] == int((accepted & rows).sum())
            assert point.apcer[i].trials[g] == int(rows.sum())


def test_combined_summaries_weigh_apcer_against_bpcer():
    """Inequity rate, FDR and GARBE over APCER (in FMR's place) and BPCER (in FNMR's), as the
    1:1 audit's; a gate rule on them rests on both groups' APCER and BPCER."""
    table = synthetic(1, subjects=(40, 40))
    report = audit_pad(table, AuditSettings(reps=100, alpha=0.3),
                       PadOptions(apcer_targets=[0.1]), input_path="t",
                       rules=[parse_rule("inequity>1000"), parse_rule("garbe>5")])
    point = report["pad"]["operating_points"][0]
    s = point["summaries"]
    apcer = [g["apcer"]["value"] for g in point["groups"]]
    bpcer = [g["bpcer"]["value"] for g in point["groups"]]
    ratio = lambda v: max(v) / min(v)  # noqa: E731
    assert s["inequity"]["value"] == pytest.approx(ratio(apcer) ** 0.3 * ratio(bpcer) ** 0.7)
    assert s["fdr"]["value"] == pytest.approx(
        1 - (0.3 * (max(apcer) - min(apcer)) + 0.7 * (max(bpcer) - min(bpcer))))
    assert s["inequity"]["low"] <= s["inequity"]["value"] <= s["inequity"]["high"]
    assert s["garbe"]["groups"] == ["A", "B"]
    assert [r["status"] for r in report["gate"]["rules"]] == ["pass", "pass"]
    few = audit_pad(synthetic(1, subjects=(40, 3)), AuditSettings(reps=100),
                    PadOptions(pad_threshold=0.5), input_path="t",
                    rules=[parse_rule("inequity>1000")])
    rule = few["gate"]["rules"][0]
    assert rule["status"] == "insufficient" and "APCER of 'B'" in rule["note"]
