"""Embed a whole folder or list of images: every core, a progress bar, a cache, Parquet out.

A folder with one sub-folder per identity is a *labelled dataset*: each image is taken to show
its identity, so only its primary face (the one nearest the image centre) is kept. A plain list of
files keeps every face. Images where no face is found are reported; ``no_face="centre"`` embeds a
centre crop for them instead, as LFW benchmarks do.

Results are cached per (file SHA-256, backend id, detector settings) in a SQLite file in the user
cache directory, so a rerun does no model work. The work on one chunk of images (and
:class:`EmbedSettings`, :class:`ImageFaces`) lives in :mod:`faceaudit.engine.embed_chunk`, shared
with the cluster's tasks, and is re-exported here.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing as mp
import os
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, cast

import numpy as np

from faceaudit.base.errors import FaceAuditError, InputDataError
from faceaudit.base.home import cache_dir
from faceaudit.base.progress import ProgressReport
from faceaudit.engine.embed_chunk import STAGES, EmbedSettings, ImageFaces, process_images
from faceaudit.engine.faces.image import read_image_file
from faceaudit.engine.faces.quality import COMPONENTS
from faceaudit.engine.models.identity import embedder_model_sha256
from faceaudit.engine.models.registry import DEFAULT_BACKEND, get_embedder

if TYPE_CHECKING:  # imported where used: a worker process never needs pyarrow or rich
    import pyarrow as pa

#: the faces table's quality columns, one per component of faces/quality.py (docs/quality.md)
QUALITY_COLUMNS: tuple[str, ...] = tuple(f"quality_{name}" for name in COMPONENTS)
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm"}
NO_FACE_CHOICES = ("skip", "centre")


@dataclass
class EmbedRun:
    """Everything a batch run produced besides the table: what failed and where time went."""

    n_images: int = 0
    n_cached: int = 0
    no_face: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)
    error_codes: dict[str, str] = field(default_factory=dict)
    stage_seconds: dict[str, float] = field(default_factory=lambda: dict.fromkeys(STAGES, 0.0))

    def refuse(self, label: str, error: FaceAuditError) -> None:
        """Record that the input ``label`` was refused with a typed ``error``."""
        self.errors[label] = str(error)
        self.error_codes[label] = error.code

    def refused_by_reason(self) -> dict[str, list[str]]:
        """The refused inputs grouped by the error code that refused them (sorted)."""
        grouped: dict[str, list[str]] = {}
        for label in sorted(self.errors):
            grouped.setdefault(self.error_codes.get(label, "image-error"), []).append(label)
        return dict(sorted(grouped.items()))


# ---------------------------------------------------------------- worker side

_WORKER: dict = {}


def _worker_init(settings: EmbedSettings, threads: int) -> None:
    _WORKER["settings"] = settings
    _WORKER["threads"] = threads


def _worker_chunk(items: list[tuple[str, bytes]]) -> tuple[list[ImageFaces], dict[str, float]]:
    return process_images(items, _WORKER["settings"], _WORKER["threads"])


# ---------------------------------------------------------------- cache


class EmbeddingCache:
    """SQLite cache of per-image results, keyed by :meth:`EmbedSettings.key`."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, timeout=60)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS faces (key TEXT PRIMARY KEY, boxes BLOB, scores BLOB,"
            " embeddings BLOB, face_indices BLOB, dim INTEGER, quality BLOB)"
        )
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(faces)")}
        if "quality" not in columns:  # a cache written before the quality components
            with self._db:
                self._db.execute("ALTER TABLE faces ADD COLUMN quality BLOB")

    def get(self, key: str) -> ImageFaces | None:
        """The cached result for ``key``, or None (also for a row without quality)."""
        row = self._db.execute(
            "SELECT boxes, scores, embeddings, face_indices, dim, quality FROM faces"
            " WHERE key = ?", (key,)
        ).fetchone()
        if row is None or row[5] is None:
            return None
        boxes, scores, embeddings, indices, dim, quality = row
        return ImageFaces(
            boxes=np.frombuffer(boxes, np.int32).reshape(-1, 4),
            scores=np.frombuffer(scores, np.float32),
            embeddings=np.frombuffer(embeddings, np.float32).reshape(-1, dim),
            face_indices=np.frombuffer(indices, np.int32),
            quality=np.frombuffer(quality, np.float32).reshape(-1, len(COMPONENTS)),
        )

    def put_many(self, rows: Iterable[tuple[str, ImageFaces]]) -> None:
        """Store results (images that failed to decode are not cached)."""
        with self._db:
            self._db.executemany(
                "INSERT OR REPLACE INTO faces (key, boxes, scores, embeddings, face_indices, dim,"
                " quality) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        key,
                        r.boxes.astype(np.int32).tobytes(),
                        r.scores.astype(np.float32).tobytes(),
                        r.embeddings.astype(np.float32).tobytes(),
                        r.face_indices.astype(np.int32).tobytes(),
                        r.embeddings.shape[1],
                        r.quality_matrix().tobytes(),
                    )
                    for key, r in rows
                    if r.error is None
                ],
            )

    def close(self) -> None:
        """Close the database."""
        self._db.close()


