"""The People view: a grid of person tiles, filters, the unsorted bin, drag to merge."""

from __future__ import annotations

from PySide6.QtCore import QByteArray, QMimeData, QPoint, Qt, Signal
from PySide6.QtGui import QDrag, QDragEnterEvent, QDragMoveEvent, QDropEvent
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QListView,
    QMenu,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from faceorganizer.people import operations as ops
from faceorganizer.store.states import PersonState

from .context import AppContext, describe
from .dialogs import NEW_PERSON, ChoosePerson
from .lazy import reload_when_visible
from .models import ID, PeopleModel
from .review_page import QuestionService
from .tiles import grid_view

PERSON_MIME = "application/x-faceorganizer-person"
TILE = 128


class _PeopleGrid(QListView):
    """Tiles that can be dropped onto each other: merge the dragged person into the target."""

    merge_requested = Signal(int, int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setDragEnabled(True)
        self.setAcceptDrops(True)
        self.setDropIndicatorShown(True)
        self.setDragDropMode(QListView.DragDropMode.DragDrop)
        self.setDefaultDropAction(Qt.DropAction.MoveAction)

    def startDrag(self, supported: Qt.DropAction) -> None:
        index = self.currentIndex()
        if not index.isValid():
            return
        mime = QMimeData()
        mime.setData(PERSON_MIME, QByteArray(str(index.data(ID)).encode()))
        drag = QDrag(self)
        drag.setMimeData(mime)
        pixmap = index.data(Qt.ItemDataRole.DecorationRole)
        if pixmap is not None:
            drag.setPixmap(pixmap.scaled(64, 64, Qt.AspectRatioMode.KeepAspectRatio))
        drag.exec(Qt.DropAction.MoveAction)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasFormat(PERSON_MIME):
            event.acceptProposedAction()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        if event.mimeData().hasFormat(PERSON_MIME) and self.indexAt(event.position().toPoint()).isValid():
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:
        target = self.indexAt(event.position().toPoint())
        if not target.isValid() or not event.mimeData().hasFormat(PERSON_MIME):
            event.ignore()
            return
        source = int(bytes(event.mimeData().data(PERSON_MIME).data()).decode())
        if source != target.data(ID):
            self.merge_requested.emit(source, int(target.data(ID)))
        event.acceptProposedAction()


class PeoplePage(QWidget):
    person_activated = Signal(int)
    unsorted_requested = Signal()
    review_requested = Signal()

    def __init__(self, context: AppContext, parent: QWidget | None = None,
                 questions: QuestionService | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.questions = questions
        self.model = PeopleModel(context, TILE, self)
        layout = QVBoxLayout(self)
        header = QHBoxLayout()
        self.title = QLabel("<h2>People</h2>")
        header.addWidget(self.title)
        self.review = QPushButton()
        self.review.setFlat(True)
        self.review.setCursor(Qt.CursorShape.PointingHandCursor)
        self.review.setToolTip("Answer the questions that would finish grouping the faces: "
                               "are these two the same person? Is this face that person?")
        self.review.setStyleSheet("QPushButton { color: palette(link); text-decoration: underline; "
                                  "border: none; padding: 2px 6px; }")
        self.review.clicked.connect(self.review_requested)
        self.review.setVisible(False)
        header.addWidget(self.review)
        header.addStretch()
        self.filter = QComboBox()
        for mode, label in [(None, "Everyone"), (PersonState.UNNAMED, "Unnamed"),
                            (PersonState.NAMED, "Named"), (PersonState.HIDDEN, "Hidden")]:
            self.filter.addItem(label, mode)
        self.filter.currentIndexChanged.connect(
            lambda _i: self.model.set_mode(self.filter.currentData()))
        header.addWidget(QLabel("Show:"))
        header.addWidget(self.filter)
        self.unsorted = QPushButton("Unsorted faces")
        self.unsorted.setToolTip("Faces that belong to no person yet")
        self.unsorted.clicked.connect(self.unsorted_requested)
        header.addWidget(self.unsorted)
        layout.addLayout(header)
        self.grid = _PeopleGrid(self)
        grid_view(TILE, view=self.grid)
        self.grid.setModel(self.model)
        self.grid.activated.connect(lambda index: self.person_activated.emit(int(index.data(ID))))
        self.grid.doubleClicked.connect(lambda index: self.person_activated.emit(int(index.data(ID))))
        self.grid.merge_requested.connect(self.merge)
        self.grid.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.grid.customContextMenuRequested.connect(self._menu)
        layout.addWidget(self.grid)
        self.empty = QLabel("No people yet. Open a folder of photos (Ctrl+O) and faceorganizer "
                            "finds the faces in it and groups them into people.")
        self.empty.setWordWrap(True)
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout.addWidget(self.empty)
        context.changed.connect(reload_when_visible(self, self.reload))
        if questions is not None:
            questions.updated.connect(reload_when_visible(self, self.show_review_count))
        self.reload()

    def reload(self) -> None:
        self.model.ratio = self.devicePixelRatioF()
        self.model.reload()
        self.unsorted.setText(f"Unsorted faces ({self.model.unsorted})")
        self.unsorted.setEnabled(self.model.unsorted > 0)
        has_people = bool(self.model.everyone)
        self.empty.setVisible(not has_people)
        self.grid.setVisible(has_people)
        shown = self.model.rowCount()
        self.title.setText("<h2>People</h2>" if not shown else f"<h2>People <small>({shown})</small></h2>")
        self.show_review_count()

    def show_review_count(self) -> None:
        """The link to the Review page: how many questions are open (hidden when none)."""
        count = self.questions.count() if self.questions is not None else 0
        self.review.setVisible(count != 0)
        self.review.setEnabled(bool(count))
        self.review.setText("Review: finding questions..." if count is None
                            else f"Review: {describe(count, 'question')}")

    def selected_people(self) -> list[int]:
        return [int(i.data(ID)) for i in self.grid.selectionModel().selectedIndexes()]

    def _menu(self, position: QPoint) -> None:
        index = self.grid.indexAt(position)
        if not index.isValid():
            return
        person = self.model.person(index.row())
        menu = QMenu(self)
        menu.addAction("Open", lambda: self.person_activated.emit(person.id))
        menu.addAction("Rename...", lambda: self.rename(person.id))
        menu.addAction("Merge into...", lambda: self.merge_into(person.id))
        menu.addAction("Show" if person.hidden else "Hide",
                       lambda: self.set_hidden(person.id, not person.hidden))
        menu.exec(self.grid.viewport().mapToGlobal(position))

    def rename(self, person_id: int | None = None) -> None:
        if person_id is None:
            chosen = self.selected_people()
            if len(chosen) != 1:
                return
            person_id = chosen[0]
        row = self.model.row_of(person_id)
        current = self.model.person(row).name if row is not None else None
        name, ok = QInputDialog.getText(self, "Name this person", "Name:", text=current or "")
        if ok and name.strip():
            self.context.decide(f"Name {name.strip()}", ops.rename, person_id, name)

    def merge_into(self, person_id: int) -> None:
        dialog = ChoosePerson(self.context, "Merge into...", exclude={person_id}, allow_new=False,
                              parent=self)
        if dialog.exec() and dialog.chosen not in (None, NEW_PERSON):
            self.merge(person_id, int(dialog.chosen))

    def merge(self, source: int, target: int) -> None:
        names = {p.id: p.name or f"Unnamed #{p.id}" for p in self.model.everyone}
        answer = QMessageBox.question(
            self, "Merge people",
            f"Merge {names.get(source, source)} into {names.get(target, target)}? Their faces "
            "become one person. (Edit > Undo takes it back.)")
        if answer == QMessageBox.StandardButton.Yes:
            self.context.decide("Merge people", ops.merge, source, target)

    def set_hidden(self, person_id: int, hidden: bool) -> None:
        self.context.decide("Hide person" if hidden else "Show person", ops.set_hidden, person_id, hidden)

    def select(self, person_id: int) -> None:
        row = self.model.row_of(person_id)
        if row is not None:
            self.grid.setCurrentIndex(self.model.index(row))

