"""Running a core job (a generator of typed events) on a worker thread.

The rule kept from picard: a job always ends with ``finished``, after either its
events or one ``failed`` message, never in silence. The one exception is a runner its
owner abandoned (a search superseded by a newer one): it delivers nothing more at all.
"""

from __future__ import annotations

import logging
import threading
import traceback
from collections.abc import Callable, Iterator
from typing import Any

from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot

from faceorganizer.errors import FaceorganizerError

log = logging.getLogger(__name__)

Job = Callable[[threading.Event], Iterator[Any]]


class _Worker(QObject):
    occurred = Signal(object)
    failed = Signal(str)
    finished = Signal()

    def __init__(self, job: Job, cancel: threading.Event) -> None:
        super().__init__()
        self._job = job
        self._cancel = cancel

    @Slot()
    def run(self) -> None:
        try:
            for item in self._job(self._cancel):
                self.occurred.emit(item)
        except FaceorganizerError as exc:
            self.failed.emit(str(exc))
        except Exception as exc:
            log.error("job failed:\n%s", traceback.format_exc())
            self.failed.emit(f"Something went wrong: {type(exc).__name__}: {exc}")
        finally:
            self.finished.emit()


class JobRunner(QObject):
    """One job on its own thread. Signals arrive on the thread that made the runner."""

    occurred = Signal(object)  # each event of the job
    failed = Signal(str)
    finished = Signal()

    def __init__(self, job: Job, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._cancel = threading.Event()
        self._abandoned = False
        self._running = False
        self._thread = QThread(self)
        self._worker = _Worker(job, self._cancel)
        self._worker.moveToThread(self._thread)
        self._thread.started.connect(self._worker.run)
        self._worker.occurred.connect(self._occurred)
        self._worker.failed.connect(self._failed)
        # Direct: the thread ends even while this one is blocked (in ``wait`` at closing time).
        self._worker.finished.connect(self._thread.quit, Qt.ConnectionType.DirectConnection)
        self._thread.finished.connect(self._stopped)

    def start(self) -> None:
        self._running = True
        self._thread.start()

    def cancel(self) -> None:
        """Ask the job to stop at its next check; it still reports how it ended."""
        self._cancel.set()

    def abandon(self) -> None:
        """Cancel the job and deliver nothing more of it: no event, no error, no ``finished``."""
        self._abandoned = True
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def is_running(self) -> bool:
        return self._running

    def wait(self, milliseconds: int = 30_000) -> bool:
        return self._thread.wait(milliseconds)

    def _occurred(self, item: object) -> None:
        if not self._abandoned:
            self.occurred.emit(item)

    def _failed(self, message: str) -> None:
        if not self._abandoned:
            self.failed.emit(message)

    def _stopped(self) -> None:
        self._running = False
        if not self._abandoned:
            self.finished.emit()
