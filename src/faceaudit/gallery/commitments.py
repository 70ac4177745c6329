"""What the ledger records of the gallery's rows, so that the store can be checked against the
record: a SHA-256 commitment per template (its subject, id, backend and embedding bytes) and per
consent record (its subject, legal basis, evidence, times). Computed from the values as the
store holds them — at enrolment from the rows just written, at a check from the rows read — so
that an inserted, edited or re-assigned row no longer matches what its event committed to.
"""

from __future__ import annotations

import hashlib

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
