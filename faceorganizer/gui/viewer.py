"""The photo viewer: the photo fitted to the window, as a person sees it, with its faces
boxed and named. Clicking a face offers to name or assign it, open its person, search
by it, or mark it as not a face. A face the detector missed can be added by drawing a box
around it ("Add a missed face", or Shift+drag on the photo); what was wrong with the face
regions in the photo's own files (XMP) is said under it."""

from __future__ import annotations

from PySide6.QtCore import QPoint, QPointF, QRect, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QBrush,
    QColor,
    QContextMenuEvent,
    QFont,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPen,
    QPixmap,
    QResizeEvent,
)
from PySide6.QtWidgets import (
    QGraphicsItem,
    QGraphicsPixmapItem,
    QGraphicsRectItem,
    QGraphicsScene,
    QGraphicsSceneMouseEvent,
    QGraphicsSimpleTextItem,
    QGraphicsView,
    QHBoxLayout,
    QLabel,
    QMenu,
    QMessageBox,
    QRubberBand,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from faceorganizer.people import operations as ops
from faceorganizer.people.operations import clean_name
from faceorganizer.store import read
from faceorganizer.store.read import PhotoFace, PhotoSummary
from faceorganizer.store.states import FaceOrigin, FaceState

from . import tasks
from .context import AppContext
from .dialogs import NEW_PERSON, ChoosePerson, NameFaceDialog
from .lazy import reload_when_visible
from .worker import JobRunner

DISPLAY = 2048  # long side of the picture shown
NAMED, SUGGESTED, UNKNOWN = QColor("#3cb371"), QColor("#e0a020"), QColor("#f5f5f5")
CLICK = 4  # a drag shorter than this (screen pixels, both ways) is a click, not a box
DRAW_TIP = ("Draw a box around a face that was not found: drag on the photo (Shift+drag works at "
            "any time). Esc cancels.")
ORIGIN_TIPS = {FaceOrigin.DRAWN: "Drawn by you. ", FaceOrigin.FILE: "From the photo's own file (XMP). "}


class _FaceBox(QGraphicsRectItem):
    def __init__(self, face: PhotoFace, on_click, highlight: bool,
                 origin: FaceOrigin = FaceOrigin.DETECTED) -> None:
        x1, y1, x2, y2 = face.face.box
        super().__init__(QRectF(x1, y1, x2 - x1, y2 - y1))
        self.face = face
        self.origin = origin
        self.on_click = on_click
        color = (SUGGESTED if face.face.state == FaceState.SUGGESTED else
                 NAMED if face.name else UNKNOWN)
        pen = QPen(color, 4 if highlight else 2.5)
        pen.setCosmetic(True)
        if origin == FaceOrigin.DRAWN:
            pen.setStyle(Qt.PenStyle.DashLine)
        self.setPen(pen)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setAcceptHoverEvents(True)
        self.setToolTip(ORIGIN_TIPS.get(origin, "") + "Click for actions")

    def mousePressEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        self.on_click(self.face, event.screenPos())


class _Label(QGraphicsSimpleTextItem):
    """A name under a face box, on a dark plate, the same size whatever the zoom."""

    def __init__(self, text: str, color: QColor, where: QPointF) -> None:
        super().__init__(text)
        font = QFont()
        font.setBold(True)
        self.setFont(font)
        self.setBrush(QBrush(QColor("white")))
        self.color = color
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIgnoresTransformations)
        self.setPos(where)

    def paint(self, painter: QPainter, option, widget=None) -> None:
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QBrush(self.color.darker(150)))
        painter.drawRoundedRect(self.boundingRect().adjusted(-4, -1, 4, 1), 4, 4)
        super().paint(painter, option, widget)


