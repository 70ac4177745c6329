"""Human views of the deployment commands that answer an operator: the answer first, the
ledger receipt (an inclusion proof under a signed tree head) only when asked (``--receipt``).

Presenting only: each view takes the JSON document the command prints with ``--json`` (which
always holds the receipt) and returns text; nothing here computes a result.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from faceaudit.cli.output import describe

ReceiptOption = Annotated[
    bool,
    typer.Option("--receipt", help="Also print the ledger receipt: the event's inclusion proof "
                 "under a signed tree head (--json always has it)."),
]
QuietOption = Annotated[
    bool,
    typer.Option("--quiet", "-q", help="Print only the id (for scripts: "
                 "RESULT=$(faceaudit identify … -q)); errors still go to stderr."),
]


def _ledger_line(data: dict[str, Any], receipt: bool) -> str:
    seq = data.get("ledger_seq", (data.get("receipt") or {}).get("seq"))
    where = f"recorded in the ledger (event {seq})" if seq is not None \
        else "recorded in the ledger"
    return where if receipt else f"{where}; --receipt prints its proof"


def _with_receipt(lines: list[str], data: dict[str, Any], receipt: bool) -> str:
    if receipt:
        proof = data.get("receipt")
        lines.append("receipt:" if proof else "receipt: - (the ledger could not make one now)")
        if proof:
            lines.append(describe(proof, indent=1))
    return "\n".join(lines)


def _box(box: dict[str, Any]) -> str:
    return f"left {box['left']}, top {box['top']}, right {box['right']}, bottom {box['bottom']}"


def identify_view(data: dict[str, Any], *, receipt: bool = False) -> str:
    """``faceaudit identify``: the candidates per face, then how they were found, the
    ledger line, and the receipt when asked."""
    rid = data["result_id"]
    faces = data.get("faces", [])
    lines: list[str] = []
    if data.get("held_until"):
        lines.append(f"result {rid}: held until {data['held_until']} — the candidates are "
                     "released when its authorisation is recorded (faceaudit authorisation "
                     f"record {rid} …)")
    elif not any(f.get("candidates") for f in faces):
        lines.append(f"result {rid}: {len(faces)} face(s), no candidate at or above the "
                     "threshold")
    else:
        found = sum(len(f["candidates"]) for f in faces)
        lines.append(f"result {rid}: {len(faces)} face(s), {found} candidate(s) — leads, not "
                     "identifications: review each with `faceaudit review decide --result-id "
                     f"{rid} --face N --candidate ID --decision confirm|reject`")
    for number, face in enumerate(faces, 1):
        lines.append(f"face {number} ({_box(face['box'])}):")
        for flag in face.get("quality_flags", []):  # the policy's probe-quality floor
            lines.append(f"  FLAG below the probe-quality floor: {flag['component']} "
                         f"{flag['value']:g} (limit {flag['limit']} = {flag['bound']:g})")
        candidates = face.get("candidates", [])
        if not candidates:
            lines.append("  no candidate at or above the threshold")
        for c in candidates:
            lines.append(f"  {c['rank']}. {c['subject_id']}  score {c['score']:.4f}  "
                         f"FMR {c['fmr']:.2g}")
    lines.append(f"threshold {data['threshold']:.4f} at FMR {data['fmr_target']:g} "
                 f"({data['backend_id']}); {_ledger_line(data, receipt)}")
    return _with_receipt(lines, data, receipt)


def enrol_view(data: dict[str, Any], *, receipt: bool = False) -> str:
    """``faceaudit gallery enrol``: who was enrolled, under which basis, then the ledger line
    and the receipt when asked (warnings are stderr lines, printed by the command)."""
    expires = data.get("expires_at") or "no expiry"
    kept = f", {data['images_kept']} image(s) kept" if data.get("images_kept") else ""
    lines = [f"enrolled {data['subject_id']}: {data['templates']} template(s){kept} under "
             f"{data['legal_basis']} ({expires}), {data['backend_id']}",
             _ledger_line(data, receipt)]
    return _with_receipt(lines, data, receipt)


def quiet_or_json(quiet: bool, as_json: bool) -> None:
    """Refuse ``--quiet`` with ``--json`` (each says what stdout holds; they exclude each
    other)."""
    if quiet and as_json:
        raise typer.BadParameter("give at most one of --quiet and --json")
