"""``faceaudit embed --cluster``: the batch embedding run on a Dask cluster.

Every worker reads the images itself, so each path must be readable at the same absolute path
on every worker (a shared filesystem: NFS, a cluster filesystem, the same bind mount in every
container). Two rounds of tasks: shards of files are hashed on the workers (the cache key needs
each file's SHA-256; the driver never reads an image), the driver looks the keys up in its
cache, then shards of the uncached files are read again, checked against their hash, and
embedded. Each worker process loads the model once (the per-process embedder cache) and keeps
it for every task it runs. Results come back as tasks complete and drive the same progress bar;
refusals keep their typed error codes, so ``embed`` exits 6 exactly as it does in-process.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from faceaudit.base.errors import FaceAuditError, UnreadableImageError
from faceaudit.engine.embed_chunk import EmbedSettings, ImageFaces, process_images
from faceaudit.engine.faces.image import read_image_file
from faceaudit.engine.models.registry import get_embedder
from faceaudit.engine.models.threads import session_threads

HASH_SHARD = 256  # files hashed per task


def hash_files(paths: Sequence[str]) -> list[tuple[str | None, str | None, str | None]]:
    """On a worker: ``(sha256, None, None)`` per readable file, else ``(None, code, message)``."""
    out: list[tuple[str | None, str | None, str | None]] = []
    for path in paths:
        try:
            out.append((hashlib.sha256(read_image_file(path)).hexdigest(), None, None))
        except FaceAuditError as exc:
            out.append((None, exc.code, str(exc)))
    return out


def embed_files(items: Sequence[tuple[str, str, str]], settings: EmbedSettings,
                threads: int | None = None) -> tuple[list[ImageFaces], dict[str, float]]:
    """On a worker: read ``(label, path, sha256)`` items, check the bytes are the ones hashed,
    and embed them (:func:`faceaudit.engine.embed_chunk.process_images`).

    ``threads`` is the embedder's session thread count; None: the worker's
    ``FACEAUDIT_THREADS``, else one, since the cluster's worker threads and processes are the
    parallelism (as the local process pool's are).
    """
    threads = session_threads(threads, fallback=1)
    readable, refused = [], {}
    for position, (label, path, sha) in enumerate(items):
        try:
            data = read_image_file(path)
            if hashlib.sha256(data).hexdigest() != sha:
                raise UnreadableImageError(f"{path}: changed while it was being embedded")
            readable.append((position, label, data))
        except FaceAuditError as exc:
            refused[position] = (exc.code, str(exc))
    faces, seconds = process_images([(label, data) for _, label, data in readable], settings,
                                    threads)
    out: list = [None] * len(items)
    for (position, _, _), result in zip(readable, faces, strict=True):
        out[position] = result
    if refused:
        dim = get_embedder(settings.backend, settings.model, threads).dim
        for position, (code, message) in refused.items():
            out[position] = ImageFaces.refused(dim, message, code)
    return out, seconds


def _as_completed(client, futures: dict) -> Iterator[tuple[Any, Any]]:
    """Yield ``(tag, result)`` as the tasks finish; a lost task becomes a :class:`ClusterError`."""
    from distributed import as_completed

    from faceaudit.base.dask_cluster import ClusterError

    try:
        for future in as_completed(futures):
            try:
                result = future.result()
            except Exception as exc:  # a worker died too often, the cluster went away
                raise ClusterError(
                    f"the Dask cluster did not finish an embedding task: "
                    f"{type(exc).__name__}: {exc}"
                ) from None
            future.release()
            yield futures[future], result
    finally:
        client.cancel([f for f in futures if not f.done()])


def hash_on_cluster(
    client, paths: Sequence[Path]
) -> list[tuple[str | None, str | None, str | None]]:
    """:func:`hash_files` over ``paths`` in shards on the cluster, in the order of ``paths``."""
    names = [str(Path(p).absolute()) for p in paths]
    shards = {
        client.submit(hash_files, names[s : s + HASH_SHARD], pure=False): s
        for s in range(0, len(names), HASH_SHARD)
    }
    out: list = [None] * len(names)
    for start, part in _as_completed(client, shards):
        out[start : start + len(part)] = part
    return out


def embed_on_cluster(
    client,
    chunks: Sequence[Sequence[tuple[str, Path, str]]],
    settings: EmbedSettings,
    on_done: Callable[[int, list, dict], None],
) -> None:
    """Embed ``chunks`` of ``(label, path, sha256)`` on the cluster; call
    ``on_done(chunk_number, faces, stage_seconds)`` as each chunk completes."""
    futures = {
        client.submit(
            embed_files,
            [(label, str(Path(path).absolute()), sha) for label, path, sha in chunk],
            settings,
            pure=False,
        ): number
        for number, chunk in enumerate(chunks)
    }
    for number, (faces, seconds) in _as_completed(client, futures):
        on_done(number, faces, seconds)
