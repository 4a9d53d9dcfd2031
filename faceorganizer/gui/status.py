"""The window's status bar: what the background work is doing (progress, text, how many jobs
wait, Cancel), what each job came to, the files the last scan could not read, and what it
found in the photos' files (XMP) and did not use: names the library decided otherwise on,
face regions that were not usable."""

from __future__ import annotations

import time

from PySide6.QtWidgets import QLabel, QProgressBar, QPushButton, QStatusBar, QWidget

from faceorganizer.jobs import GroupingFinished, GroupingStarted
from faceorganizer.people.recluster import ReclusterSummary
from faceorganizer.reembed import ReembedFinished, ReembedProgress, ReembedSummary
from faceorganizer.scan.events import ScanFinished, ScanProgress, ScanStarted, ScanSummary

from .context import describe
from .dialogs import FailuresDialog, ScanNotesDialog
from .jobs import JobController, Queue
from .tasks import WriteFinished, WriteProgress
from .writing import summary

LONG = 15_000  # how long a job's outcome stays (ms)


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "--:--"
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}:{secs:02d}"


class StatusBar(QStatusBar):
    def __init__(self, jobs: JobController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.jobs = jobs
        self.last_summary: ScanSummary | None = None  # of the last scan
        self._scan: ScanSummary | None = None  # what the running job came to
        self._reembed: ReembedSummary | None = None
        self._grouping: ReclusterSummary | None = None
        self._written: WriteFinished | None = None
        self.last_write: WriteFinished | None = None  # what the last writing of names came to
        self._last_progress = 0.0
        self._dropped = 0  # waiting jobs Cancel dropped while the running one stops
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(260)
        self.progress_text = QLabel()
        self.waiting = QLabel()
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel)
        self.failures_button = QPushButton()
        self.failures_button.setFlat(True)
        self.failures_button.setVisible(False)
        self.failures_button.clicked.connect(self.show_failures)
        self.notes_button = QPushButton()
        self.notes_button.setFlat(True)
        self.notes_button.setVisible(False)
        self.notes_button.setToolTip("Names in the photos' files that the library decided otherwise on, "
                                     "and face regions in them that could not be used")
        self.notes_button.clicked.connect(self.show_notes)
        for widget in (self.failures_button, self.notes_button, self.progress_text, self.progress,
                       self.waiting, self.cancel_button):
            self.addPermanentWidget(widget)
        jobs.started.connect(self._started)
        jobs.occurred.connect(self._event)
        jobs.finished.connect(self._finished)
        jobs.changed.connect(self._queue)
        jobs.dropped.connect(self._dropped_jobs)
        self._queue(jobs.queue())

    def cancel(self) -> None:
        """Cancel the running job (it keeps what it did) and drop the waiting ones."""
        dropped = self.jobs.cancel()
        self.cancel_button.setEnabled(False)
        self.progress_text.setText("Cancelling: saving what is done..." + (
            f" ({describe(dropped, 'waiting job')} dropped)" if dropped else ""))

    def _dropped_jobs(self, count: int) -> None:
        self._dropped += count

    def show_failures(self) -> None:
        if self.last_summary is not None:
            FailuresDialog(list(self.last_summary.failures), self.window()).exec()

    def show_notes(self) -> None:
        if self.last_summary is not None:
            ScanNotesDialog(list(self.last_summary.tag_conflicts), list(self.last_summary.warnings),
                            self.window()).exec()

    def _queue(self, queue: Queue) -> None:
        running = queue.running is not None
        for widget in (self.progress, self.cancel_button):
            widget.setVisible(running)
        if not running:
            self.progress_text.setText("")
        self.waiting.setVisible(bool(queue.waiting))
        self.waiting.setText(f"{len(queue.waiting)} waiting")
        self.waiting.setToolTip("Then: " + "; ".join(queue.waiting))

    def _started(self, text: str) -> None:
        self._scan = self._reembed = self._grouping = self._written = None
        self.progress.setRange(0, 0)
        self.progress_text.setText(text)
        self.cancel_button.setEnabled(True)

    def _event(self, event: object) -> None:
        if isinstance(event, ScanStarted):
            self.progress.setRange(0, max(1, event.total))
            self.progress.setValue(0)
            self.progress_text.setText(f"{event.total} photos to scan" if event.total
                                       else "No new or changed photos")
        elif isinstance(event, ScanProgress):
            now = time.monotonic()
            if now - self._last_progress < 0.1 and event.done < event.total:
                return
            self._last_progress = now
            self.progress.setValue(event.done)
            self.progress_text.setText(
                f"{event.done}/{event.total} photos, {event.faces} faces, {event.rate:.1f}/s, "
                f"{_duration(event.eta)} left")
        elif isinstance(event, ScanFinished):
            self._scan = self.last_summary = event.summary
        elif isinstance(event, ReembedProgress):
            self.progress.setRange(0, max(1, event.total))
            self.progress.setValue(event.done)
            self.progress_text.setText(f"Re-embedding faces: {event.done}/{event.total}")
        elif isinstance(event, ReembedFinished):
            self._reembed = event.summary
        elif isinstance(event, GroupingStarted):
            self.progress.setRange(0, 0)
            self.progress_text.setText("Grouping faces into people...")
        elif isinstance(event, GroupingFinished):
            self._grouping = event.summary
        elif isinstance(event, WriteProgress):
            self.progress.setRange(0, max(1, event.total))
            self.progress.setValue(event.done)
            self.progress_text.setText(f"Writing names: {event.done}/{event.total} photos")
        elif isinstance(event, WriteFinished):
            self._written = self.last_write = event
        elif isinstance(event, str):
            self.showMessage(event, 5000)

    def _finished(self) -> None:
        """Say what the job came to (its error, if any, is the window's message box), and how
        many waiting jobs Cancel dropped."""
        if self._scan is not None:
            self.failures_button.setVisible(bool(self._scan.failures))
            self.failures_button.setText(f"{len(self._scan.failures)} files could not be read")
            conflicts, warnings = self._scan.tag_conflicts, self._scan.warnings
            self.notes_button.setVisible(bool(conflicts or warnings))
            self.notes_button.setText(", ".join(
                text for count, text in ((len(conflicts), describe(len(conflicts), "name conflict")),
                                         (len(warnings), describe(len(warnings), "XMP warning")))
                if count))
        dropped = f"{describe(self._dropped, 'waiting job')} dropped" if self._dropped else ""
        said = [text for text in (self._outcome(), dropped) if text]
        if said:
            self.showMessage("; ".join(said), LONG)
        self._dropped = 0

    def _outcome(self) -> str:
        if self._written is not None:
            return self._write_outcome(self._written)
        people = f"; {self._grouping.people} people" if self._grouping else ""
        if self._scan is not None:
            scan = self._scan
            parts = [f"{scan.new} new", f"{scan.changed} changed", f"{scan.moved} moved",
                     f"{scan.missing} missing"]
            offline = "".join(f"; {root} is offline, its photos are kept" for root in scan.offline_roots)
            prefix = "Scan cancelled" if scan.cancelled else "Scan finished"
            return f"{prefix}: {', '.join(parts)}, {scan.faces} faces found{people}{offline}"
        if self._reembed is not None and (self._reembed.faces or self._reembed.unreadable):
            done = self._reembed
            unreadable = (f"; {done.unreadable} could not be (photo missing or unreadable)"
                          if done.unreadable else "")
            return f"{done.faces} faces re-embedded with {done.model_id}{unreadable}{people}"
        if self._grouping is not None:
            return (f"Faces grouped: {self._grouping.people} people, "
                    f"{describe(self._grouping.unsorted, 'unsorted face')}")
        return ""

    @staticmethod
    def _write_outcome(finished: WriteFinished) -> str:
        """What a writing of names came to; after a decision (automatic), only what went wrong
        (every failure, so that none is missed, and no message box)."""
        report = finished.report
        if report is None:
            return summary(finished)
        if finished.automatic:
            if not report.failed:
                return f"Names written to {describe(report.written, 'sidecar')}" if report.written else ""
            failed = "; ".join(f"{path}: {error}" for path, error in report.failed)
            return f"Names could not be written to {describe(len(report.failed), 'file')}: {failed}"
        return summary(finished)