class _View(QGraphicsView):
    """The photo, fitted. In drawing mode (or with Shift held), a left drag draws a box
    (a rubber band) instead of clicking faces; releasing it gives the box in the scene's
    coordinates, the displayed photo's pixels, wherever the photo is scaled and letterboxed."""

    drawn = Signal(QRectF)  # a box drawn, in photo pixels (may reach outside the photo)
    cancelled = Signal()  # drawing stopped with Esc
    background_menu = Signal(QPoint)  # a right click off the faces: where (global)

    def __init__(self, scene: QGraphicsScene, parent: QWidget | None = None) -> None:
        super().__init__(scene, parent)
        self.drawing = False  # the next drag draws a box
        self._origin: QPointF | None = None  # where the drag being drawn started (viewport)
        self.band = QRubberBand(QRubberBand.Shape.Rectangle, self.viewport())

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if self.scene() and not self.scene().sceneRect().isEmpty():
            self.fitInView(self.scene().sceneRect(), Qt.AspectRatioMode.KeepAspectRatio)

    def set_drawing(self, on: bool) -> None:
        self.drawing = on
        if on:
            self.viewport().setCursor(Qt.CursorShape.CrossCursor)
        else:
            self.viewport().unsetCursor()
            self._stop()

    @property
    def dragging(self) -> bool:
        return self._origin is not None

    def to_photo(self, point: QPointF) -> QPointF:
        """A point of the viewport in the displayed photo's pixels (the scene's coordinates)."""
        inverse, _ = self.viewportTransform().inverted()
        return inverse.map(point)

    def _band_rect(self, end: QPointF) -> QRect:
        assert self._origin is not None
        return QRectF(self._origin, end).normalized().toRect()

    def _stop(self) -> None:
        self._origin = None
        self.band.hide()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        shift = bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier)
        if event.button() == Qt.MouseButton.LeftButton and (self.drawing or shift) and \
                not self.sceneRect().isEmpty():
            self._origin = event.position()
            self.band.setGeometry(QRect(self._origin.toPoint(), QSize()))
            self.band.show()
            self.setFocus()
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._origin is not None:
            self.band.setGeometry(self._band_rect(event.position()))
            event.accept()
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if self._origin is None or event.button() != Qt.MouseButton.LeftButton:
            super().mouseReleaseEvent(event)
            return
        start, end = self._origin, event.position()
        self._stop()
        event.accept()
        if abs(end.x() - start.x()) < CLICK and abs(end.y() - start.y()) < CLICK:
            return  # a click: still drawing, nothing drawn
        self.drawn.emit(QRectF(self.to_photo(start), self.to_photo(end)).normalized())

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Escape and (self.drawing or self.dragging):
            self.set_drawing(False)
            self.cancelled.emit()
            event.accept()
            return
        super().keyPressEvent(event)

    def contextMenuEvent(self, event: QContextMenuEvent) -> None:
        if any(isinstance(item, _FaceBox) for item in self.items(event.pos())) or self.dragging:
            return  # a face's own menu (opened on the press)
        self.background_menu.emit(event.globalPos())
        event.accept()


