"""`make demo`: a tour of the product on what the project ships, then LFW's audit if present.

The bare-machine tour needs nothing but this repository: the openly licensed photos in
``demo/photos/`` (MIT and CC BY 2.0, licence files beside them) and a seeded *synthetic* vendor
score table generated at run time (``scripts/synthetic_vendor.py``). It walks the real command
line, one line per step, and writes everything to ``demo-out/``: detect and embed the photos,
verify two of them, enrol consented subjects in a fresh demo home, see identification refused
(no audit), audit the synthetic table (generator's rates beside the measured ones), try to
register it, identify, review, erase, verify the ledger and write the oversight report and
the public transparency report.

Where LFW is on this machine ($FACEAUDIT_DATA, ./data/lfw, ../shared/data/lfw) the real LFW audit
by sex runs after the tour (about 10 minutes the first time; embeddings are cached). Where it is
not, the paragraph on how to get it closes the tour.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import synthetic_vendor

from faceaudit.base.datasets import LFW_HELP, find_lfw
from faceaudit.base.home import Home

REPO = Path(__file__).resolve().parents[1]
PHOTOS = REPO / "demo" / "photos"
MIT = PHOTOS / "face_recognition-mit"
CCBY = PHOTOS / "mdtf-cc-by-2.0"
SUBJECTS = {  # subject id -> the photo enrolled (the other photo of each person is a probe)
    "s-obama": MIT / "obama.jpg",
    "s-biden": MIT / "biden.jpg",
    "s-person-1": CCBY / "1.png",
    "s-person-2": CCBY / "3.png",
    "s-person-3": CCBY / "5.png",
}
PROBE = MIT / "obama2.jpg"


@dataclass
class Step:
    """One command of the tour and what came of it."""

    name: str
    argv: list[str]
    returncode: int
    stdout: str
    stderr: str


class Tour:
    """Runs the public CLI, exactly as a user would, and keeps one line per step."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.home = out / "home"
        self.exe = str(Path(sys.executable).with_name("faceaudit"))
        self.env = {**os.environ, "FACEAUDIT_HOME": str(self.home), "FACEAUDIT_ACTOR": "alice"}
        self.env.pop("FACEAUDIT_SIGNING_KEY", None)
        self.count = 0
        self.auditor_entry = ""
        self.auditor_key = out / "auditor" / "auditor.key"

    def run(self, name: str, *args: str | Path, expect: tuple[int, ...] = (0,),
            actor: str | None = None, save: str | None = None) -> Step:
        """Run ``faceaudit ARGS``; fail the tour on an unexpected exit code."""
        argv = [self.exe, *map(str, args)]
        env = dict(self.env, FACEAUDIT_ACTOR=actor) if actor else self.env
        done = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
        step = Step(name, argv, done.returncode, done.stdout, done.stderr)
        if save:
            (self.out / save).write_text(done.stdout)
        if done.returncode not in expect:
            raise SystemExit(
                f"demo step '{name}' exited {done.returncode} (expected {expect}):\n"
                f"$ faceaudit {' '.join(map(str, args))}\n{done.stderr.strip() or done.stdout}"
            )
        return step

    def say(self, line: str) -> None:
        """Print one numbered line of the tour."""
        self.count += 1
        print(f"{self.count:>2}. {line}", flush=True)


