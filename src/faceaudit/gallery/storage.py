"""The interface between the gallery's rules (:class:`~faceaudit.gallery.store.GalleryStore`)
and one backend's storage: :class:`GalleryStorage`, and the :class:`Transaction` it opens.

The rules' SQL is written once, in the subset SQLite and PostgreSQL share, with ``?``
placeholders; a storage supplies what differs (the meta table's name, how embeddings are
stored and read, substring search, listing subjects with their consents as JSON) and the
connection, transaction, locking and compaction mechanics.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol

import numpy as np

from faceaudit.gallery.records import NewTemplate


class Rows(Protocol):
    """What a statement returns: the driver's cursor."""

    def fetchone(self) -> Any:
        """The next row, or None."""
        ...

    def fetchall(self) -> list[Any]:
        """Every remaining row."""
        ...

    def __iter__(self) -> Iterator[Any]:
        """The remaining rows, one by one."""
        ...


class Transaction(Protocol):
    """One open transaction; it takes the SQL of
    :class:`~faceaudit.gallery.store.GalleryStore`, with ``?`` placeholders."""

    def execute(self, sql: str, parameters: Sequence[Any] = ..., /) -> Rows:
        """Run one statement."""
        ...

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]], /) -> Any:
        """Run one statement once per row of parameters."""
        ...


class GalleryStorage(Protocol):
    """Where a gallery keeps its tables — connections, transactions and what differs between
    SQL dialects, no rules: :class:`~faceaudit.gallery.sqlite_storage.SqliteStorage` and
    :class:`~faceaudit.gallery.postgres_storage.PgStorage`. Both hold the same tables.

    A ``tx`` argument is a transaction this storage opened (:meth:`read`, :meth:`write`).
    """

    @property
    def meta_table(self) -> str:
        """The name of the table of counters and flags (``key``, ``value``)."""
        ...

    @property
    def embedding_sql(self) -> str:
        """How a query selects ``embedding`` so that :meth:`embedding_matrix` can read it."""
        ...

    def describe(self) -> str:
        """Where the gallery lives, for messages."""
        ...

    def exists(self) -> bool:
        """Whether the gallery's storage has been created."""
        ...

    def read(self) -> AbstractContextManager[Transaction]:
        """One read transaction (a :class:`Transaction`) on a consistent snapshot."""
        ...

    def write(self) -> AbstractContextManager[Transaction]:
        """One write transaction (a :class:`Transaction`), serialised with every other."""
        ...

    def contains(self, column: str) -> str:
        """The SQL condition "``column`` contains the text of the next parameter"."""
        ...

    def fit_dimension(self, tx: Any, dim: int) -> None:
        """Ready the empty templates table for embeddings of ``dim`` values."""
        ...

    def add_templates(self, tx: Any, subject_pk: int, backend_id: str,
                      templates: Sequence[NewTemplate], created: str) -> list[int]:
        """Insert one subject's ``templates``; return their new ids, in order."""
        ...

    def templates_added(self) -> None:
        """After a committed enrolment: upkeep of the storage's own search structures."""
        ...

    def embedding_matrix(self, values: Sequence[Any]) -> np.ndarray:
        """The ``(n, dim)`` float32 matrix of ``n`` > 0 embeddings selected by
        :attr:`embedding_sql`."""
        ...

    def subject_rows(self, tx: Any) -> list[tuple]:
        """(subject id, display name, created at, templates, images, consents as a JSON list)
        of every subject, by subject id."""
        ...

    def require_exclusive(self, bound_s: float) -> None:
        """Raise :class:`~faceaudit.gallery.errors.ErasureBlockedError` unless an erasure
        could make its deletion complete within ``bound_s`` seconds."""
        ...

    def compact(self, bound_s: float) -> None:
        """Make the bytes of deleted rows leave the files, then clear ``compact_pending``
        (:class:`~faceaudit.gallery.errors.ErasureIncompleteError` if blocked ``bound_s``)."""
        ...
