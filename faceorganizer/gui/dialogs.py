"""Small dialogs: choosing a person, naming a face just drawn, listing the files a scan
could not read and what it found in the photos' files (XMP) that it did not use."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import (
    QCompleter,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from faceorganizer.people.operations import clean_name
from faceorganizer.people.tags import TagConflict
from faceorganizer.scan.events import Failure
from faceorganizer.store import read
from faceorganizer.store.read import FaceSummary

from .context import AppContext

NEW_PERSON = -1
ICON = 40


class ChoosePerson(QDialog):
    """Pick a person (named ones first), or type a new name."""

    def __init__(self, context: AppContext, title: str, *, exclude: set[int] | None = None,
                 allow_new: bool = True, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.chosen: int | None = None
        self.new_name: str | None = None
        layout = QVBoxLayout(self)
        self.filter = QLineEdit(placeholderText="Type a name to find a person" +
                                (" or name a new one" if allow_new else ""))
        layout.addWidget(self.filter)
        self.list = QListWidget()
        layout.addWidget(self.list)
        with context.library.reader() as session:
            people = [p for p in read.people(session) if p.id not in (exclude or set())]
        people.sort(key=lambda p: (p.name is None, (p.name or "").casefold(), -p.faces))
        self.allow_new = allow_new
        self.context = context
        self.list.setIconSize(QSize(ICON, ICON))
        if allow_new:
            self.list.addItem(self._item("New person...", NEW_PERSON))
        self._covers: dict[int, FaceSummary] = {}
        for person in people:
            label = f"{person.name or 'Unnamed'}  ({person.faces} faces, #{person.id})"
            self.list.addItem(self._item(label, person.id))
            if person.cover is not None:
                self._covers[person.id] = person.cover
        self._icons()
        context.thumbnails.ready.connect(self._icons)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok |
                                   QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self._accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.filter.textChanged.connect(self._filter)
        self.list.itemDoubleClicked.connect(lambda _item: self._accept())
        self.resize(420, 480)

    def _icons(self, _key: str = "") -> None:
        """Faces next to the names, as their thumbnails arrive."""
        ratio = self.devicePixelRatioF()
        for i in range(self.list.count()):
            item = self.list.item(i)
            cover = self._covers.get(item.data(Qt.ItemDataRole.UserRole))
            if cover is not None and item.icon().isNull():
                pixmap = self.context.thumbnails.face(cover, ICON, ratio)
                if pixmap is not None:
                    item.setIcon(QIcon(pixmap))

    @staticmethod
    def _item(text: str, person_id: int) -> QListWidgetItem:
        item = QListWidgetItem(text)
        item.setData(Qt.ItemDataRole.UserRole, person_id)
        return item

    def _filter(self, text: str) -> None:
        text = text.casefold().strip()
        for i in range(self.list.count()):
            item = self.list.item(i)
            is_new = item.data(Qt.ItemDataRole.UserRole) == NEW_PERSON
            item.setHidden(bool(text) and not is_new and text not in item.text().casefold())
        first = next((self.list.item(i) for i in range(self.list.count())
                      if not self.list.item(i).isHidden()
                      and self.list.item(i).data(Qt.ItemDataRole.UserRole) != NEW_PERSON), None)
        if first is not None and text:
            self.list.setCurrentItem(first)

    def _accept(self) -> None:
        item = self.list.currentItem()
        typed = " ".join(self.filter.text().split())
        if item is None or item.isHidden():
            if not (self.allow_new and typed):
                return
            self.chosen, self.new_name = NEW_PERSON, typed
        else:
            self.chosen = item.data(Qt.ItemDataRole.UserRole)
            if self.chosen == NEW_PERSON:
                self.new_name = typed or None
        self.accept()


class FailuresDialog(QDialog):
    """The files of a scan that could not be used, and why."""

    def __init__(self, failures: list[Failure], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Files that could not be read")
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(f"{len(failures)} files were skipped. Everything else was scanned; "
                                "they are read again when they change, or on File > Retry Failed Files."))
        table = QTableWidget(len(failures), 2)
        table.setHorizontalHeaderLabels(["File", "Reason"])
        for row, failure in enumerate(failures):
            table.setItem(row, 0, QTableWidgetItem(failure.path))
            table.setItem(row, 1, QTableWidgetItem(failure.error))
        table.resizeColumnsToContents()
        table.horizontalHeader().setStretchLastSection(True)
        layout.addWidget(table)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.resize(860, 400)


FACE = 120  # the face shown when asking who it is


class NameFaceDialog(QDialog):
    """"Who is this?" for a face just drawn: a name, completed from the people's names, or
    Skip (it stays unnamed, and grouping may put it with others)."""

    def __init__(self, context: AppContext, face: FaceSummary | None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Who is this?")
        self.context, self.face = context, face
        self._pictured = False
        layout = QHBoxLayout(self)
        self.picture = QLabel()
        self.picture.setFixedSize(FACE, FACE)
        self.picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.picture.setStyleSheet("QLabel { background: #202020; }")
        layout.addWidget(self.picture)
        column = QVBoxLayout()
        column.addWidget(QLabel("The face was added. Who is this?"))
        self.field = QLineEdit(placeholderText="Name (an existing name or a new one)")
        with context.library.reader() as session:
            self.names = read.person_names(session)
        completer = QCompleter(self.names, self)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        completer.setFilterMode(Qt.MatchFlag.MatchContains)
        self.field.setCompleter(completer)
        column.addWidget(self.field)
        column.addWidget(QLabel("Skip to leave it unnamed: grouping may put it with others."))
        column.addStretch()
        buttons = QDialogButtonBox()
        self.name_button = buttons.addButton("Name", QDialogButtonBox.ButtonRole.AcceptRole)
        self.skip_button = buttons.addButton("Skip", QDialogButtonBox.ButtonRole.RejectRole)
        self.name_button.setDefault(True)
        buttons.accepted.connect(self._accept)
        buttons.rejected.connect(self.reject)
        column.addWidget(buttons)
        layout.addLayout(column, 1)
        self.field.textChanged.connect(lambda text: self.name_button.setEnabled(bool(clean_name(text))))
        self.name_button.setEnabled(False)
        context.thumbnails.ready.connect(self._picture)
        self._picture()
        self.field.setFocus()
        self.resize(460, 0)

    @property
    def name(self) -> str:
        """The name typed (spaces tidied), empty when none."""
        return clean_name(self.field.text())

    def _picture(self, _key: str = "") -> None:
        if self.face is None or self._pictured:
            return
        pixmap = self.context.thumbnails.face(self.face, FACE, self.devicePixelRatioF())
        if pixmap is not None:
            self.picture.setPixmap(pixmap)
            self._pictured = True

    def _accept(self) -> None:
        if self.name:
            self.accept()


class ScanNotesDialog(QDialog):
    """What a scan found in the photos' own files (XMP) and did not use: names the library
    decided otherwise on (the library's decisions win), and face regions that were not usable."""

    def __init__(self, conflicts: list[TagConflict], warnings: list[Failure],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Names and face regions in the photos' files")
        layout = QVBoxLayout(self)
        tabs = QTabWidget()
        self.conflicts = QTableWidget(len(conflicts), 4)
        self.conflicts.setHorizontalHeaderLabels(["Photo", "Face (x1, y1, x2, y2)", "The file says",
                                                  "The library says"])
        for row, conflict in enumerate(conflicts):
            where = ", ".join(f"{v:.0f}" for v in conflict.box)
            said = conflict.library_name or "(unnamed, or not a face)"
            for column, text in enumerate((conflict.photo, where, conflict.file_name, said)):
                self.conflicts.setItem(row, column, QTableWidgetItem(text))
        self.warnings = QTableWidget(len(warnings), 2)
        self.warnings.setHorizontalHeaderLabels(["Photo", "What was not used"])
        for row, warning in enumerate(warnings):
            self.warnings.setItem(row, 0, QTableWidgetItem(warning.path))
            self.warnings.setItem(row, 1, QTableWidgetItem(warning.error))
        for table in (self.conflicts, self.warnings):
            table.resizeColumnsToContents()
            table.horizontalHeader().setStretchLastSection(True)
        conflicts_page = QWidget()
        box = QVBoxLayout(conflicts_page)
        box.addWidget(QLabel("These faces are named in the photos' files (XMP) other than in the "
                             "library. The library's decisions were kept; File > Write Names to "
                             "Files writes them into the files."))
        box.addWidget(self.conflicts)
        warnings_page = QWidget()
        box = QVBoxLayout(warnings_page)
        box.addWidget(QLabel("These photos were scanned, but some face regions in their files "
                             "(XMP) could not be used."))
        box.addWidget(self.warnings)
        tabs.addTab(conflicts_page, f"Name conflicts ({len(conflicts)})")
        tabs.addTab(warnings_page, f"Face region warnings ({len(warnings)})")
        if not conflicts and warnings:
            tabs.setCurrentIndex(1)
        layout.addWidget(tabs)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.resize(900, 420)
