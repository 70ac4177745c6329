"""The 1:N search a deployment answers with: in step with the store, its graph kept on disk.

:class:`GallerySearcher` holds one :class:`~faceaudit.gallery.template_search.TemplateSearch` and
the
home's :class:`~faceaudit.gallery.hnsw_file.IndexFile`:

* **Loading.** Above :data:`~faceaudit.gallery.template_search.INDEX_MIN_TEMPLATES` templates, a
saved
  graph that matches the store (backend, generation, count, digests) is loaded instead of
  rebuilt; only the template ids and subjects are read from the store.
* **Rebuilding.** When the file is missing or does not match, a command-line process builds the
  graph before its first query and saves it (once: later processes load it). The service
  (``background=True``) answers with *exact* search at once and builds the graph in a
  background thread, then switches to it and saves it. Exact search over the same templates is
  always correct, where the old graph would miss what was enrolled since (and might be behind
  an erasure), so it is the one served while the graph is built.
* **Writes.** After every committed write the file is brought to the new generation — the
  in-memory graph saved — or deleted, before the operation returns. An erasure or purge
  therefore never leaves the erased vectors in the file: they are zeros in the rewritten graph,
  or the file is gone. A process that crashed in between left a file of an older generation,
  which :meth:`GallerySearcher.recover` (run when a deployment opens) deletes unseen: a file
  of another generation may hold vectors erased since.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from faceaudit.gallery import template_search as search_module
from faceaudit.gallery.hnsw_file import IndexFile, IndexSource
from faceaudit.gallery.hnsw_index import HnswIndex
from faceaudit.gallery.store import GalleryStore
from faceaudit.gallery.template_search import TemplateSearch


class GallerySearcher:
    """The current search over one store, with its graph persisted at ``index_path``.

    Thread-safe: every use of the search goes through :meth:`session`, which holds a lock.
    ``notify`` receives one-line progress messages (a rebuild that takes a while).
    """

    def __init__(
        self,
        store: GalleryStore,
        index_path: Path | None,
        *,
        background: bool = False,
        index_min: int | None = None,
        notify: Callable[[str], None] | None = None,
    ):
        self.store = store
        self.file = IndexFile(index_path) if index_path is not None else None
        self.background = background
        self.index_min = search_module.INDEX_MIN_TEMPLATES if index_min is None else index_min
        self.notify = notify or (lambda message: None)
        self._search: TemplateSearch | None = None
        self._backend: str | None = None
        self._lock = threading.RLock()
        self._builder: threading.Thread | None = None
        self._deferred = 0
        #: how the current search started: "exact", "loaded", "built" or "building"
        self.origin: str | None = None

    # -- queries ---------------------------------------------------------------------------

    @contextmanager
    def session(self, backend_id: str) -> Iterator[TemplateSearch]:
        """Hold the lock and yield the search over ``backend_id``'s current templates."""
        with self._lock:
            yield self._current(backend_id)

    def _current(self, backend_id: str) -> TemplateSearch:
        generation = self.store.generation()
        search = self._search
        if (search is None or self._backend != backend_id or search.generation != generation):
            search = self._open(backend_id)
            self._search, self._backend = search, backend_id
            self._start_builder()
        return search

    def _open(self, backend_id: str) -> TemplateSearch:
        in_database = getattr(self.store, "template_search", None)
        if in_database is not None:  # PostgreSQL: pgvector searches in the database
            self.origin = "database"
            return in_database(backend_id)
        if self.file is not None:
            owners = self.store.template_owners(backend_id)
            if len(owners.template_ids) >= self.index_min:
                index = self.file.load(IndexSource.of(backend_id, owners),
                                       self.store.subject_templates)
                if index is not None:
                    self.origin = "loaded"
                    search = TemplateSearch.from_index(owners, index, self.index_min)
                    search.build_index = not self.background
                    return search
        templates = self.store.load_templates(backend_id)
        large = len(templates.template_ids) >= self.index_min
        if large and not self.background:
            reason = self.file.last_reason if self.file is not None else None
            self.notify(f"building the search index of {len(templates.template_ids):,} "
                        f"templates ({reason or 'not saved'}); it is saved for later runs")
        search = TemplateSearch(templates, self.index_min, build_index=not self.background)
        self.origin = "built" if search.indexed else ("building" if large else "exact")
        self._persist(search, backend_id)
        return search

    # -- writes ----------------------------------------------------------------------------

    def after_write(
        self, generation: int, apply: Callable[[TemplateSearch], None],
        backend_id: str | None = None, *, erasure: bool = False,
    ) -> None:
        """Bring the search and the index file in step with a committed write.

        The change is applied in place only when the search held the generation just before
        this write and the backend matches (any other process's write in between forces a
        reload on the next search). Then the file is saved at ``generation`` or deleted.
        """
        with self._lock:
            search = self._search
            if search is not None:
                same_backend = backend_id is None or backend_id == self._backend
                if same_backend and search.generation == generation - 1:
                    apply(search)
                    if search.indexed and self.origin == "exact":
                        self.origin = "built"  # the gallery grew past the threshold
                elif search.generation != generation:
                    self._search = search = None
            if self._deferred and search is not None and not erasure:
                return  # saved once when the batch ends (enrolments only)
            self._persist(search, self._backend)
            self._start_builder()

    def prepare_erasure(self) -> None:
        """Before an erasure: load the saved graph (only if it matches), so the erasure can
        rewrite it without the erased vectors instead of deleting it."""
        if self.file is None or not self.file.path.exists():
            return
        backend_id = self.store.gallery_backend()
        if backend_id is None:
            return
        with self._lock:
            if self._search is None or self._search.generation != self.store.generation():
                owners = self.store.template_owners(backend_id)
                index = self.file.load(IndexSource.of(backend_id, owners),
                                       self.store.subject_templates)
                if index is not None:
                    self._search = TemplateSearch.from_index(owners, index, self.index_min)
                    self._search.build_index = not self.background
                    self._backend, self.origin = backend_id, "loaded"

    @contextmanager
    def deferred_saves(self) -> Iterator[None]:
        """Within the block, enrolments do not rewrite the index file one by one; it is
        saved (or deleted) once at the end. Erasures never use this."""
        with self._lock:
            self._deferred += 1
        try:
            yield
        finally:
            with self._lock:
                self._deferred -= 1
                if not self._deferred:
                    self._persist(self._search, self._backend)

    def _persist(self, search: TemplateSearch | None, backend_id: str | None) -> None:
        """Save ``search``'s graph at its generation, or delete a file it cannot replace."""
        if self.file is None:
            return
        if search is not None and backend_id is not None and search.ann is not None:
            source = IndexSource.of(backend_id, search.owners())
            if self.file.save(search.ann, source, self.store.generation):
                return
        # a file of an older generation may hold vectors erased since: never kept
        self.file.discard_older_than(self.store.generation())

    def recover(self) -> bool:
        """Delete an index file that does not belong to the store's current generation (a
        process died between a write and the file's update); returns whether one was."""
        if self.file is None or not self.file.path.exists():
            return False
        header = self.file.header()
        if header is not None and header.get("generation") == self.store.generation():
            return False
        with self.file.locked():
            header = self.file.header()
            if header is not None and header.get("generation") == self.store.generation():
                return False
            self.file.discard()
        return True

    # -- background build (service) --------------------------------------------------------

    def _start_builder(self) -> None:
        search = self._search
        if (not self.background or search is None or not search.wants_index
                or (self._builder is not None and self._builder.is_alive())):
            return
        self._builder = threading.Thread(target=self._build, name="faceaudit-index-build",
                                         daemon=True)
        self._builder.start()

    def _build(self) -> None:
        while True:
            with self._lock:
                search, backend_id = self._search, self._backend
                if search is None or backend_id is None or not search.wants_index:
                    return
                embeddings, ids = search.matrix()
                generation = search.generation
            self.notify(f"building the search index of {len(ids):,} templates in the "
                        "background; exact search meanwhile")
            index = HnswIndex(embeddings, ids)  # FAISS releases the GIL while it builds
            with self._lock:
                if self._search is search and search.generation == generation:
                    search.attach_index(index)
                    self.origin = "built"
                    self._persist(search, backend_id)
                    return
            # templates changed while building: build again from the new set

    def wait_for_index(self, timeout: float | None = None) -> bool:
        """Wait for a background build to finish; returns whether none is running now."""
        builder = self._builder
        if builder is not None:
            builder.join(timeout)
        return builder is None or not builder.is_alive()