def cache_path() -> Path:
    """The user's embedding cache file (``$FACEAUDIT_CACHE/embeddings.sqlite``)."""
    return cache_dir() / "embeddings.sqlite"


def forget_cached_images(sha256s: Iterable[str], path: Path | None = None) -> int:
    """Delete every cached result of the images with these SHA-256s, then VACUUM the cache and
    truncate its WAL so the bytes leave the files (an erasure calls this); return rows deleted.

    Keys are ``<sha256>|…`` (:meth:`EmbedSettings.key`), so one image's results under every
    backend and setting go. A cache that does not exist is left alone.
    """
    path = path or cache_path()
    hashes = sorted({h for h in sha256s if h})
    if not hashes or not path.exists():
        return 0
    db = sqlite3.connect(path, timeout=60, isolation_level=None)
    try:
        db.execute("PRAGMA secure_delete = ON")
        deleted = 0
        db.execute("BEGIN IMMEDIATE")
        for sha in hashes:
            deleted += db.execute(
                "DELETE FROM faces WHERE substr(key, 1, ?) = ?", (len(sha) + 1, sha + "|")
            ).rowcount
        db.execute("COMMIT")
        if deleted:
            db.execute("VACUUM")
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return deleted
    finally:
        db.close()


# ---------------------------------------------------------------- driver


def list_dataset(root: Path) -> tuple[list[Path], list[str]]:
    """Image files of a folder with one sub-folder per identity, and their identities."""
    root = Path(root)
    if not root.is_dir():
        raise InputDataError(f"{root}: not a folder")
    paths, identities = [], []
    for person in sorted(p for p in root.iterdir() if p.is_dir()):
        for image in sorted(person.iterdir()):
            # not only regular files: a FIFO or a broken link named like an image is refused
            # by the guarded reader, and counted, rather than silently left out
            if image.suffix.lower() in IMAGE_SUFFIXES and not image.is_dir():
                paths.append(image)
                identities.append(person.name)
    if not paths:
        raise InputDataError(f"{root}: no images in identity sub-folders")
    return paths, identities


