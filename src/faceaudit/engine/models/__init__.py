"""Embedding backends: one :class:`~faceaudit.engine.models.base.Embedder` interface, several
models."""
