"""What the ledger records of the gallery's rows, so that the store can be checked against the
record: a SHA-256 commitment per template (its subject, id, backend and embedding bytes), per
consent record (its subject, legal basis, evidence, times), per kept enrolment image and per
kept probe crop (their bytes: what a reviewer is shown). Computed from the values as the
store holds them — at enrolment from the rows just written, at a check from the rows read — so
that an inserted, edited or re-assigned row no longer matches what its event committed to.
"""

from __future__ import annotations

import hashlib
import json

import numpy as np


def template_commitment(subject_id: str, template_id: int, backend_id: str,
                        embedding: np.ndarray) -> str:
    """The commitment of one stored template (float32 little-endian embedding bytes)."""
    digest = hashlib.sha256()
    digest.update(f"faceaudit-template:{subject_id}\0{int(template_id)}\0{backend_id}\0"
                  .encode())
    digest.update(np.ascontiguousarray(embedding, dtype="<f4").tobytes())
    return digest.hexdigest()


def consent_commitment(subject_id: str, legal_basis: str, evidence: str, obtained_at: str,
                       expires_at: str | None) -> str:
    """The commitment of one stored consent record (times as the store holds them)."""
    text = "\0".join(["faceaudit-consent", subject_id, legal_basis, evidence, obtained_at,
                      expires_at or ""])
    return hashlib.sha256(text.encode()).hexdigest()


def image_commitment(subject_id: str, data: bytes) -> str:
    """The commitment of one kept enrolment image (its subject and its bytes): the reference
    photo a reviewer's case view shows beside the probe."""
    digest = hashlib.sha256(f"faceaudit-image:{subject_id}\0".encode())
    digest.update(bytes(data))
    return digest.hexdigest()


def crop_commitment(result_id: str, face: int, data: bytes) -> str:
    """The commitment of one kept probe crop (its search, face index and JPEG bytes): what a
    reviewer's case view shows as the searched face."""
    digest = hashlib.sha256(f"faceaudit-crop:{result_id}\0{int(face)}\0".encode())
    digest.update(bytes(data))
    return digest.hexdigest()


#: candidate commitments per comma-joined chunk (30 × 33 characters fit a ledger text)
PER_CHUNK = 30


def candidate_commitment(result_id: str, face: int, rank: int, subject_id: str,
                         score: float) -> str:
    """The commitment of one candidate of a stored search result (its identify event records
    one per candidate, so a candidate list edited afterwards — a subject added, swapped or
    re-ranked — no longer matches; an erasure's scrubbed entry has no subject to check)."""
    text = "\0".join(["faceaudit-candidate", result_id, str(int(face)), str(int(rank)),
                      subject_id, json.dumps(float(score))])
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def face_commitments(result_id: str, faces: list[dict]) -> dict[str, list[str]]:
    """What an identify event records of its candidate lists: for each face with candidates,
    its index -> its candidates' commitments in rank order, comma-joined in chunks of
    :data:`PER_CHUNK` (so a list of up to 1,000 candidates fits a ledger event's limits)."""
    out = {}
    for index, face in enumerate(faces):
        committed = [candidate_commitment(result_id, index, c["rank"], c["subject_id"],
                                          c["score"]) for c in face["candidates"]]
        if committed:
            out[str(index)] = [",".join(committed[i: i + PER_CHUNK])
                               for i in range(0, len(committed), PER_CHUNK)]
    return out


def recorded_candidates(chunks: object) -> list[str]:
    """The candidate commitments of one face as :func:`face_commitments` recorded them."""
    if not isinstance(chunks, list):
        return []
    return [c for chunk in chunks if isinstance(chunk, str) for c in chunk.split(",") if c]