def embed_paths(
    paths: Sequence[Path],
    identities: Sequence[str] | None,
    settings: EmbedSettings,
    *,
    root: Path | None = None,
    workers: int | None = None,
    chunk: int = 16,
    progress: bool = True,
    use_cache: bool = True,
    client: object | None = None,
) -> tuple[pa.Table, EmbedRun]:
    """Embed ``paths`` and return the faces table and a run summary.

    Columns: ``path`` (relative to ``root`` when given), ``identity``, ``face_index``, ``box``
    [left, top, right, bottom], ``det_score``, ``embedding`` (unit-norm float32), and one
    float32 column ``quality_<component>`` per image quality component (:data:`QUALITY_COLUMNS`,
    docs/quality.md).
    ``client`` (a ``dask.distributed.Client``) reads, hashes and embeds the images on its
    workers instead of local processes (:mod:`faceaudit.engine.embed_cluster`): same table, same
    cache keys, same refusals.
    """

    if settings.no_face not in NO_FACE_CHOICES:
        raise InputDataError(f"no_face must be one of {', '.join(NO_FACE_CHOICES)}")
    # validates the backend choice and names it; the model itself is cached per process;
    # the model file's hash goes into the table metadata so audits can name the exact file
    embedder = get_embedder(settings.backend, settings.model)
    backend_id = embedder.backend_id
    run = EmbedRun(n_images=len(paths))
    labels = [str(p.relative_to(root)) if root else str(p) for p in paths]
    cache = EmbeddingCache(cache_dir() / "embeddings.sqlite") if use_cache else None
    results: list[ImageFaces | None] = [None] * len(paths)
    keys: list[str] = [""] * len(paths)
    todo: list[tuple[int, bytes | str]] = []  # (index, bytes), or (index, sha256) on a cluster
    for i, (sha, problem) in enumerate(_hashes(paths, client)):
        if sha is None:
            run.errors[labels[i]], run.error_codes[labels[i]] = problem
            continue
        keys[i] = settings.key(sha if isinstance(sha, str) else hashlib.sha256(sha).hexdigest(),
                               backend_id)
        cached = cache.get(keys[i]) if cache else None
        if cached is not None:
            results[i] = cached
            run.n_cached += 1
        else:
            todo.append((i, sha))
    chunks = [todo[j : j + chunk] for j in range(0, len(todo), chunk)]
    workers = workers or len(os.sched_getaffinity(0))
    with ProgressReport(enabled=progress and bool(todo)) as report:
        task = report.task(f"embedding ({backend_id})", len(todo), "images")

        def record(batch: list, faces: list[ImageFaces], seconds: dict[str, float]) -> None:
            for (i, _), result in zip(batch, faces, strict=True):
                results[i] = result
            for stage, value in seconds.items():
                run.stage_seconds[stage] += value
            if cache:
                cache.put_many((keys[i], r) for (i, _), r in zip(batch, faces, strict=True))
            task.advance(len(batch))

        if client is not None:
            from faceaudit.engine.embed_cluster import embed_on_cluster

            embed_on_cluster(
                client,
                [[(labels[i], paths[i], cast(str, sha)) for i, sha in c] for c in chunks],
                settings,
                lambda number, faces, seconds: record(chunks[number], faces, seconds),
            )
        else:
            for batch, (faces, seconds) in zip(
                chunks, _run_chunks(chunks, labels, settings, workers), strict=True
            ):
                record(batch, faces, seconds)
    if cache:
        cache.close()
    table = _to_table(results, labels, identities, run)
    meta = {
        "backend_id": backend_id,
        "model_sha256": embedder_model_sha256(embedder),
        "detector": settings.detector,
        "upsample": settings.upsample,
        "no_face_policy": settings.no_face,
        "no_face": run.no_face,
        "errors": run.errors,
    }
    table = table.replace_schema_metadata({"faceaudit": json.dumps(meta)})
    return table, run


def _hashes(paths: Sequence[Path], client) -> Iterator[tuple[bytes | str | None, tuple]]:
    """Per path: its bytes (in-process) or SHA-256 (on a cluster), or ``None`` and the
    ``(message, code)`` of the typed error that refused it."""
    if client is not None:
        from faceaudit.engine.embed_cluster import hash_on_cluster

        for sha, code, message in hash_on_cluster(client, paths):
            yield sha, (message, code)
        return
    for path in paths:
        try:
            yield read_image_file(path), ()
        except FaceAuditError as exc:
            yield None, (str(exc), exc.code)


def _run_chunks(chunks, labels, settings, workers):
    """Results of every chunk, in order: in this process alone when one worker (or one chunk)
    is enough; otherwise this process embeds the first chunk itself while the pool's workers
    start up (each imports the engine and loads its models once), and they take the rest."""
    as_items = [[(labels[i], data) for i, data in c] for c in chunks]
    if workers <= 1 or len(chunks) <= 1:
        for items in as_items:
            yield process_images(items, settings)
        return
    context = mp.get_context("spawn")
    with context.Pool(min(workers, len(chunks) - 1), initializer=_worker_init,
                      initargs=(settings, 1)) as pool:
        rest = pool.imap(_worker_chunk, as_items[1:])
        yield process_images(as_items[0], settings)
        yield from rest


