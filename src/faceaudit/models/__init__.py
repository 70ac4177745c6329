"""Embedding backends: one :class:`~faceaudit.models.base.Embedder` interface, several models."""