def _rel(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def bare_tour(out: Path) -> None:
    """The tour on the bundled photos and the synthetic vendor table."""
    tour = Tour(out)
    tour.say(f"demo photos: {len(list(PHOTOS.glob('*/*.*')))} files from {_rel(PHOTOS)} "
             "(MIT and CC BY 2.0; attributions in the licence files there)")

    step = tour.run("detect", "detect", "--json", CCBY / "1.png", save="detect.json")
    faces = json.loads(step.stdout)
    faces = faces["faces"] if isinstance(faces, dict) else faces
    tour.say(f"detect: {len(faces)} face(s) in mdtf-cc-by-2.0/1.png → {_rel(out / 'detect.json')}")

    images = sorted(p for p in PHOTOS.glob("*/*") if p.suffix.lower() in {".jpg", ".png"})
    tour.run("embed", "embed", *images, "-o", out / "embeddings.parquet")
    tour.say(f"embed: {len(images)} photos → {_rel(out / 'embeddings.parquet')}")

    same = tour.run("verify", "verify", "--json", MIT / "obama.jpg", PROBE, expect=(0,),
                    save="verify.json")
    other = tour.run("verify", "verify", "--json", MIT / "obama.jpg", MIT / "biden.jpg",
                     expect=(1,))
    s, d = json.loads(same.stdout), json.loads(other.stdout)
    tour.say(f"verify at the calibrated threshold {s['threshold']:.4f} (FMR {s['fmr_target']:g}): "
             f"obama vs obama2 {s['score']:.3f} match, obama vs biden {d['score']:.3f} no match")

    tour.run("init", "init")
    keys = tour.run("auditor keygen", "auditor", "keygen", "--json", "--out", out / "auditor")
    tour.auditor_entry = json.loads(keys.stdout)["policy_entry"]
    tour.auditor_key = out / "auditor" / "auditor.key"
    tour.run("policy", "policy", "set", _policy(tour))
    tour.say(f"init: a fresh demo home {_rel(tour.home)}; its policy trusts the demo auditor's "
             f"key {json.loads(keys.stdout)['key_id']} (auditor keygen)")
    for subject, photo in SUBJECTS.items():
        tour.run("enrol", "gallery", "enrol", "--subject", subject, "--basis", "consent",
                 "--evidence", f"demo consent form for {subject}", photo)
    tour.say(f"enrol: {len(SUBJECTS)} consented subjects, each with its legal basis and evidence")

    refused = tour.run("identify (refused)", "identify", PROBE, "--purpose", "demo search",
                       "--case", "DEMO-1", expect=(5,))
    tour.say("identify before any audit: refused (exit 5) — "
             + refused.stderr.strip().removeprefix("faceaudit: error: "))

    scores = out / "synthetic" / "SYNTHETIC-vendor-scores.csv"
    counts = synthetic_vendor.generate(scores, seed=0)
    audit_dir = out / "synthetic-audit"
    gate = tour.run("audit", "audit", "--scores", scores, "--out", audit_dir, "--json",
                    "--fail-if", "fmr_ratio>2", "--sign", tour.auditor_key, expect=(0, 3))
    report = json.loads((audit_dir / "report.json").read_text())
    lines = _compare_with_generator(report)
    (out / "synthetic" / "generator-vs-measured.json").write_text(json.dumps(lines, indent=2))
    tour.say(f"audit of a SYNTHETIC vendor table ({counts['genuine']:,} genuine, "
             f"{counts['impostor']:,} impostor scores on a 0–100 scale) → "
             f"{_rel(audit_dir / 'report.html')} (gate exit {gate.returncode})")
    for line in lines["rows"]:
        print(f"      group {line['group']}: FMR {line['fmr']:.5f} measured "
              f"[{line['fmr_ci'][0]:.5f}, {line['fmr_ci'][1]:.5f}] vs {line['true_fmr']:.5f} "
              f"generated; FNMR {line['fnmr']:.4f} [{line['fnmr_ci'][0]:.4f}, "
              f"{line['fnmr_ci'][1]:.4f}] vs {line['true_fnmr']:.4f}")

    _register_and_identify(tour, audit_dir)

    tour.run("erase", "gallery", "erase", "s-person-3", "--purpose", "subject withdrew consent",
             "--case", "DEMO-ERASE-1")
    tour.say("erase: s-person-3's template, photo and evidence removed (the ledger keeps the fact)")

    tour.run("ledger sth", "ledger", "sth", "--json", save="signed-tree-head.json")
    verified = tour.run("ledger verify", "ledger", "verify", save="ledger-verify.txt")
    tour.say(f"ledger verify: {verified.stdout.strip().splitlines()[0]}")
    tour.run("ledger export", "ledger", "export", "--out", out / "ledger-export.jsonl")
    today = time.strftime("%Y-%m-%d", time.gmtime())
    tour.run("ledger report", "ledger", "report", "--from", today, "--to", today,
             "--out", out / "oversight")
    tour.say(f"oversight report of today's events → {_rel(out / 'oversight')}/ "
             f"(ledger export: {_rel(out / 'ledger-export.jsonl')})")
    reports(tour)
    transparency_report(tour, today)


def reports(tour: Tour) -> None:
    """The reports for people outside the deployment (issue 23): the case bundle of DEMO-1 for
    the defence, checked offline with the public key alone, and the deployer's accountability
    report / impact assessment draft."""
    bundle = tour.out / "case-DEMO-1"
    tour.run("case export", "case", "export", "DEMO-1", "--out", bundle, actor="dpo")
    public_key = tour.out / "deployment.pub"  # the defence's copy, handed over out of band
    shutil.copy(Home(tour.home).public_key_path, public_key)
    checked = tour.run("case verify", "case", "verify", bundle, "--public-key", public_key,
                       "--json")
    summary = json.loads(checked.stdout)
    tour.say(f"case export DEMO-1 → {_rel(bundle)}/case.json, case.html; case verify with the "
             f"public key alone: {'intact' if summary['ok'] else 'NOT intact'} "
             f"({summary['events']} events, {summary['searches']} searches)")
    tour.run("report accountability", "report", "accountability", "--out",
             tour.out / "accountability")
    tour.say(f"accountability report (RCW 43.386.020) and Art. 27 FRIA draft → "
             f"{_rel(tour.out / 'accountability')}/accountability.html, .md")


def transparency_report(tour: Tour, today: str) -> None:
    """The public transparency report of this year, counts below the policy's k suppressed."""
    out = tour.out / "transparency"
    tour.run("report transparency", "report", "transparency", "--from", today[:4] + "-01-01",
             "--to", today, "--period", "year", "--out", out)
    tour.say(f"public transparency report of this year, counts below k=5 suppressed → "
             f"{_rel(out)}/")


def _register_and_identify(tour: Tour, audit_dir: Path) -> None:
    """Register the signed synthetic audit (refused: scores cannot speak for this engine), waive
    the gate out loud, identify, and have a second person review the lead."""
    refused = tour.run("register-audit", "policy", "register-audit", audit_dir / "report.json",
                       expect=(2, 5))
    why = refused.stderr.strip().removeprefix("faceaudit: error: ")
    tour.say(f"register the signed synthetic audit: refused (exit {refused.returncode}) — a "
             f"vendor's score table cannot speak for this deployment's engine: {why}")

    tour.run("policy waiver", "policy", "set",
             _policy(tour, waiver="demo home: no audit of this engine on real data ships "
                                  "with faceaudit"))
    status = tour.run("policy status", "policy", "status", save="policy-status.txt")
    tour.say(f"policy change (logged): {status.stdout.strip()}")

    found = tour.run("identify", "identify", "--json", PROBE, "--purpose", "demo search", "--case",
                     "DEMO-1", save="identify.json")
    result = json.loads(found.stdout)
    leads = [c for face in result.get("faces", []) for c in face.get("candidates", [])]
    best = ", ".join(f"{c['subject_id']} {c['score']:.3f}" for c in leads[:3]) or "none"
    tour.say(f"identify obama2.jpg: {len(leads)} lead(s) for human review ({best}) → "
             f"{_rel(tour.out / 'identify.json')}")

    if not leads:
        return
    for reviewer in ("bob", "carol"):  # two independent reviewers, neither the searcher
        listed = tour.run(f"review pending ({reviewer})", "review", "pending", "--json",
                          actor=reviewer)
        task = next(t for t in json.loads(listed.stdout)["pending"]
                    if t["result_id"] == result["result_id"]
                    and t["candidate"]["subject_id"] == leads[0]["subject_id"])
        tour.run(f"review ({reviewer})", "review", "decide", task["task_id"], "--confirm",
                 "--note", "same person on both photos", actor=reviewer)
    tour.say(f"blind review by bob and carol (not the searcher): {leads[0]['subject_id']} of "
             f"{result['result_id']} is a confirmed lead — still not evidence")


def _policy(tour: Tour, *, waiver: str | None = None) -> Path:
    """Write the demo home's policy: trust the demo auditor's key, waive the gate if asked."""
    lines = ["# The demo home's policy (written by scripts/demo.py).", "[bias_gate]",
             f'trusted_auditor_keys = ["{tour.auditor_entry}"]']
    if waiver:
        lines.append(f'waived_because = "{waiver}"')
    path = tour.out / ("policy-waived.toml" if waiver else "policy.toml")
    path.write_text("\n".join(lines) + "\n")
    return path


def _compare_with_generator(report: dict) -> dict:
    """The generator's true per-group rates at the audit's threshold beside the measured ones."""
    target = next(t for t in report["targets"] if t["target_fmr"] == report["primary_target"])
    truth = synthetic_vendor.true_rates(target["threshold"])
    rows = [
        {
            "group": g["group"],
            "fmr": g["fmr"]["value"], "fmr_ci": [g["fmr"]["low"], g["fmr"]["high"]],
            "true_fmr": truth[g["group"]]["fmr"],
            "fnmr": g["fnmr"]["value"], "fnmr_ci": [g["fnmr"]["low"], g["fnmr"]["high"]],
            "true_fnmr": truth[g["group"]]["fnmr"],
        }
        for g in target["groups"]
    ]
    return {"synthetic": True, "target_fmr": target["target_fmr"],
            "threshold": target["threshold"], "rows": rows}


def main() -> int:
    """Run the bare-machine tour, then the LFW audit where LFW is present."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("demo-out"))
    parser.add_argument("--no-lfw", action="store_true", help="run the tour only")
    args = parser.parse_args()
    out: Path = args.out.resolve()
    if (out / "home").exists():
        shutil.rmtree(out / "home")
    out.mkdir(parents=True, exist_ok=True)
    found = find_lfw()
    lfw = None if args.no_lfw else found
    print(f"faceaudit demo → {_rel(out)}/ — the tour on bundled photos and a synthetic vendor "
          f"table{', then the LFW audit by sex' if lfw else ''}", flush=True)
    bare_tour(out)
    if args.no_lfw:
        where = f" (LFW is at {found}; run without --no-lfw to audit it)" if found else ""
        print(f"\nRan: the bare-machine tour only: --no-lfw skipped the LFW audit{where}.")
        return 0
    if lfw is None:
        print(f"\nRan: the bare-machine tour only.\n{LFW_HELP}")
        return 0
    return lfw_audit(lfw, out / "lfw-audit")


def lfw_audit(lfw: Path, out: Path) -> int:
    """Today's LFW audit by sex through the public CLI; its progress goes to stderr as plain
    lines when that is a log or CI (faceaudit.base.progress), so the ten minutes are not silent."""
    faceaudit = Path(sys.executable).with_name("faceaudit")
    print(f"\nLFW audit: {lfw} by sex (FMR targets 1e-2, 1e-3, 1e-4) → {_rel(out)}/", flush=True)
    done = subprocess.run(
        [str(faceaudit), "audit", "--lfw", str(lfw), "--by", "sex", "--out", str(out),
         "--fail-if", "fmr_ratio>2", "--fail-if", "fnmr_ratio>1.5", "--operating-points"],
        check=False,
    )
    # The audit has printed its headline, gate and report paths; one closing line, not a recap.
    if done.returncode == 3:
        print("Ran: the bare-machine tour and the LFW audit (its bias gate did not pass: exit 3 "
              "in a pipeline).")
        return 0
    if done.returncode == 0:
        print("Ran: the bare-machine tour and the LFW audit.")
    return done.returncode


if __name__ == "__main__":
    sys.exit(main())
