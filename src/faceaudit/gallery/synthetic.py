"""Synthetic galleries for benchmarks and tests: clustered unit vectors shaped like face templates.

Each identity is a point in a 32-D latent space mapped linearly to ``dim`` dimensions; its
templates (and probes) are that point plus per-capture noise, normalised to unit length. With
the defaults, same-identity cosines are about 0.9 and different-identity cosines about 0 ± 0.2,
so top-10 neighbour sets contain near-ties — a harder test for an approximate index than
nearest-identity search alone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from faceaudit.gallery.store import PgGalleryStore

LATENT_DIM = 32
CAPTURE_NOISE = 0.35


def synthetic_gallery(
    n_templates: int, *, dim: int = 128, per_identity: int = 3, n_probes: int = 200,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (templates (n, dim), owners (n,), probes (n_probes, dim)), float32 unit rows.

    ``owners[i]`` is the identity of template ``i``; each probe is a fresh capture of a random
    enrolled identity.
    """
    rng = np.random.default_rng(seed)
    n_ids = -(-n_templates // per_identity)
    projection = rng.standard_normal((LATENT_DIM, dim)).astype(np.float32) / np.sqrt(LATENT_DIM)
    identities = rng.standard_normal((n_ids, LATENT_DIM)).astype(np.float32)
    owners = np.repeat(np.arange(n_ids), per_identity)[:n_templates]

    def capture(who: np.ndarray) -> np.ndarray:
        latent = identities[who] + CAPTURE_NOISE * rng.standard_normal(
            (len(who), LATENT_DIM)).astype(np.float32)
        out = latent @ projection + 0.05 * rng.standard_normal((len(who), dim)).astype(np.float32)
        return out / np.linalg.norm(out, axis=1, keepdims=True)

    templates = np.empty((n_templates, dim), dtype=np.float32)
    for start in range(0, n_templates, 100_000):
        templates[start: start + 100_000] = capture(owners[start: start + 100_000])
    probes = capture(rng.integers(0, n_ids, n_probes))
    return templates, owners, probes


def load_into_postgres(store: PgGalleryStore, embeddings: np.ndarray, owners: np.ndarray,
                       backend_id: str) -> None:
    """Bulk-load a synthetic gallery into an empty PostgreSQL store with ``COPY`` (one subject
    ``s<owner>`` per identity, consent without expiry), as benchmarks and tests need galleries
    far larger than one enrolment at a time would build in reasonable time."""
    from faceaudit.gallery.postgres_storage import vector_text

    now = "2025-01-01T00:00:00+00:00"
    with store.bulk_load(embeddings.shape[1]) as con:
        with con.cursor().copy("COPY subjects(pk, subject_id, created_at) FROM STDIN") as copy:
            for owner in np.unique(owners):
                copy.write_row((int(owner) + 1, f"s{owner}", now))
        with con.cursor().copy("COPY consents(subject_pk, legal_basis, evidence, obtained_at) "
                               "FROM STDIN") as copy:
            for owner in np.unique(owners):
                copy.write_row((int(owner) + 1, "consent", "synthetic", now))
        with con.cursor().copy("COPY templates(subject_pk, backend_id, embedding, created_at) "
                               "FROM STDIN") as copy:
            for owner, vector in zip(owners, embeddings, strict=True):
                copy.write_row((int(owner) + 1, backend_id, vector_text(vector), now))
        con.execute("SELECT setval(pg_get_serial_sequence('subjects', 'pk'), "
                    "(SELECT max(pk) FROM subjects))")
