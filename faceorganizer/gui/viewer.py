"""The photo viewer: the photo fitted to the window, as a person sees it, with its faces
boxed and named. Clicking a face offers to name or assign it, open its person, search
by it, or mark it as not a face."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont, QPainter, QPen, QPixmap, QResizeEvent
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
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from faceorganizer.people import operations as ops
from faceorganizer.store import read
from faceorganizer.store.read import PhotoFace, PhotoSummary
from faceorganizer.store.states import FaceState

from .context import AppContext
from .dialogs import NEW_PERSON, ChoosePerson
from .lazy import reload_when_visible

DISPLAY = 2048  # long side of the picture shown
NAMED, SUGGESTED, UNKNOWN = QColor("#3cb371"), QColor("#e0a020"), QColor("#f5f5f5")


class _FaceBox(QGraphicsRectItem):
    def __init__(self, face: PhotoFace, on_click, highlight: bool) -> None:
        x1, y1, x2, y2 = face.face.box
        super().__init__(QRectF(x1, y1, x2 - x1, y2 - y1))
        self.face = face
        self.on_click = on_click
        color = (SUGGESTED if face.face.state == FaceState.SUGGESTED else
                 NAMED if face.name else UNKNOWN)
        pen = QPen(color, 4 if highlight else 2.5)
        pen.setCosmetic(True)
        self.setPen(pen)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setAcceptHoverEvents(True)
        self.setToolTip("Click for actions")

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
    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if self.scene() and not self.scene().sceneRect().isEmpty():
            self.fitInView(self.scene().sceneRect(), Qt.AspectRatioMode.KeepAspectRatio)


class ViewerPage(QWidget):
    back_requested = Signal()
    person_requested = Signal(int)
    search_requested = Signal(int)

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.photo: PhotoSummary | None = None
        self.faces: list[PhotoFace] = []
        self.highlight: int | None = None
        self.siblings: list[int] = []
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
        layout.addLayout(top)
        self.scene = QGraphicsScene(self)
        self.view = _View(self.scene, self)
        self.view.setRenderHints(QPainter.RenderHint.Antialiasing |
                                 QPainter.RenderHint.SmoothPixmapTransform)
        self.view.setBackgroundBrush(QBrush(QColor("#202020")))
        self.view.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.view.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        layout.addWidget(self.view, 1)
        context.thumbnails.ready.connect(self._picture_ready)
        context.changed.connect(reload_when_visible(self, self.reload))

    def show_photo(self, photo_id: int, face_id: int | None = None,
                   siblings: list[int] | None = None) -> None:
        self.highlight = face_id
        if siblings is not None:
            self.siblings = siblings
        with self.context.library.reader() as session:
            self.photo = read.photo(session, photo_id)
        self.reload()

    def step(self, direction: int) -> None:
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
            self.faces = read.photo_faces(session, self.photo.id) if self.photo else []
        if self.photo is None:
            self.back_requested.emit()
            return
        where = (self.siblings.index(self.photo.id) + 1) if self.photo.id in self.siblings else None
        count = f"  ({where} of {len(self.siblings)})" if where else ""
        status = "" if self.photo.status == "ok" else f" [{self.photo.status}]"
        self.title.setText(f"{self.photo.path}{status}{count}")
        self.previous.setEnabled(bool(where and where > 1))
        self.next.setEnabled(bool(where and where < len(self.siblings)))
        self._draw()

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
            box = _FaceBox(face, self._face_menu, face.face.id == self.highlight)
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