def _to_table(
    results: list[ImageFaces | None],
    labels: list[str],
    identities: Sequence[str] | None,
    run: EmbedRun,
) -> pa.Table:
    cols: dict[str, list] = {k: [] for k in ("path", "identity", "face_index", "box", "det_score")}
    vectors, quality_rows = [], []
    for i, result in enumerate(results):
        if result is None:
            continue
        if result.error is not None:
            run.errors[labels[i]] = result.error
            run.error_codes[labels[i]] = result.error_code or "image-error"
            continue
        if len(result.scores) == 0:
            run.no_face.append(labels[i])
            continue
        for j in range(len(result.scores)):
            cols["path"].append(labels[i])
            cols["identity"].append(identities[i] if identities is not None else None)
            cols["face_index"].append(int(result.face_indices[j]))
            cols["box"].append(result.boxes[j].tolist())
            cols["det_score"].append(float(result.scores[j]))
            vectors.append(result.embeddings[j])
            quality_rows.append(result.quality_matrix()[j])
    import pyarrow as pa

    from faceaudit.engine import arrow_columns as columns

    dim = vectors[0].shape[0] if vectors else 128
    matrix = np.asarray(vectors, dtype=np.float32).reshape(-1, dim)
    quality = np.asarray(quality_rows, dtype=np.float32).reshape(-1, len(COMPONENTS))
    return pa.Table.from_arrays(
        [
            columns.strings(cols["path"]),
            columns.strings(cols["identity"]),
            columns.numeric(np.asarray(cols["face_index"], np.int32), pa.int32()),
            columns.int32_lists(np.asarray(cols["box"], np.int32).reshape(-1, 4)),
            columns.numeric(np.asarray(cols["det_score"], np.float32), pa.float32()),
            columns.float32_vectors(matrix),
            *(columns.numeric(np.ascontiguousarray(quality[:, k]), pa.float32())
              for k in range(len(COMPONENTS))),
        ],
        names=["path", "identity", "face_index", "box", "det_score", "embedding",
               *QUALITY_COLUMNS],
    )


def embed_dataset(
    root: Path,
    out: Path | None = None,
    *,
    backend: str = DEFAULT_BACKEND,
    model: Path | None = None,
    no_face: str = "skip",
    detector: str = "hog",
    upsample: int | None = None,
    workers: int | None = None,
    progress: bool = True,
    client: object | None = None,
) -> pa.Table:
    """Embed a labelled dataset (one sub-folder per identity, primary face per image).

    ``client``: embed on a Dask cluster (see :func:`embed_paths`).

    Writes Parquet to ``out`` when given. The table's schema metadata (key ``faceaudit``) holds
    the backend id, the images with no face, and the images that could not be decoded.
    """
    root = Path(root)
    paths, identities = list_dataset(root)
    settings = EmbedSettings(backend, str(model) if model else None, detector, upsample, no_face)
    table, _ = embed_paths(
        paths, identities, settings, root=root, workers=workers, progress=progress,
        client=client,
    )
    if out is not None:
        import pyarrow.parquet as pq

        pq.write_table(table, out)
    return table


def embeddings_matrix(table: pa.Table) -> np.ndarray:
    """The ``embedding`` column as a float32 (N, dim) matrix (no copy when possible)."""
    column = table.column("embedding").combine_chunks()
    dim = column.type.list_size
    return column.values.to_numpy(zero_copy_only=False).reshape(-1, dim).astype(np.float32)


def table_metadata(table: pa.Table) -> dict:
    """The ``faceaudit`` entry of a faces table's schema metadata (empty dict if absent)."""
    raw = (table.schema.metadata or {}).get(b"faceaudit")
    return json.loads(raw) if raw else {}
