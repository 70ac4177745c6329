"""Synthetic templates for the distributed tests."""

from __future__ import annotations

import numpy as np


def synthetic_templates(n: int, n_ids: int, n_groups: int = 2, dim: int = 32, seed: int = 0):
    """Unit vectors in float32 with a few images per identity; scores are not exact binary
    fractions, so bit-for-bit agreement is a real check of the arithmetic."""
    rng = np.random.default_rng(seed)
    identity = np.r_[np.arange(n_ids), rng.integers(0, n_ids, n - n_ids)]
    centres = rng.standard_normal((n_ids, dim))
    emb = (centres[identity] + 0.8 * rng.standard_normal((n, dim))).astype(np.float32)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    group = identity % n_groups
    return emb, identity, group
