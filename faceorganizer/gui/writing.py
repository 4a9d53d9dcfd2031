"""Writing the names into the photos' files, from the window: File > Write Names to Files
(a dialog that says what will happen, then shows the progress and what came of it), and,
when the setting is on, the sidecars of the photos a naming decision concerns rewritten
after every decision (and its undo or redo), quietly: the outcome is in the status bar.

Both are jobs of the window's queue (``tasks.write_names``): they never run while a scan
reads the same sidecars.
"""

from __future__ import annotations

import threading

from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from faceorganizer.people.undo import Change
from faceorganizer.store import read

from . import tasks
from .context import AppContext, describe
from .jobs import Job, JobController

EMBED_TEXT = "Write into the photos themselves (JPEG, PNG, TIFF, WebP)"


def summary(finished: tasks.WriteFinished) -> str:
    """What a writing came to, in a sentence."""
    if finished.report is None:
        return f"The names could not be written: {finished.error}"
    report = finished.report
    said = (f"Names written to {describe(report.written, 'file')}, {report.unchanged} unchanged, "
            f"{len(report.failed)} failed")
    return ("Cancelled. " + said if finished.cancelled else said) + "."


class WriteNamesDialog(QDialog):
    """File > Write Names to Files: what will happen and the choice of writing into the photos
    themselves, then the progress (with Cancel), then what was written, left unchanged, and
    what failed and why."""

    CONFIRM, WRITING, DONE = range(3)

    def __init__(self, context: AppContext, jobs: JobController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Write names to files")
        self.context, self.jobs = context, jobs
        self.job: Job | None = None
        self.finished_with: tasks.WriteFinished | None = None
        layout = QVBoxLayout(self)
        self.pages = QStackedWidget()
        layout.addWidget(self.pages)

        confirm = QWidget()
        column = QVBoxLayout(confirm)
        with context.library.reader() as session:
            photos = read.named_photo_count(session)
        explain = QLabel(
            f"<p>The names of the people in your photos ({describe(photos, 'photo')} with named faces "
            "now) are written where other photo apps (digiKam, Lightroom, Picasa...) read them: "
            "as face regions and keywords in XMP.</p>"
            "<p>Each photo gets a <b>sidecar file next to it</b>, named after it with <tt>.xmp</tt> "
            "added (<tt>IMG_0001.jpg.xmp</tt>). Whatever else a sidecar already holds is kept; "
            "names removed in the library are removed from it. A photo whose sidecar changed since "
            "the last scan is left alone (scan it first, so its names are read). Hidden people's "
            "names are not written.</p>")
        explain.setWordWrap(True)
        explain.setTextFormat(Qt.TextFormat.RichText)
        explain.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        column.addWidget(explain)
        self.embed = QCheckBox(EMBED_TEXT)
        self.embed.setToolTip("The photo files themselves are rewritten (their pixels are not touched). "
                              "Other formats (HEIC...) still get a sidecar.")
        column.addWidget(self.embed)
        column.addStretch()
        buttons = QDialogButtonBox()
        self.write_button = buttons.addButton("Write Names", QDialogButtonBox.ButtonRole.AcceptRole)
        self.write_button.setDefault(True)
        buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.start)
        buttons.rejected.connect(self.reject)
        column.addWidget(buttons)
        self.pages.addWidget(confirm)

        writing = QWidget()
        column = QVBoxLayout(writing)
        self.progress_text = QLabel()
        column.addWidget(self.progress_text)
        self.progress = QProgressBar()
        column.addWidget(self.progress)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel)
        row = QDialogButtonBox()
        row.addButton(self.cancel_button, QDialogButtonBox.ButtonRole.RejectRole)
        column.addWidget(row)
        column.addStretch()
        self.pages.addWidget(writing)

        done = QWidget()
        column = QVBoxLayout(done)
        self.outcome = QLabel()
        self.outcome.setWordWrap(True)
        column.addWidget(self.outcome)
        self.details = QPlainTextEdit()
        self.details.setReadOnly(True)
        column.addWidget(self.details, 1)
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(self.accept)
        column.addWidget(close)
        self.pages.addWidget(done)

        jobs.started.connect(self._started)
        jobs.occurred.connect(self._event)
        self.setMinimumSize(560, 300)
        self.resize(680, 320)

    def start(self) -> None:
        """Write the names: a job of the window's queue (it waits for a scan to end)."""
        self.job = tasks.write_names(self.context, embed=self.embed.isChecked(), tag=self)
        self.pages.setCurrentIndex(self.WRITING)
        self.progress.setRange(0, 0)
        running = self.jobs.running()
        self.progress_text.setText(f"Waiting for this to end: {running.text}" if running
                                   else "Writing names...")
        self.jobs.submit(self.job)

    def cancel(self) -> None:
        """Stop writing: what is written stays written."""
        if self.job is not None and self.finished_with is None:
            self.cancel_button.setEnabled(False)
            self.progress_text.setText("Cancelling...")
            self.jobs.withdraw(self.job)
            if self.jobs.running() is not self.job:  # it had not started: nothing was written
                self._finish(tasks.WriteFinished(self, None, True, "cancelled before it started", False))

    def _started(self, _text: str) -> None:
        if self.job is not None and self.jobs.running() is self.job and self.cancel_button.isEnabled():
            self.progress_text.setText("Writing names...")

    def _event(self, event: object) -> None:
        if isinstance(event, tasks.WriteProgress) and event.tag is self:
            self.progress.setRange(0, max(1, event.total))
            self.progress.setValue(event.done)
            if self.cancel_button.isEnabled():
                self.progress_text.setText(f"Writing names: {event.done} of {describe(event.total, 'photo')}")
        elif isinstance(event, tasks.WriteFinished) and event.tag is self:
            self._finish(event)

    def _finish(self, finished: tasks.WriteFinished) -> None:
        self.finished_with = finished
        self.pages.setCurrentIndex(self.DONE)
        if finished.report is None and finished.cancelled:
            self.outcome.setText("Cancelled: nothing was written.")
        else:
            self.outcome.setText(summary(finished))
        failed = finished.report.failed if finished.report is not None else []
        self.details.setVisible(bool(failed))
        self.details.setPlainText("\n".join(f"{path}: {error}" for path, error in failed))


class AutoWriter(QObject):
    """With the setting on, rewrites the sidecars of the photos each naming decision concerns
    (naming, renaming, moving, confirming, rejecting, merging, hiding, and the undo or redo of
    any of them): the photos of the faces it changed and of every face of the people it
    renamed, hid, made or merged away. Decisions made while a writing waits to run join it."""

    def __init__(self, context: AppContext, jobs: JobController, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.context, self.jobs = context, jobs
        self._lock = threading.Lock()
        self._pending: set[int] = set()
        self._queued = False  # a writing is queued and has not taken the pending photos yet
        context.decided.connect(self.decided)

    def decided(self, change: Change) -> None:
        if not self.context.write_names_after_decisions:
            return
        rows = {table.table: list(table.before) for table in change.tables}
        with self.context.library.reader() as session:
            photos = read.photos_of_rows(session, rows)
        if not photos:
            return
        with self._lock:
            self._pending |= photos
            if self._queued:
                return
            self._queued = True
        self.jobs.submit(tasks.write_names(self.context, photo_ids=self._take, automatic=True, tag=self))

    def _take(self) -> list[int]:
        """The photos waiting to be written (called by the job when it starts, on its thread)."""
        with self._lock:
            taken, self._pending, self._queued = sorted(self._pending), set(), False
        return taken
