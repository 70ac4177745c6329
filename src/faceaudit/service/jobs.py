"""Background audit jobs: a small thread pool, job state kept on disk under the home.

Each job has a folder ``<home>/jobs/<job_id>/`` holding its uploaded inputs, its output folder
(``report.json``, ``report.html``, CSV tables) and ``status.json`` (queued → running → done |
failed). On start-up, jobs left queued or running by a previous process are marked failed
("interrupted"), so a status never lies.
"""

from __future__ import annotations

import json
import os
import secrets
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from faceaudit.base.errors import FaceAuditError
from faceaudit.base.home import Home
from faceaudit.service.problems import NotFoundError

JobFunction = Callable[[Path], dict[str, Any]]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class AuditJobs:
    """Runs audit jobs in the background and reports their status."""

    def __init__(self, home: Home, workers: int = 1) -> None:
        self.root = home.root / "jobs"
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="audit-job")
        self._lock = threading.Lock()
        self._mark_interrupted()

    def new_job_dir(self) -> tuple[str, Path]:
        """Reserve a fresh job id and its folder (for the caller to write inputs into)."""
        job_id = secrets.token_hex(8)
        path = self.root / job_id
        (path / "input").mkdir(parents=True, mode=0o700)
        return job_id, path

    def submit(self, job_id: str, actor: str, work: JobFunction) -> dict[str, Any]:
        """Queue ``work(job_dir)``; its returned dict becomes the job's ``result``."""
        status = {"job_id": job_id, "status": "queued", "actor": actor, "created_at": _now(),
                  "started_at": None, "finished_at": None, "result": None, "error": None}
        self._write(job_id, status)
        self._pool.submit(self._run, job_id, work)
        return status

    def status(self, job_id: str) -> dict[str, Any]:
        """Return the job's status record; :class:`NotFoundError` for an unknown id."""
        path = self._status_path(job_id)
        if not path.is_file():
            raise NotFoundError(f"no audit job {job_id!r}")
        with self._lock:
            return json.loads(path.read_text(encoding="utf-8"))

    def output_file(self, job_id: str, name: str) -> Path:
        """Return a file of a finished job's output folder, or :class:`NotFoundError`."""
        status = self.status(job_id)
        path = self.root / job_id / "out" / name
        if status["status"] != "done" or not path.is_file():
            raise NotFoundError(f"audit job {job_id!r} has no {name} (status {status['status']})")
        return path

    def shutdown(self) -> None:
        """Stop accepting jobs and wait for running ones."""
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _run(self, job_id: str, work: JobFunction) -> None:
        self._update(job_id, status="running", started_at=_now())
        try:
            result = work(self.root / job_id)
        except FaceAuditError as exc:
            self._update(job_id, status="failed", finished_at=_now(),
                         error={"code": exc.code, "detail": str(exc) or exc.code})
        except Exception:  # noqa: BLE001 - a job must end in a status, never a dead thread
            self._update(job_id, status="failed", finished_at=_now(),
                         error={"code": "internal-error", "detail": "the audit job failed"})
        else:
            self._update(job_id, status="done", finished_at=_now(), result=result)

    def _status_path(self, job_id: str) -> Path:
        if not job_id.isalnum() or len(job_id) > 64:
            raise NotFoundError(f"no audit job {job_id!r}")
        return self.root / job_id / "status.json"

    def _update(self, job_id: str, **changes: Any) -> None:
        with self._lock:
            path = self._status_path(job_id)
            status = json.loads(path.read_text(encoding="utf-8"))
            status.update(changes)
            self._write_unlocked(path, status)

    def _write(self, job_id: str, status: dict[str, Any]) -> None:
        with self._lock:
            self._write_unlocked(self._status_path(job_id), status)

    @staticmethod
    def _write_unlocked(path: Path, status: dict[str, Any]) -> None:
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(status, indent=1), encoding="utf-8")
        os.replace(tmp, path)

    def _mark_interrupted(self) -> None:
        for path in self.root.glob("*/status.json"):
            status = json.loads(path.read_text(encoding="utf-8"))
            if status.get("status") in {"queued", "running"}:
                status.update(status="failed", finished_at=_now(),
                              error={"code": "interrupted", "detail": "the service stopped"})
                self._write_unlocked(path, status)
