"""Small dialogs: choosing a person, listing the files a scan could not read."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

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
