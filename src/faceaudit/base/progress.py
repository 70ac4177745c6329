"""Progress of long work (embed, audit, redact, enrol), on stderr, terminal or not.

On a terminal it is a live bar that disappears when the work is done. When stderr is a log, a
pipe or CI, a bar would print nothing for minutes (or garbage), so instead one plain line is
written every :data:`INTERVAL_S` seconds while a task runs, and one when it is done (a record
in the log that the work was done, and how fast)::

    faceaudit: embedding (dlib-resnet:1): 1,200/13,233 images (9%), 21.4 images/s, about 9 min left
    faceaudit: embedding (dlib-resnet:1): 13,233/13,233 images, done in 10 min (22.1 images/s)

Every long-running command uses this one helper (docs/cli.md, "Progress").
"""

from __future__ import annotations

import sys
import threading
import time
from types import TracebackType
from typing import IO, Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
)

INTERVAL_S = 5.0  # seconds between two plain progress lines


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


class ProgressTask:
    """One piece of work with a count of items done (and a total, when known)."""

    def __init__(self, report: ProgressReport, description: str, total: int | None,
                 unit: str) -> None:
        self._report = report
        self.description = description
        self.total = total
        self.unit = unit
        self.done = 0
        self.started = self.last_line = time.monotonic()
        self.lines = 0  # plain lines written so far
        self.closed = False  # its last line is written
        self._bar_id: Any = None

    def advance(self, n: int = 1) -> None:
        """Count ``n`` more items done."""
        self.update(self.done + n)

    def update(self, done: int, total: int | None = None) -> None:
        """Set the items done so far (and the total, when it became known)."""
        self._report._update(self, done, total)

    def line(self) -> str:
        """The plain progress line for where the task stands now."""
        elapsed = max(time.monotonic() - self.started, 1e-9)
        rate = self.done / elapsed
        unit = f" {self.unit}" if self.unit else ""
        speed = f"{rate:.1f}{unit}/s" if unit else f"{rate:.1f}/s"
        head = f"faceaudit: {self.description}: "
        if self.closed:
            count = f"{self.done:,}/{self.total:,}" if self.total else f"{self.done:,}"
            rate_part = f" ({speed})" if elapsed >= 0.1 else ""  # no rate for a single update
            return f"{head}{count}{unit}, done in {_duration(elapsed)}{rate_part}"
        if self.total:
            share = min(self.done / self.total, 1.0)
            head += f"{self.done:,}/{self.total:,}{unit} ({share:.0%}), {speed}"
            if rate > 0:
                head += f", about {_duration((self.total - self.done) / rate)} left"
            return head
        return f"{head}{self.done:,}{unit}, {speed}"


class ProgressReport:
    """Context manager for the progress of one command; :meth:`task` starts a task.

    ``enabled=False`` (e.g. ``--quiet``) shows nothing. ``stream`` defaults to stderr; a live
    bar is drawn only when it is a terminal, plain lines (every ``interval_s``) otherwise.
    """

    def __init__(self, enabled: bool = True, stream: IO[str] | None = None,
                 interval_s: float = INTERVAL_S) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = enabled
        self.interval_s = interval_s
        is_terminal = bool(getattr(self.stream, "isatty", lambda: False)())
        self._bars: Progress | None = None
        if enabled and is_terminal:
            self._bars = Progress(
                TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                TextColumn("{task.fields[rate]}"), TimeRemainingColumn(),
                console=Console(file=self.stream), transient=True,
            )
        self._lock = threading.Lock()
        self._tasks: list[ProgressTask] = []

    def __enter__(self) -> ProgressReport:
        if self._bars is not None:
            self._bars.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        if self._bars is not None:
            self._bars.stop()
        elif self.enabled and kind is None:  # the last line of tasks whose total was unknown
            for task in self._tasks:
                if not task.closed:
                    self._write(task, closed=True)

    def task(self, description: str, total: int | None = None, unit: str = "") -> ProgressTask:
        """Start a task of ``total`` items (None: unknown) counted in ``unit``."""
        task = ProgressTask(self, description, total, unit)
        self._tasks.append(task)
        if self._bars is not None:
            task._bar_id = self._bars.add_task(description, total=total, rate="")
        return task

    def advance_factory(self, description: str, total: int | None) -> Any:
        """The ``progress(description, total) -> advance(n)`` callback the audit engine takes."""
        return self.task(description, total).advance

    def _update(self, task: ProgressTask, done: int, total: int | None) -> None:
        with self._lock:
            task.done = done
            if total is not None:
                task.total = max(total, done)
            if not self.enabled:
                return
            if self._bars is not None:
                elapsed = max(time.monotonic() - task.started, 1e-9)
                unit = f" {task.unit}" if task.unit else ""
                self._bars.update(task._bar_id, completed=done, total=task.total,
                                  rate=f"{done / elapsed:.1f}{unit}/s")
                return
            finished = bool(task.total) and done >= (task.total or 0)
            if not task.closed and (
                finished or time.monotonic() - task.last_line >= self.interval_s
            ):
                self._write(task, closed=finished)

    def _write(self, task: ProgressTask, closed: bool) -> None:
        task.closed = closed
        task.last_line = time.monotonic()
        task.lines += 1
        self.stream.write(task.line() + "\n")
        self.stream.flush()
