"""A person's page: their faces (suggestions marked apart), rename in place, and the
decisions: confirm, "not this person", move, merge, hide. Also shows the unsorted faces."""

from __future__ import annotations

from PySide6.QtCore import QPoint, Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QMessageBox,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from faceorganizer.people import operations as ops
from faceorganizer.store import read
from faceorganizer.store.states import FaceState

from .context import AppContext, describe
from .dialogs import NEW_PERSON, ChoosePerson
from .lazy import reload_when_visible
from .models import FacesModel
from .tiles import grid_view

TILE = 112


class PersonPage(QWidget):
    back_requested = Signal()
    photo_requested = Signal(int, int)  # photo id, face id
    search_requested = Signal(int)  # face id
    person_opened = Signal(int)

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.person_id: int | None = None  # None: the unsorted faces
        self.hidden = False
        self.model = FacesModel(context, TILE, self)
        layout = QVBoxLayout(self)
        top = QHBoxLayout()
        back = QToolButton()
        back.setText("\u2190 People")
        back.clicked.connect(self.back_requested)
        top.addWidget(back)
        self.name = QLineEdit()
        self.name.setPlaceholderText("Add a name")
        font = self.name.font()
        font.setPointSizeF(font.pointSizeF() * 1.5)
        self.name.setFont(font)
        self.name.editingFinished.connect(self._rename)
        top.addWidget(self.name, 1)
        self.summary = QLabel()
        top.addWidget(self.summary)
        layout.addLayout(top)

        actions = QHBoxLayout()
        self.confirm = QPushButton("Confirm")
        self.confirm.setToolTip("Yes, these are this person")
        self.confirm.clicked.connect(self.confirm_selected)
        self.confirm_all = QPushButton("Confirm all suggestions")
        self.confirm_all.clicked.connect(self.confirm_suggestions)
        self.reject = QPushButton("Not this person")
        self.reject.setToolTip("Take the selected faces out of this person for good (Delete)")
        self.reject.clicked.connect(self.reject_selected)
        self.move_button = QPushButton("Move to...")
        self.move_button.clicked.connect(self.move_selected)
        self.ignore = QPushButton("Not a face")
        self.ignore.clicked.connect(self.ignore_selected)
        self.merge = QPushButton("Merge into...")
        self.merge.clicked.connect(self.merge_person)
        self.hide_button = QPushButton("Hide")
        self.hide_button.clicked.connect(self.toggle_hidden)
        for button in (self.confirm, self.confirm_all, self.reject, self.move_button, self.ignore):
            actions.addWidget(button)
        actions.addStretch()
        actions.addWidget(self.merge)
        actions.addWidget(self.hide_button)
        layout.addLayout(actions)

        self.grid = grid_view(TILE)
        self.grid.setModel(self.model)
        self.grid.doubleClicked.connect(self._open)
        self.grid.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.grid.customContextMenuRequested.connect(self._menu)
        self.grid.selectionModel().selectionChanged.connect(self._update_buttons)
        layout.addWidget(self.grid)
        delete = QShortcut(QKeySequence(Qt.Key.Key_Delete), self.grid)
        delete.activated.connect(self.reject_selected)
        context.changed.connect(reload_when_visible(self, self.reload))

    # ---- what is shown ------------------------------------------------------------------

    def show_person(self, person_id: int) -> None:
        self.person_id = person_id
        self.reload()
        self.grid.clearSelection()
        self.grid.scrollToTop()

    def show_unsorted(self) -> None:
        self.person_id = None
        self.reload()
        self.grid.clearSelection()

    def reload(self) -> None:
        self.model.ratio = self.devicePixelRatioF()
        with self.context.library.reader() as session:
            if self.person_id is None:
                faces = read.unsorted_faces(session)
                person = None
            else:
                person = read.person(session, self.person_id)
                faces = read.person_faces(session, self.person_id) if person else []
        if self.person_id is not None and person is None:
            self.back_requested.emit()  # merged away or undone
            return
        self.model.set_faces(faces)
        unsorted = self.person_id is None
        self.hidden = bool(person and person.hidden)
        if not (self.name.hasFocus() and self.name.isModified()):  # never a name being typed
            self.name.setText("Unsorted faces" if unsorted else (person.name or "") if person else "")
        self.name.setReadOnly(unsorted)
        suggested = sum(1 for f in faces if f.state == FaceState.SUGGESTED)
        text = describe(len(faces), "face")
        if suggested:
            text += f", {suggested} suggested"
        if self.hidden:
            text += " (hidden)"
        self.summary.setText(text)
        for widget in (self.confirm, self.confirm_all, self.reject, self.merge, self.hide_button):
            widget.setVisible(not unsorted)
        self.move_button.setText("Assign to..." if unsorted else "Move to...")
        self.confirm_all.setEnabled(suggested > 0)
        self.hide_button.setText("Show" if self.hidden else "Hide")
        self._update_buttons()

    def selected(self) -> list[int]:
        rows = sorted(i.row() for i in self.grid.selectionModel().selectedIndexes())
        return [self.model.face(r).id for r in rows]

    def _update_buttons(self) -> None:
        some = bool(self.selected())
        for button in (self.confirm, self.reject, self.move_button, self.ignore):
            button.setEnabled(some)

    # ---- decisions ----------------------------------------------------------------------

    def _rename(self) -> None:
        if self.person_id is None:
            return
        name = " ".join(self.name.text().split())
        with self.context.library.reader() as session:
            person = read.person(session, self.person_id)
            current = person.name if person else None
        self.name.setModified(False)  # what the field shows is the library's from now on
        if not name or name == current:
            self.name.setText(current or "")
            return
        self.context.decide(f"Name {name}", ops.rename, self.person_id, name)

    def rename(self) -> None:
        self.name.setFocus()
        self.name.selectAll()

    def confirm_selected(self) -> None:
        faces = self.selected()
        if faces:
            self.context.decide(f"Confirm {describe(len(faces), 'face')}", ops.confirm, faces)

    def confirm_suggestions(self) -> None:
        if self.person_id is not None:
            pid = self.person_id
            self.context.decide("Confirm all suggestions", ops.confirm_suggestions, pid)

    def reject_selected(self) -> None:
        faces = self.selected()
        if faces and self.person_id is not None:
            self.context.decide(f"Not this person: {describe(len(faces), 'face')}", ops.reject, faces)

    def ignore_selected(self) -> None:
        faces = self.selected()
        if faces:
            self.context.decide(f"Not a face: {describe(len(faces), 'face')}", ops.set_ignored, faces)

    def move_selected(self) -> None:
        faces = self.selected()
        if not faces:
            return
        exclude = {self.person_id} if self.person_id is not None else set()
        dialog = ChoosePerson(self.context, "Move to person", exclude=exclude, parent=self)
        if not dialog.exec() or dialog.chosen is None:
            return
        if dialog.chosen == NEW_PERSON:
            self.context.decide("Move to a new person", ops.create_person, faces, dialog.new_name)
        else:
            self.context.decide("Move faces", ops.move, faces, int(dialog.chosen))

    def merge_person(self) -> None:
        if self.person_id is None:
            return
        source = self.person_id
        dialog = ChoosePerson(self.context, "Merge this person into...", exclude={source},
                              allow_new=False, parent=self)
        if not dialog.exec() or dialog.chosen in (None, NEW_PERSON):
            return
        target = int(dialog.chosen)
        answer = QMessageBox.question(self, "Merge people",
                                      "Merge this person into the one you chose? (Edit > Undo takes "
                                      "it back.)")
        if answer == QMessageBox.StandardButton.Yes and self.context.decide("Merge people", ops.merge,
                                                                            source, target):
            self.person_opened.emit(target)

    def toggle_hidden(self) -> None:
        if self.person_id is not None:
            pid, hidden = self.person_id, not self.hidden
            self.context.decide("Hide person" if hidden else "Show person", ops.set_hidden, pid, hidden)

    # ---- navigation ---------------------------------------------------------------------

    def _open(self, index) -> None:
        face = self.model.face(index.row())
        self.photo_requested.emit(face.photo_id, face.id)

    def _menu(self, position: QPoint) -> None:
        index = self.grid.indexAt(position)
        if not index.isValid():
            return
        face = self.model.face(index.row())
        menu = QMenu(self)
        menu.addAction("Open photo", lambda: self.photo_requested.emit(face.photo_id, face.id))
        menu.addAction("Search by this face", lambda: self.search_requested.emit(face.id))
        menu.addSeparator()
        if self.person_id is not None:
            if face.state != FaceState.CONFIRMED:
                menu.addAction("Confirm", self.confirm_selected)
            menu.addAction("Not this person", self.reject_selected)
        menu.addAction("Move to..." if self.person_id is not None else "Assign to...",
                       self.move_selected)
        menu.addAction("Not a face", self.ignore_selected)
        menu.exec(self.grid.viewport().mapToGlobal(position))
