"""Drawing a tile of a grid: a thumbnail (round for faces), a title and a subtitle.
Suggestions are drawn apart (a dashed amber ring and a question mark), people with
suggestions waiting get an amber count in the corner, hidden people and missing
photos are dimmed."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, QRectF, QSize, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QPainter, QPainterPath, QPalette, QPen, QPixmap
from PySide6.QtWidgets import QListView, QStyle, QStyledItemDelegate, QStyleOptionViewItem

from .models import BADGE, DIMMED, ROUND, STATE, SUBTITLE

AMBER = QColor("#e0a020")
PADDING = 6


class TileDelegate(QStyledItemDelegate):
    def __init__(self, size: int, parent: QListView | None = None) -> None:
        super().__init__(parent)
        self.size = size

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> QSize:
        line = option.fontMetrics.height()
        return QSize(self.size + 2 * PADDING, self.size + 2 * PADDING + 2 * line + 4)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem,
              index: QModelIndex | QPersistentModelIndex) -> None:
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        palette = option.palette
        rect = option.rect
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        if selected:
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(palette.color(QPalette.ColorRole.Highlight).lighter(160))
            painter.drawRoundedRect(QRectF(rect).adjusted(1, 1, -1, -1), 8, 8)
        picture = QRect(rect.x() + (rect.width() - self.size) // 2, rect.y() + PADDING,
                        self.size, self.size)
        round_ = bool(index.data(ROUND))
        clip = QPainterPath()
        if round_:
            clip.addEllipse(QRectF(picture))
        else:
            clip.addRoundedRect(QRectF(picture), 6, 6)
        pixmap = index.data(Qt.ItemDataRole.DecorationRole)
        painter.save()
        painter.setClipPath(clip)
        if isinstance(pixmap, QPixmap) and not pixmap.isNull():
            painter.drawPixmap(picture, pixmap, _centre_square(pixmap))
        else:
            painter.fillRect(picture, palette.color(QPalette.ColorRole.Mid))
        if index.data(DIMMED):
            painter.fillRect(picture, QColor(255, 255, 255, 150))
        painter.restore()
        if index.data(STATE) == "suggested":
            painter.setPen(QPen(AMBER, 3, Qt.PenStyle.DashLine))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawEllipse(QRectF(picture).adjusted(1.5, 1.5, -1.5, -1.5))
            self._badge(painter, picture, "?")
        badge = index.data(BADGE)
        if badge:
            self._badge(painter, picture, str(badge))
        line = option.fontMetrics.height()
        text = QRect(rect.x() + 2, picture.bottom() + 4, rect.width() - 4, line)
        title = QFont(option.font)
        title.setBold(True)
        painter.setFont(title)
        painter.setPen(palette.color(QPalette.ColorRole.Text))
        metrics = painter.fontMetrics()
        painter.drawText(text, Qt.AlignmentFlag.AlignHCenter,
                         metrics.elidedText(str(index.data() or ""), Qt.TextElideMode.ElideRight,
                                            text.width()))
        subtitle = index.data(SUBTITLE)
        if subtitle:
            painter.setFont(option.font)
            painter.setPen(AMBER.darker(130) if index.data(STATE) == "suggested"
                           else palette.color(QPalette.ColorRole.PlaceholderText))
            painter.drawText(text.translated(0, line), Qt.AlignmentFlag.AlignHCenter,
                             option.fontMetrics.elidedText(str(subtitle), Qt.TextElideMode.ElideRight,
                                                           text.width()))
        painter.restore()

    @staticmethod
    def _badge(painter: QPainter, picture: QRect, text: str) -> None:
        metrics = painter.fontMetrics()
        height = metrics.height() + 4
        width = max(height, metrics.horizontalAdvance(text) + 10)
        badge = QRectF(picture.right() - width + 2, picture.top() - 2, width, height)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QBrush(AMBER))
        painter.drawRoundedRect(badge, height / 2, height / 2)
        font = QFont(painter.font())
        font.setBold(True)
        painter.setFont(font)
        painter.setPen(QColor("white"))
        painter.drawText(badge, Qt.AlignmentFlag.AlignCenter, text)


def _centre_square(pixmap: QPixmap) -> QRect:
    """The middle square of a picture (in its pixels), to fill a square tile without stretching."""
    width, height = pixmap.width(), pixmap.height()
    side = min(width, height)
    return QRect((width - side) // 2, (height - side) // 2, side, side)


def grid_view(size: int, view: QListView | None = None) -> QListView:
    """A list view (a new one, or ``view``) set up as a grid of tiles."""
    view = view if view is not None else QListView()
    view.setViewMode(QListView.ViewMode.IconMode)
    view.setResizeMode(QListView.ResizeMode.Adjust)
    view.setMovement(QListView.Movement.Static)
    view.setUniformItemSizes(True)
    view.setSpacing(4)
    view.setWordWrap(False)
    view.setSelectionMode(QListView.SelectionMode.ExtendedSelection)
    view.setItemDelegate(TileDelegate(size, view))
    view.setVerticalScrollMode(QListView.ScrollMode.ScrollPerPixel)
    view.verticalScrollBar().setSingleStep(24)
    return view
