"""The main window: a side bar (People, Photos, Search), the pages, menus, toolbar and
shortcuts; background work goes through a job queue, shown in the status bar."""

from __future__ import annotations

import html
from collections.abc import Iterable
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QFileDialog, QMainWindow, QMessageBox, QSplitter, QStackedWidget

from faceorganizer.imaging import IMAGE_EXTENSIONS
from faceorganizer.reembed import recorded_weights
from faceorganizer.scan.events import ScanSummary
from faceorganizer.store import read
from faceorganizer.store.roots import is_within

from . import chrome, tasks
from .context import WRITE_NAMES, AppContext, real_models
from .jobs import JobController
from .people_page import PeoplePage
from .person_page import PersonPage
from .photos_page import PhotosPage
from .review_page import QuestionService, ReviewPage
from .search_page import SearchPage
from .settings_dialog import Chosen, SettingsDialog
from .status import StatusBar
from .viewer import ViewerPage
from .writing import AutoWriter, WriteNamesDialog

PEOPLE, PHOTOS, SEARCH = range(3)


class MainWindow(QMainWindow):
    job_finished = Signal()  # a background job ended (a scan, a regrouping, the models' warm-up...)
    library_switch_requested = Signal(str)

    def __init__(self, context: AppContext, *, warm_up: bool = True) -> None:
        super().__init__()
        self.context = context
        library = context.library
        self.setWindowTitle(f"faceorganizer - {library.path.name if library.path else library.name}")
        self.setAcceptDrops(True)
        self.resize(1200, 800)

        self.questions = QuestionService(context, self)  # before the pages: it hears of changes first
        self.people = PeoplePage(context, questions=self.questions)
        self.person = PersonPage(context)
        self.review = ReviewPage(context, self.questions)
        self.photos = PhotosPage(context)
        self.search = SearchPage(context)
        self.viewer = ViewerPage(context)
        self.stack = QStackedWidget()
        for page in (self.people, self.person, self.photos, self.search, self.viewer, self.review):
            self.stack.addWidget(page)
        self.sidebar = chrome.sidebar(self.style())
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
        self.people.review_requested.connect(self.open_review)
        self.review.back_requested.connect(self.back)
        self.person.back_requested.connect(self.back)
        self.person.photo_requested.connect(lambda photo, face: self.open_photo(photo, face))
        self.person.search_requested.connect(self.search_face)
        self.person.person_opened.connect(self.open_person)
        self.photos.photo_requested.connect(self.open_photo)
        self.photos.rescan_requested.connect(self.start_scan)
        self.photos.retry_requested.connect(lambda folders: self.start_scan(folders, retry_failed=True))
        self.search.photo_requested.connect(self.open_photo)
        self.viewer.back_requested.connect(self.back)
        self.viewer.person_requested.connect(self.open_person)
        self.viewer.search_requested.connect(self.search_face)
        self.viewer.regroup_requested.connect(self.regroup_if_stale)

        self.jobs = JobController(self)
        self.jobs.failed.connect(self.show_error)
        self.jobs.finished.connect(self._job_finished)
        self.status = StatusBar(self.jobs, self)
        self.setStatusBar(self.status)
        self.auto_writer = AutoWriter(context, self.jobs, self)
        self.write_dialog: WriteNamesDialog | None = None
        context.failed.connect(self.show_error)
        context.message.connect(lambda text: self.status.showMessage(text, 8000))
        self.commands = chrome.install(self)
        self.sidebar.setCurrentRow(PEOPLE)
        if warm_up:
            QTimer.singleShot(300, self._warm_up)
        if context.library.shared:
            QTimer.singleShot(0, self.ask_for_unmapped_folders)

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

    def open_review(self) -> None:
        """The Review page, for a new review (nothing answered or skipped yet)."""
        self._show(self.review)
        self.review.start()
        self.review.setFocus()

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
        if event.key() == Qt.Key.Key_Escape and self.stack.currentWidget() in (self.viewer, self.person,
                                                                               self.review):
            self.back()
            return
        super().keyPressEvent(event)

    # ---- background work ----------------------------------------------------------------

    @property
    def last_summary(self) -> ScanSummary | None:
        """The outcome of the last scan."""
        return self.status.last_summary

    def unmapped_folders(self) -> list[tuple[int, str]]:
        """(id, where it was added) of the folders of a shared library not located on this
        computer."""
        with self.context.library.reader() as session:
            return [(f.root_id, f.path) for f in read.folders(session, shared=self.context.library.shared)
                    if not f.mapped]

    def ask_for_unmapped_folders(self) -> None:
        """A library on a server may hold folders added on another computer: ask, once when the
        window opens, where they are on this one (until then they are offline here, and nothing of
        them is marked missing)."""
        unmapped = self.unmapped_folders()
        if not unmapped:
            return
        listed = _html_list(path for _, path in unmapped)
        answer = QMessageBox.question(
            self, "Folders from other computers",
            f"<p>This library has {len(unmapped)} folder{'s' if len(unmapped) > 1 else ''} added on "
            f"another computer and not located on this one:</p><ul>{listed}</ul><p>Until you say where "
            "they are here, they are offline on this computer: their photos and faces are kept, and "
            "none is marked missing. Locate them now?</p>",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, QMessageBox.StandardButton.Yes)
        if answer != QMessageBox.StandardButton.Yes:
            return
        for root_id, path in unmapped:
            self.photos.locate_folder(root_id, path)

    def _warm_up(self) -> None:
        self.jobs.submit(tasks.warm_up(self.context))

    def open_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open a folder of photos", str(Path.home()))
        if not folder:
            return
        unmapped = self.unmapped_folders()
        if unmapped and not any(is_within(folder, known) for known in self._folders()):
            listed = _html_list(path for _, path in unmapped)
            answer = QMessageBox.question(
                self, "A new folder?",
                f"<p>{html.escape(folder)} is in none of the folders this computer knows, and this "
                f"library has folders added on other computers and not located here yet:</p><ul>{listed}"
                "</ul><p>If it is one of them, answer <b>No</b> and locate it on the Photos page "
                "(<i>Locate folder...</i>), so that its photos are not added twice.</p>"
                "<p>Add it as a new folder?</p>",
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, QMessageBox.StandardButton.No)
            if answer != QMessageBox.StandardButton.Yes:
                return
            self.start_scan([folder], new_root=True)
            return
        self.start_scan([folder])

    def _folders(self) -> list[str]:
        with self.context.library.reader() as session:
            return [f.path for f in read.folders(session, shared=self.context.library.shared) if f.mapped]

    def rescan_all(self) -> None:
        roots = self._folders()
        if not roots:
            self.open_folder()
        else:
            self.start_scan(roots)

    def retry_failed(self) -> None:
        """Scan every folder again, reading the files that failed again even if unchanged."""
        roots = self._folders()
        if roots:
            self.start_scan(roots, retry_failed=True)
        else:
            self.status.showMessage("No folder has been scanned yet", 5000)

    def start_scan(self, folders: list[str], *, retry_failed: bool = False, new_root: bool = False) -> None:
        self.jobs.submit(tasks.scan(self.context, folders, retry_failed=retry_failed, new_root=new_root))

    def regroup(self) -> None:
        self.jobs.submit(tasks.regroup(self.context))

    def regroup_if_stale(self) -> None:
        """Group the faces if they changed since they were last grouped (a face was added)."""
        self.jobs.submit(tasks.regroup(self.context, only_if_stale=True))

    def write_names(self) -> None:
        """File > Write Names to Files: the dialog (it says what will happen first)."""
        if self.write_dialog is not None:
            self.write_dialog.deleteLater()
        self.write_dialog = WriteNamesDialog(self.context, self.jobs, self)
        self.write_dialog.open()

    def switch_weights(self, path: str | None) -> bool:
        """Make the library use other FaceNet weights (if the user agrees), then re-embed and
        regroup in the background."""
        with self.context.library.reader() as session:
            faces = read.face_count(session)
        answer = QMessageBox.question(
            self, "Switch the face recognition weights?",
            f"Every face ({faces}) will be embedded again with "
            f"{Path(path).name if path else 'the built-in weights'}, in the background; people are "
            "then regrouped. Names, confirmations and rejections are kept. If it is interrupted, it "
            "goes on the next time the library is opened.")
        if answer != QMessageBox.StandardButton.Yes:
            return False
        self.jobs.submit(tasks.switch_weights(self.context, path))
        return True

    def _job_finished(self) -> None:
        job = self.jobs.running()
        if job is None or job.reloads:
            self.context.changed.emit()
        self.job_finished.emit()

    def show_error(self, message: str) -> None:
        QMessageBox.warning(self, "faceorganizer", message)

    # ---- settings and the rest ----------------------------------------------------------

    def open_settings(self) -> None:
        dialog = SettingsDialog(self.context, self)
        if dialog.exec():
            self.apply_settings(dialog.chosen())

    def apply_settings(self, chosen: Chosen) -> None:
        """Apply what the user chose in the settings dialog."""
        settings = self.context.settings
        if chosen.device != self.context.device or chosen.detector != self.context.scan_settings().detector:
            settings.setValue("device", chosen.device)
            settings.setValue("detector", chosen.detector)
            self.context.models.reset(real_models(chosen.device, self.context.library, chosen.detector))
        recorded = recorded_weights(self.context.library)
        if chosen.weights != (recorded.path if recorded else None):
            self.switch_weights(chosen.weights)
        settings.setValue("min_face_size", chosen.min_face_size)
        settings.setValue(WRITE_NAMES, chosen.write_names)
        if chosen.people != self.context.people_settings() and \
                self.context.attempt(self.context.save_people_settings, chosen.people):
            self.regroup()  # after the re-embedding, if there is one
        if chosen.library and not self.context.library.is_at(chosen.library):
            self.library_switch_requested.emit(chosen.library)

    def about(self) -> None:
        from faceorganizer import __version__

        QMessageBox.about(self, "About faceorganizer",
                          f"<b>faceorganizer {__version__}</b><p>Finds, groups and searches the faces "
                          "in your photos with FaceNet (Schroff, Kalenichenko, Philbin 2015), on your "
                          f"own computer.</p><p>Library: {html.escape(self.context.library.name)}</p>")

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
        self.jobs.shutdown()
        self.viewer.shutdown()
        self.search.shutdown()
        self.questions.shutdown()
        self.context.settings.setValue("library", self.context.library.name)
        super().closeEvent(event)


def _html_list(items: Iterable[str]) -> str:
    """``items`` as the items of an HTML list, escaped."""
    return "".join(f"<li>{html.escape(item)}</li>" for item in items)
