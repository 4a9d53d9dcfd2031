"""The window's background work: jobs queued and run one at a time on a worker thread.

A job submitted while another runs waits its turn. Every job ends with ``finished``, after
its events or one ``failed`` message (``worker.JobRunner``'s rule); ``idle`` follows when
no job is left. Cancel stops the running job (it still reports how far it got) and drops
the waiting ones.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from PySide6.QtCore import QObject, Signal

from .worker import Job as Work
from .worker import JobRunner


@dataclass(frozen=True, eq=False)
class Job:
    text: str  # what the status bar says while it runs ("Scanning photos...")
    work: Work
    reloads: bool = True  # the views reload when it ends (it changes what they show)


@dataclass(frozen=True)
class Queue:
    """What the controller is doing: the running job's text (None when idle), the waiting ones'."""

    running: str | None
    waiting: tuple[str, ...]


class JobController(QObject):
    started = Signal(str)  # a job started: its text
    occurred = Signal(object)  # an event of the running job
    failed = Signal(str)  # the running job's error
    finished = Signal()  # the running job ended (after its events or its error)
    idle = Signal()  # a job ended and none waits
    changed = Signal(object)  # the Queue, whenever a job starts, ends, is queued or dropped
    dropped = Signal(int)  # Cancel dropped this many waiting jobs

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._waiting: deque[Job] = deque()
        self._runner: JobRunner | None = None
        self._running: Job | None = None

    def submit(self, job: Job) -> None:
        """Run ``job`` now if nothing runs, else when the jobs before it are done."""
        self._waiting.append(job)
        if self._running is None:
            self._next()
        else:
            self.changed.emit(self.queue())

    def queue(self) -> Queue:
        return Queue(self._running.text if self._running else None, tuple(j.text for j in self._waiting))

    def running(self) -> Job | None:
        """The job running now (still so while its ``finished`` is delivered)."""
        return self._running

    def withdraw(self, job: Job) -> None:
        """Cancel this one job if it runs (it still reports how far it got), or drop it if it
        waits; the others go on."""
        if job is self._running and self._runner is not None:
            self._runner.cancel()
        elif job in self._waiting:
            self._waiting.remove(job)
            self.changed.emit(self.queue())

    def busy(self) -> bool:
        return self._running is not None or bool(self._waiting)

    def cancel(self) -> int:
        """Cancel the running job and drop the waiting ones; how many were dropped."""
        dropped = len(self._waiting)
        self._waiting.clear()
        if self._runner is not None:
            self._runner.cancel()
        if dropped:
            self.dropped.emit(dropped)
            self.changed.emit(self.queue())
        return dropped

    def shutdown(self, milliseconds: int = 60_000) -> None:
        """Drop the waiting jobs, cancel the running one and wait for it (the window is closing)."""
        self._waiting.clear()
        runner = self._runner
        if runner is not None and runner.is_running():
            runner.cancel()
            runner.wait(milliseconds)

    def _next(self) -> None:
        job = self._waiting.popleft()
        runner = JobRunner(job.work, self)
        runner.occurred.connect(self.occurred)
        runner.failed.connect(self.failed)
        runner.finished.connect(self._finished)
        self._runner, self._running = runner, job
        self.started.emit(job.text)
        self.changed.emit(self.queue())
        runner.start()

    def _finished(self) -> None:
        self.finished.emit()  # still "running" meanwhile: a job submitted now waits its turn
        if self._runner is not None:
            self._runner.deleteLater()
        self._runner = self._running = None
        if self._waiting:
            self._next()
        else:
            self.changed.emit(self.queue())
            self.idle.emit()