class ViewerPage(QWidget):
    back_requested = Signal()
    person_requested = Signal(int)
    search_requested = Signal(int)
    regroup_requested = Signal()  # a face was added: group it (if the faces changed)

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.photo: PhotoSummary | None = None
        self.faces: list[PhotoFace] = []
        self.origins: dict[int, FaceOrigin] = {}
        self.warning: str | None = None
        self.highlight: int | None = None
        self.siblings: list[int] = []
        self.runner: JobRunner | None = None  # adding a drawn face
        self.name_dialog: NameFaceDialog | None = None  # asking who a drawn face is
        layout = QVBoxLayout(self)
        top = QHBoxLayout()
        back = QToolButton()
        back.setText("\u2190 Back")
        back.clicked.connect(self.back_requested)
        top.addWidget(back)
        self.previous = QToolButton()
        self.previous.setText("\u25c0")
        self.previous.setToolTip("Previous photo (Left)")
        self.previous.clicked.connect(lambda: self.step(-1))
        self.next = QToolButton()
        self.next.setText("\u25b6")
        self.next.setToolTip("Next photo (Right)")
        self.next.clicked.connect(lambda: self.step(1))
        top.addWidget(self.previous)
        top.addWidget(self.next)
        self.title = QLabel()
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        top.addWidget(self.title, 1)
        self.hint = QLabel()  # what drawing expects, or that a face is being added
        self.hint.setVisible(False)
        top.addWidget(self.hint)
        self.add_button = QToolButton()
        self.add_button.setText("Add a missed face")
        self.add_button.setCheckable(True)
        self.add_button.setToolTip(DRAW_TIP)
        self.add_button.toggled.connect(self.set_drawing)
        top.addWidget(self.add_button)
        layout.addLayout(top)
        self.scene = QGraphicsScene(self)
        self.view = _View(self.scene, self)
        self.view.setRenderHints(QPainter.RenderHint.Antialiasing |
                                 QPainter.RenderHint.SmoothPixmapTransform)
        self.view.setBackgroundBrush(QBrush(QColor("#202020")))
        self.view.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.view.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.view.drawn.connect(self._drawn)
        self.view.cancelled.connect(lambda: self.set_drawing(False))
        self.view.background_menu.connect(self._background_menu)
        layout.addWidget(self.view, 1)
        self.notice = QLabel()  # what was wrong with the photo's face regions (XMP)
        self.notice.setWordWrap(True)
        self.notice.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.notice.setStyleSheet("QLabel { color: #b07800; }")
        self.notice.setVisible(False)
        layout.addWidget(self.notice)
        context.thumbnails.ready.connect(self._picture_ready)
        context.changed.connect(reload_when_visible(self, self.reload))

    def show_photo(self, photo_id: int, face_id: int | None = None,
                   siblings: list[int] | None = None) -> None:
        self.highlight = face_id
        self.set_drawing(False)
        if siblings is not None:
            self.siblings = siblings
        with self.context.library.reader() as session:
            self.photo = read.photo(session, photo_id)
        self.reload()

    def step(self, direction: int) -> None:
        if self.view.dragging:
            return
        if self.photo is None or self.photo.id not in self.siblings:
            return
        position = self.siblings.index(self.photo.id) + direction
        if 0 <= position < len(self.siblings):
            self.show_photo(self.siblings[position])

    def reload(self) -> None:
        if self.photo is None:
            return
        with self.context.library.reader() as session:
            self.photo = read.photo(session, self.photo.id)
            if self.photo is not None:
                self.faces = read.photo_faces(session, self.photo.id)
                self.origins = read.face_origins(session, self.photo.id)
                self.warning = read.photo_warning(session, self.photo.id)
        if self.photo is None:
            self.back_requested.emit()
            return
        where = (self.siblings.index(self.photo.id) + 1) if self.photo.id in self.siblings else None
        count = f"  ({where} of {len(self.siblings)})" if where else ""
        status = "" if self.photo.status == "ok" else f" [{self.photo.status}]"
        self.title.setText(f"{self.photo.path}{status}{count}")
        self.previous.setEnabled(bool(where and where > 1))
        self.next.setEnabled(bool(where and where < len(self.siblings)))
        self._show_warning()
        self._update_drawing()
        self._draw()

    def _show_warning(self) -> None:
        lines = [line for line in (self.warning or "").splitlines() if line.strip()]
        self.notice.setVisible(bool(lines))
        if lines:
            said = lines[0] if len(lines) == 1 else "; ".join(lines)
            self.notice.setText(f"\u26a0 The face regions in this photo's file (XMP) were not all "
                                f"used: {said}")
            self.notice.setToolTip("\n".join(lines))

    def _pixmap(self) -> QPixmap | None:
        if self.photo is None:
            return None
        return self.context.thumbnails.photo(self.photo.path, DISPLAY)

    def _picture_ready(self, key: str) -> None:
        if self.photo is not None and key == f"photo:{self.photo.path}:{DISPLAY}":
            self._draw()

    def _draw(self) -> None:
        self.scene.clear()
        photo = self.photo
        if photo is None:
            return
        pixmap = self._pixmap()
        width, height = photo.width or 0, photo.height or 0
        if pixmap is None or pixmap.isNull():
            message = "The photo cannot be shown" if (
                self.context.thumbnails.failed(f"photo:{photo.path}:{DISPLAY}") or photo.status != "ok"
            ) else "Loading..."
            notice = self.scene.addSimpleText(message)
            notice.setBrush(QBrush(QColor("white")))
            self.scene.setSceneRect(notice.boundingRect().adjusted(-200, -150, 200, 150))
            return
        if not width or not height:
            width, height = pixmap.width(), pixmap.height()
        picture = QGraphicsPixmapItem(pixmap)
        picture.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
        picture.setScale(width / pixmap.width())  # the scene is in photo pixels, like the boxes
        self.scene.addItem(picture)
        for face in self.faces:
            box = _FaceBox(face, self._face_menu, face.face.id == self.highlight,
                           self.origins.get(face.face.id, FaceOrigin.DETECTED))
            self.scene.addItem(box)
            text = face.name or ("?" if face.face.state == FaceState.SUGGESTED else "")
            if text:
                self.scene.addItem(_Label(text, NAMED if face.name else SUGGESTED,
                                          QPointF(face.face.box[0], face.face.box[3])))
        self.scene.setSceneRect(QRectF(0, 0, width, height))
        self.view.fitInView(self.scene.sceneRect(), Qt.AspectRatioMode.KeepAspectRatio)

    def _face_menu(self, face: PhotoFace, where) -> None:
        menu = QMenu(self)
        summary = face.face
        menu.addAction("Name or assign...", lambda: self.assign(summary.id))
        person_id = summary.person_id
        if person_id is not None:
            menu.addAction(f"Open {face.name or 'this person'}",
                           lambda: self.person_requested.emit(person_id))
            if summary.state == FaceState.SUGGESTED:
                menu.addAction("Confirm", lambda: self.context.decide("Confirm face", ops.confirm,
                                                                      [summary.id]))
        menu.addAction("Search by this face", lambda: self.search_requested.emit(summary.id))
        menu.addSeparator()
        menu.addAction("Not a face", lambda: self.context.decide("Not a face", ops.set_ignored, [summary.id]))
        menu.exec(where)

    def assign(self, face_id: int) -> None:
        dialog = ChoosePerson(self.context, "Who is this?", parent=self)
        if not dialog.exec() or dialog.chosen is None:
            return
        if dialog.chosen == NEW_PERSON:
            self.context.decide("Name a face", ops.create_person, [face_id], dialog.new_name)
        else:
            self.context.decide("Assign a face", ops.move, [face_id], int(dialog.chosen))

    # ---- drawing a face the detector missed -------------------------------------------

    def _can_draw(self) -> bool:
        return (self.photo is not None and self.photo.status == "ok" and self.runner is None
                and not self.scene.sceneRect().isEmpty() and any(
                    isinstance(item, QGraphicsPixmapItem) for item in self.scene.items()))

    def _update_drawing(self) -> None:
        can = self.photo is not None and self.photo.status == "ok" and self.runner is None
        self.add_button.setEnabled(can)
        if not can and self.view.drawing:
            self.set_drawing(False)

    def set_drawing(self, on: bool) -> None:
        """Start (or stop) drawing a box around a face: the next drag on the photo draws it."""
        on = on and self.photo is not None and self.photo.status == "ok" and self.runner is None
        self.view.set_drawing(on)
        if self.add_button.isChecked() != on:
            self.add_button.blockSignals(True)
            self.add_button.setChecked(on)
            self.add_button.blockSignals(False)
        if self.runner is None:
            self.hint.setVisible(on)
            self.hint.setText("Drag a box around the face. Esc cancels.")
        if on:
            self.view.setFocus()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Escape and (self.view.drawing or self.view.dragging):
            self.set_drawing(False)
            event.accept()
            return
        super().keyPressEvent(event)

    def _background_menu(self, where: QPoint) -> None:
        menu = QMenu(self)
        action = menu.addAction("Add a missed face here...", lambda: self.set_drawing(True))
        action.setEnabled(self._can_draw())
        action.setToolTip(DRAW_TIP)
        menu.exec(where)

    def _drawn(self, rect: QRectF) -> None:
        """A box was drawn: add it as a face in the background (cutting and embedding it may
        take a moment; the models may still have to load)."""
        self.set_drawing(False)
        if not self._can_draw() or self.photo is None:
            return
        box = (rect.left(), rect.top(), rect.right(), rect.bottom())
        runner = JobRunner(tasks.add_face(self.context, self.photo.id, box), self)
        runner.occurred.connect(self._added)
        runner.failed.connect(lambda message: QMessageBox.warning(self, "The face cannot be added",
                                                                  message))
        runner.finished.connect(self._adding_over)
        self.runner = runner
        self.hint.setText("Adding the face...")
        self.hint.setVisible(True)
        self._update_drawing()
        runner.start()

    def _adding_over(self) -> None:
        if self.runner is not None:
            self.runner.deleteLater()
        self.runner = None
        if self.name_dialog is None:
            self.hint.setVisible(False)
        self._update_drawing()

    def _added(self, event: object) -> None:
        if isinstance(event, tasks.FaceNotAdded):
            QMessageBox.warning(self, "The face cannot be added", event.message)
            return
        if not isinstance(event, tasks.FaceAdded):
            return
        self.highlight = event.face_id
        self.context.changed.emit()  # the new box appears here, the other pages are stale
        self.hint.setText("Who is this? Name the new face, or skip.")
        with self.context.library.reader() as session:
            added = read.face(session, event.face_id)
        dialog = NameFaceDialog(self.context, added, parent=self)
        dialog.finished.connect(lambda result: self._named(event.face_id, dialog, result))
        self.name_dialog = dialog
        dialog.open()

    def _named(self, face_id: int, dialog: NameFaceDialog, result: int) -> None:
        self.name_dialog = None
        dialog.deleteLater()
        self.hint.setVisible(False)
        if result and dialog.name:
            self.name_face(face_id, dialog.name)
        self.regroup_requested.emit()

    def name_face(self, face_id: int, name: str) -> bool:
        """Give a face to the person of this name (a new one if there is none), confirmed, as
        one decision Undo takes back (``operations.name_face``, on the undo stack)."""
        cleaned = clean_name(name)
        if not cleaned:
            return False
        return self.context.decide(f"Name the new face {cleaned}", ops.name_face, face_id, cleaned)

    def shutdown(self) -> None:
        """Stop adding a face and wait for it (the window is closing)."""
        if self.runner is not None:
            self.runner.abandon()
            self.runner.wait(60_000)
