"""The main window: a side bar (People, Photos, Search), the pages, menus, toolbar,
shortcuts, and a status bar that shows and cancels the work in the background."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent, QIcon, QKeySequence
from PySide6.QtWidgets import (
    QFileDialog,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QStyle,
)
from sqlalchemy import func, select

from faceorganizer.imaging import IMAGE_EXTENSIONS
from faceorganizer.jobs import GroupingFinished, GroupingStarted, reembed_and_group, scan_and_group
from faceorganizer.models.weights import resolve
from faceorganizer.people.recluster import ReclusterSummary, recluster
from faceorganizer.reembed import ReembedFinished, ReembedProgress, record, recorded_weights, stale_faces
from faceorganizer.scan.events import ScanFinished, ScanProgress, ScanStarted, ScanSummary
from faceorganizer.store import read
from faceorganizer.store.schema import Face

from .context import AppContext, real_models
from .dialogs import FailuresDialog
from .people_page import PeoplePage
from .person_page import PersonPage
from .photos_page import PhotosPage
from .resources import icon_path
from .search_page import SearchPage
from .settings_dialog import SettingsDialog
from .viewer import ViewerPage
from .worker import JobRunner

PEOPLE, PHOTOS, SEARCH = range(3)


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "--:--"
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}:{secs:02d}"


class MainWindow(QMainWindow):
    job_finished = Signal()  # a scan, a regrouping or the models' warm-up ended
    library_switch_requested = Signal(str)

    def __init__(self, context: AppContext, *, warm_up: bool = True) -> None:
        super().__init__()
        self.context = context
        self.runner: JobRunner | None = None
        self.last_summary: ScanSummary | None = None
        self.last_grouping: ReclusterSummary | None = None
        self._last_progress = 0.0
        self.setWindowTitle(f"faceorganizer - {context.library.path.name}")
        self.setAcceptDrops(True)
        self.resize(1200, 800)

        self.people = PeoplePage(context)
        self.person = PersonPage(context)
        self.photos = PhotosPage(context)
        self.search = SearchPage(context)
        self.viewer = ViewerPage(context)
        self.stack = QStackedWidget()
        for page in (self.people, self.person, self.photos, self.search, self.viewer):
            self.stack.addWidget(page)
        self.sidebar = QListWidget()
        sp = QStyle.StandardPixmap
        app_icon = icon_path()
        people_icon = QIcon(str(app_icon)) if app_icon else self.style().standardIcon(sp.SP_DirHomeIcon)
        for text, icon in [("People", people_icon), ("Photos", self.style().standardIcon(sp.SP_DirIcon)),
                           ("Search", self.style().standardIcon(sp.SP_FileDialogContentsView))]:
            self.sidebar.addItem(QListWidgetItem(icon, text))
        self.sidebar.setMaximumWidth(180)
        self.sidebar.setIconSize(QSize(22, 22))
        self.sidebar.setSpacing(3)
        font = self.sidebar.font()
        font.setPointSizeF(font.pointSizeF() * 1.15)
        self.sidebar.setFont(font)
        self.sidebar.currentRowChanged.connect(self._section)
        split = QSplitter()
        split.addWidget(self.sidebar)
        split.addWidget(self.stack)
        split.setStretchFactor(1, 1)
        split.setSizes([150, 1050])
        self.setCentralWidget(split)
        self._history: list[int] = []

        self.people.person_activated.connect(self.open_person)
        self.people.unsorted_requested.connect(self.open_unsorted)
        self.person.back_requested.connect(self.back)
        self.person.photo_requested.connect(lambda photo, face: self.open_photo(photo, face))
        self.person.search_requested.connect(self.search_face)
        self.person.person_opened.connect(self.open_person)
        self.photos.photo_requested.connect(self.open_photo)
        self.photos.rescan_requested.connect(self.start_scan)
        self.search.photo_requested.connect(self.open_photo)
        self.viewer.back_requested.connect(self.back)
        self.viewer.person_requested.connect(self.open_person)
        self.viewer.search_requested.connect(self.search_face)

        self._build_status_bar()
        self._build_actions()
        context.message.connect(lambda text: self.statusBar().showMessage(text, 8000))
        self.sidebar.setCurrentRow(PEOPLE)
        if warm_up:
            QTimer.singleShot(300, self._warm_up)

    # ---- chrome -------------------------------------------------------------------------

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(260)
        self.progress.setVisible(False)
        self.progress_text = QLabel()
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setVisible(False)
        self.cancel_button.clicked.connect(self.cancel_job)
        self.failures_button = QPushButton()
        self.failures_button.setFlat(True)
        self.failures_button.setVisible(False)
        self.failures_button.clicked.connect(self.show_failures)
        bar.addPermanentWidget(self.failures_button)
        bar.addPermanentWidget(self.progress_text)
        bar.addPermanentWidget(self.progress)
        bar.addPermanentWidget(self.cancel_button)

    def _action(self, text: str, slot, shortcut: QKeySequence | QKeySequence.StandardKey | str | None = None,
                icon: QStyle.StandardPixmap | None = None, tip: str | None = None) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        if icon is not None:
            action.setIcon(self.style().standardIcon(icon))
        if tip:
            action.setStatusTip(tip)
        action.triggered.connect(slot)
        return action

    def _build_actions(self) -> None:
        sp = QStyle.StandardPixmap
        self.open_action = self._action("&Open Folder...", self.open_folder, QKeySequence.StandardKey.Open,
                                        sp.SP_DirOpenIcon, "Add a folder of photos and scan it")
        self.rescan_action = self._action("&Rescan All", self.rescan_all, "F5", sp.SP_BrowserReload,
                                          "Look for new, changed, moved and deleted photos")
        self.search_action = self._action("Search by &Photo...", self.search_photo_dialog,
                                          QKeySequence.StandardKey.Find, sp.SP_FileDialogContentsView,
                                          "Find the photos of the person in a photo")
        self.rename_action = self._action("&Rename Person", self.rename, "F2")
        self.reject_action = self._action("&Not This Person", self.person.reject_selected)
        self.settings_action = self._action("&Settings...", self.open_settings,
                                            QKeySequence.StandardKey.Preferences)
        self.undo_action = self.context.undo.createUndoAction(self, "&Undo")
        self.undo_action.setShortcut(QKeySequence.StandardKey.Undo)
        self.undo_action.setIcon(self.style().standardIcon(sp.SP_ArrowBack))
        self.redo_action = self.context.undo.createRedoAction(self, "&Redo")
        self.redo_action.setShortcut(QKeySequence.StandardKey.Redo)
        quit_action = self._action("&Quit", self.close, QKeySequence.StandardKey.Quit)

        menus = self.menuBar()
        file_menu = menus.addMenu("&File")
        for action in (self.open_action, self.rescan_action):
            file_menu.addAction(action)
        file_menu.addSeparator()
        file_menu.addAction(quit_action)
        edit = menus.addMenu("&Edit")
        edit.addAction(self.undo_action)
        edit.addAction(self.redo_action)
        edit.addSeparator()
        edit.addAction(self.settings_action)
        people = menus.addMenu("&People")
        people.addAction(self.rename_action)
        people.addAction(self._action("Unsorted Faces", self.open_unsorted))
        people.addAction(self._action("Regroup Faces", self.regroup))
        search = menus.addMenu("&Search")
        search.addAction(self.search_action)
        help_menu = menus.addMenu("&Help")
        help_menu.addAction(self._action("&About faceorganizer", self.about))

        toolbar = self.addToolBar("Main")
        toolbar.setObjectName("main-toolbar")
        toolbar.setIconSize(QSize(20, 20))
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        for action in (self.open_action, self.rescan_action, self.search_action, self.undo_action):
            toolbar.addAction(action)

    # ---- navigation ---------------------------------------------------------------------

    def _section(self, row: int) -> None:
        page = {PEOPLE: self.people, PHOTOS: self.photos, SEARCH: self.search}.get(row)
        if page is not None:
            self._show(page)

    def _show(self, page) -> None:
        current = self.stack.currentIndex()
        if self.stack.widget(current) is not page:
            self._history.append(current)
            self._history = self._history[-20:]
        self.stack.setCurrentWidget(page)

    def back(self) -> None:
        while self._history:
            index = self._history.pop()
            if index != self.stack.currentIndex():
                self.stack.setCurrentIndex(index)
                return
        self.stack.setCurrentWidget(self.people)

    def open_person(self, person_id: int) -> None:
        self.person.show_person(person_id)
        self._show(self.person)

    def open_unsorted(self) -> None:
        self.person.show_unsorted()
        self._show(self.person)

    def open_photo(self, photo_id: int, face_id: int = 0, siblings: list[int] | None = None) -> None:
        if siblings is None and self.stack.currentWidget() is self.person:
            siblings = list(dict.fromkeys(self.person.model.face(r).photo_id
                                          for r in range(self.person.model.rowCount())))
        self.viewer.show_photo(photo_id, face_id or None, siblings or [photo_id])
        self._show(self.viewer)

    def search_face(self, face_id: int) -> None:
        self.sidebar.blockSignals(True)
        self.sidebar.setCurrentRow(SEARCH)
        self.sidebar.blockSignals(False)
        self._show(self.search)
        self.search.search_face(face_id)

    def search_image(self, path: Path) -> None:
        self.sidebar.blockSignals(True)
        self.sidebar.setCurrentRow(SEARCH)
        self.sidebar.blockSignals(False)
        self._show(self.search)
        self.search.search_image(path)

    def search_photo_dialog(self) -> None:
        pattern = " ".join(f"*{e}" for e in sorted(IMAGE_EXTENSIONS))
        path, _ = QFileDialog.getOpenFileName(self, "Search with a photo", str(Path.home()),
                                              f"Photos ({pattern})")
        if path:
            self.search_image(Path(path))

    def rename(self) -> None:
        if self.stack.currentWidget() is self.person:
            self.person.rename()
        elif self.stack.currentWidget() is self.people:
            self.people.rename()

    def keyPressEvent(self, event) -> None:
        if self.stack.currentWidget() is self.viewer and event.key() in (Qt.Key.Key_Left, Qt.Key.Key_Right):
            self.viewer.step(-1 if event.key() == Qt.Key.Key_Left else 1)
            return
        if event.key() == Qt.Key.Key_Escape and self.stack.currentWidget() in (self.viewer, self.person):
            self.back()
            return
        super().keyPressEvent(event)

    # ---- background work ----------------------------------------------------------------

    def _start(self, job, busy_text: str) -> bool:
        if self.runner is not None and self.runner.is_running():
            QMessageBox.information(self, "Busy", "faceorganizer is still working on the last task. "
                                    "Wait for it to finish, or cancel it first.")
            return False
        self.runner = JobRunner(job, self)
        self.runner.occurred.connect(self._on_event)
        self.runner.failed.connect(self._on_failed)
        self.runner.finished.connect(self._on_finished)
        self.progress.setVisible(True)
        self.progress.setRange(0, 0)
        self.progress_text.setText(busy_text)
        self.cancel_button.setVisible(True)
        self.cancel_button.setEnabled(True)
        self.runner.start()
        return True

    def _warm_up(self) -> None:
        """Load the face models in the background, so the first scan starts at once, and so
        a first run that must prepare the weights says so."""
        models = self.context.models

        library = self.context.library

        def job(cancel: threading.Event) -> Iterator[object]:
            loaded = models.get()
            load = getattr(loaded.embedder, "load", None)
            if load is not None:  # the embedder builds itself lazily; do it now, not mid-scan
                load()
            yield "Face models ready"
            if stale_faces(library):  # a switch of weights was interrupted: finish it
                yield from reembed_and_group(library, models.get, cancel=cancel)

        self._start(job, "Preparing the face models...")

    def open_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open a folder of photos", str(Path.home()))
        if folder:
            self.start_scan([folder])

    def rescan_all(self) -> None:
        with self.context.library.reader() as session:
            roots = [f.path for f in read.folders(session)]
        if not roots:
            self.open_folder()
        else:
            self.start_scan(roots)

    def start_scan(self, folders: list[str]) -> bool:
        library, models = self.context.library, self.context.models
        scan, people = self.context.scan_settings(), self.context.people_settings()

        def job(cancel: threading.Event) -> Iterator[object]:
            yield from scan_and_group(library, folders, models.get, scan, people, cancel)

        self.last_summary = None
        return self._start(job, f"Scanning {', '.join(Path(f).name or f for f in folders)}...")

    def regroup(self) -> bool:
        library, people = self.context.library, self.context.people_settings()

        def job(cancel: threading.Event) -> Iterator[object]:
            yield GroupingStarted()
            yield GroupingFinished(recluster(library, people))

        return self._start(job, "Grouping faces into people...")

    def switch_weights(self, path: str | None) -> bool:
        """Make the library use other FaceNet weights, then re-embed and regroup in the background.

        Checking the file (hashing it, reading what training wrote in it) happens in the job,
        not on the GUI thread; a file that is not usable weights is reported as the job's error.
        """
        with self.context.library.reader() as session:
            faces = session.scalar(select(func.count(Face.id))) or 0
        answer = QMessageBox.question(
            self, "Switch the face recognition weights?",
            f"Every face ({faces}) will be embedded again with "
            f"{Path(path).name if path else 'the built-in weights'}, in the background; people are "
            "then regrouped. Names, confirmations and rejections are kept. If it is interrupted, it "
            "goes on the next time the library is opened.")
        if answer != QMessageBox.StandardButton.Yes:
            return False
        library, models, scan = self.context.library, self.context.models, self.context.scan_settings()

        def job(cancel: threading.Event) -> Iterator[object]:
            record(library, resolve(path, use_env=False, prepare_missing=False))
            models.reset()
            # people settings are read after the switch: they follow the new weights' scale
            yield from reembed_and_group(library, models.get, scan, None, cancel)

        self.last_summary = None
        return self._start(job, "Re-embedding the faces with the new weights...")

    def cancel_job(self) -> None:
        if self.runner is not None:
            self.runner.cancel()
            self.cancel_button.setEnabled(False)
            self.progress_text.setText("Cancelling: saving what is done...")

    def _on_event(self, event: object) -> None:
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
            self.last_summary = event.summary
        elif isinstance(event, ReembedProgress):
            self.progress.setRange(0, max(1, event.total))
            self.progress.setValue(event.done)
            self.progress_text.setText(f"Re-embedding faces: {event.done}/{event.total}")
        elif isinstance(event, ReembedFinished):
            summary = event.summary
            if summary.faces or summary.unreadable:
                self.statusBar().showMessage(
                    f"{summary.faces} faces re-embedded with {summary.model_id}"
                    + (f"; {summary.unreadable} could not be (photo missing or unreadable)"
                       if summary.unreadable else ""), 15000)
        elif isinstance(event, GroupingStarted):
            self.progress.setRange(0, 0)
            self.progress_text.setText("Grouping faces into people...")
        elif isinstance(event, GroupingFinished):
            self.last_grouping = event.summary
            self.context.changed.emit()
        elif isinstance(event, str):
            self.statusBar().showMessage(event, 5000)

    def _on_failed(self, message: str) -> None:
        QMessageBox.warning(self, "faceorganizer", message)

    def _on_finished(self) -> None:
        self.progress.setVisible(False)
        self.cancel_button.setVisible(False)
        self.progress_text.setText("")
        summary = self.last_summary
        if summary is not None:
            parts = [f"{summary.new} new", f"{summary.changed} changed", f"{summary.moved} moved",
                     f"{summary.missing} missing"]
            people = (f"; {self.last_grouping.people} people" if self.last_grouping else "")
            prefix = "Scan cancelled" if summary.cancelled else "Scan finished"
            self.statusBar().showMessage(f"{prefix}: {', '.join(parts)}, {summary.faces} faces found"
                                         f"{people}", 15000)
            self.failures_button.setVisible(bool(summary.failures))
            self.failures_button.setText(f"{len(summary.failures)} files could not be read")
            for root in summary.offline_roots:
                self.statusBar().showMessage(f"{root} is offline; its photos are kept", 15000)
        self.context.changed.emit()
        self.job_finished.emit()

    def show_failures(self) -> None:
        if self.last_summary is not None:
            FailuresDialog(list(self.last_summary.failures), self).exec()

    # ---- settings and the rest ----------------------------------------------------------

    def open_settings(self) -> None:
        dialog = SettingsDialog(self.context, self)
        if not dialog.exec():
            return
        chosen = dialog.chosen()
        settings = self.context.settings
        if chosen.device != self.context.device:
            settings.setValue("device", chosen.device)
            self.context.models.reset(real_models(chosen.device, self.context.library))
        recorded = recorded_weights(self.context.library)
        if chosen.weights != (recorded.path if recorded else None):
            self.switch_weights(chosen.weights)
        settings.setValue("min_face_size", chosen.min_face_size)
        if chosen.people != self.context.people_settings():
            self.context.save_people_settings(chosen.people)
            self.regroup()
        if chosen.library and Path(chosen.library) != self.context.library.path:
            self.library_switch_requested.emit(chosen.library)

    def about(self) -> None:
        from faceorganizer import __version__

        QMessageBox.about(self, "About faceorganizer",
                          f"<b>faceorganizer {__version__}</b><p>Finds, groups and searches the faces "
                          "in your photos with FaceNet (Schroff, Kalenichenko, Philbin 2015), on your "
                          f"own computer.</p><p>Library: {self.context.library.path}</p>")

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if any(Path(u.toLocalFile()).suffix.lower() in IMAGE_EXTENSIONS for u in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        for url in event.mimeData().urls():
            path = Path(url.toLocalFile())
            if path.suffix.lower() in IMAGE_EXTENSIONS:
                self.search_image(path)
                event.acceptProposedAction()
                return

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.runner is not None and self.runner.is_running():
            self.runner.cancel()
            self.runner.wait(60_000)
        if self.search.runner is not None and self.search.runner.is_running():
            self.search.runner.cancel()
            self.search.runner.wait(60_000)
        self.context.settings.setValue("library", str(self.context.library.path))
        super().closeEvent(event)
