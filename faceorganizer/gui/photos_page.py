"""Photos by folder: the scanned folders (offline ones marked, and on a shared library those
not mapped on this computer), their photos, rescan, locate and remove actions, and the files a
scan could not read."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QSplitter,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from faceorganizer.scan.events import Failure
from faceorganizer.store import read
from faceorganizer.store.roots import map_root, remove_root
from faceorganizer.store.states import PhotoStatus

from .context import AppContext
from .dialogs import FailuresDialog
from .lazy import reload_when_visible
from .models import PhotoItem, PhotosModel
from .tiles import grid_view

TILE = 150


class PhotosPage(QWidget):
    photo_requested = Signal(int, int, list)
    rescan_requested = Signal(list)
    retry_requested = Signal(list)  # folders whose failed files to read again

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        layout = QVBoxLayout(self)
        top = QHBoxLayout()
        top.addWidget(QLabel("<h2>Photos</h2>"))
        top.addStretch()
        self.rescan = QPushButton("Rescan folder")
        self.rescan.clicked.connect(self._rescan)
        self.locate = QPushButton("Locate folder...")
        self.locate.setToolTip("Say where this folder is on this computer: a share mounted at another "
                               "place, a drive that moved, a folder added on another computer")
        self.locate.clicked.connect(self._locate)
        self.remove = QPushButton("Remove folder...")
        self.remove.clicked.connect(self._remove)
        self.failures = QPushButton("Files not read...")
        self.failures.clicked.connect(self._show_failures)
        self.retry = QPushButton("Retry failed files")
        self.retry.setToolTip("Read the files of this folder that could not be read again, even those "
                              "that did not change")
        self.retry.clicked.connect(self._retry)
        for button in (self.rescan, self.locate, self.remove, self.failures, self.retry):
            top.addWidget(button)
        layout.addLayout(top)
        split = QSplitter()
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["Folder", "Photos"])
        self.tree.itemSelectionChanged.connect(self._folder_chosen)
        split.addWidget(self.tree)
        self.model = PhotosModel(context, TILE, self)
        self.grid = grid_view(TILE)
        self.grid.setModel(self.model)
        self.grid.activated.connect(self._open)
        self.grid.doubleClicked.connect(self._open)
        split.addWidget(self.grid)
        split.setStretchFactor(1, 3)
        split.setSizes([260, 800])
        layout.addWidget(split, 1)
        context.changed.connect(reload_when_visible(self, self.reload))
        self.reload()

    def reload(self) -> None:
        current = self.current_folder()
        with self.context.library.reader() as session:
            folders = read.folders(session, shared=self.context.library.shared)
        self.tree.clear()
        for folder in folders:
            state = "" if folder.online else "  (offline)" if folder.mapped else "  (not on this computer)"
            item = QTreeWidgetItem([folder.path + state, str(folder.photos)])
            item.setData(0, Qt.ItemDataRole.UserRole, (folder.root_id, folder.path, folder.mapped))
            if not folder.mapped:
                item.setToolTip(0, "Added on another computer, and not located on this one yet: "
                                   "Locate folder... says where it is here. Its photos and faces are kept.")
                item.setForeground(0, self.palette().placeholderText())
            elif not folder.online:
                item.setToolTip(0, "Not found (an unplugged drive?). Its photos and faces are kept.")
                item.setForeground(0, self.palette().placeholderText())
            self.tree.addTopLevelItem(item)
            if current and current[1] == folder.path:
                item.setSelected(True)
        first = self.tree.topLevelItem(0)
        if not self.tree.selectedItems() and first is not None:
            first.setSelected(True)
        self.tree.resizeColumnToContents(0)
        self._folder_chosen()

    def current_folder(self) -> tuple[int, str] | None:
        items = self.tree.selectedItems()
        return items[0].data(0, Qt.ItemDataRole.UserRole)[:2] if items else None

    def _current_mapped(self) -> bool:
        items = self.tree.selectedItems()
        return bool(items and items[0].data(0, Qt.ItemDataRole.UserRole)[2])

    def _folder_chosen(self) -> None:
        folder = self.current_folder()
        for button in (self.locate, self.remove):
            button.setEnabled(folder is not None)
        self.rescan.setEnabled(folder is not None and self._current_mapped())
        if folder is None:
            self.model.set_items([])
            self.failures.setEnabled(False)
            self.retry.setEnabled(False)
            return
        with self.context.library.reader() as session:
            photos = read.photos_in(session, folder[1])
        self.model.ratio = self.devicePixelRatioF()
        self.model.set_items([PhotoItem(p) for p in photos])
        failed = any(p.status == PhotoStatus.FAILED for p in photos)
        self.failures.setEnabled(failed)
        self.retry.setEnabled(failed)

    def _open(self, index) -> None:
        ids = [self.model.item(r).photo.id for r in range(self.model.rowCount())]
        self.photo_requested.emit(self.model.item(index.row()).photo.id, 0, ids)

    def _rescan(self) -> None:
        folder = self.current_folder()
        if folder:
            self.rescan_requested.emit([folder[1]])

    def _retry(self) -> None:
        folder = self.current_folder()
        if folder:
            self.retry_requested.emit([folder[1]])

    def _remove(self) -> None:
        folder = self.current_folder()
        if folder is None:
            return
        answer = QMessageBox.warning(
            self, "Remove folder",
            f"Remove {folder[1]} from the library? Its photos and their faces are forgotten "
            "(names you gave to people with faces elsewhere are kept). The photo files "
            "themselves are not touched.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel)
        if answer == QMessageBox.StandardButton.Yes and self.context.attempt(self._forget, folder[0]):
            self.context.undo.clear()  # the removed faces cannot come back by undo
            self.context.changed.emit()

    def _locate(self) -> None:
        folder = self.current_folder()
        if folder is not None:
            self.locate_folder(*folder)

    def locate_folder(self, root_id: int, shown: str) -> bool:
        """Ask where folder ``root_id`` (``shown``: where it was, or was added) is on this
        computer, and remember it; whether it was located."""
        start = shown if Path(shown).is_dir() else str(Path.home())
        chosen = QFileDialog.getExistingDirectory(self, f"Where is {shown} on this computer?", start)
        if not chosen:
            return False
        if not self.context.attempt(self._map, root_id, chosen):
            return False
        self.context.changed.emit()
        return True

    def _map(self, root_id: int, path: str) -> None:
        with self.context.library.session() as session:
            map_root(session, root_id, path, shared=self.context.library.shared)

    def _forget(self, root_id: int) -> None:
        with self.context.library.session() as session:
            remove_root(session, root_id)

    def _show_failures(self) -> None:
        folder = self.current_folder()
        if folder is None:
            return
        with self.context.library.reader() as session:
            failed = [Failure(p.path, p.error or "") for p in read.photos_in(session, folder[1])
                      if p.status == PhotoStatus.FAILED]
        FailuresDialog(failed, self).exec()
