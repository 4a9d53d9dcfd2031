"""Item models behind the grids: people, faces and photos, with lazy thumbnails."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QAbstractListModel, QModelIndex, QObject, QPersistentModelIndex, Qt, QTimer

from faceorganizer.store import read
from faceorganizer.store.read import FaceSummary, PersonSummary, PhotoSummary
from faceorganizer.store.states import FaceState, PersonState, PhotoStatus

from .context import AppContext

ID = Qt.ItemDataRole.UserRole + 1
SUBTITLE = Qt.ItemDataRole.UserRole + 2
BADGE = Qt.ItemDataRole.UserRole + 3  # a count to show in a corner (waiting suggestions)
STATE = Qt.ItemDataRole.UserRole + 4  # "suggested" faces are drawn apart
PHOTO_ID = Qt.ItemDataRole.UserRole + 5
DIMMED = Qt.ItemDataRole.UserRole + 6  # hidden people, missing photos
ROUND = Qt.ItemDataRole.UserRole + 7  # faces are drawn round, photos square

Index = QModelIndex | QPersistentModelIndex


class _ThumbnailModel(QAbstractListModel):
    """Rows whose decoration is a thumbnail; repaints (at most every 60 ms) as they arrive."""

    def __init__(self, context: AppContext, size: int, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.size = size
        self.ratio = 1.0
        self._repaint = QTimer(self, singleShot=True, interval=60)
        self._repaint.timeout.connect(self._refresh_decorations)
        context.thumbnails.ready.connect(lambda _key: self._repaint.start()
                                         if not self._repaint.isActive() else None)

    def _refresh_decorations(self) -> None:
        if self.rowCount():
            self.dataChanged.emit(self.index(0), self.index(self.rowCount() - 1),
                                  [Qt.ItemDataRole.DecorationRole])


def _date(face_or_photo: Any) -> str:
    taken = face_or_photo.taken_at
    return taken.strftime("%d %b %Y") if taken else ""


class PeopleModel(_ThumbnailModel):
    """People tiles: unnamed people with the most faces first (quick to review), then named
    ones by name. ``mode``: None for everyone shown (not hidden), or one ``PersonState``."""

    def __init__(self, context: AppContext, size: int = 128, parent: QObject | None = None) -> None:
        super().__init__(context, size, parent)
        self.mode: PersonState | None = None
        self._all: list[PersonSummary] = []
        self._rows: list[PersonSummary] = []
        self.unsorted = 0

    def reload(self) -> None:
        with self.context.library.reader() as session:
            self._all = read.people(session)
            self.unsorted = read.counts(session).unsorted
        self._apply()

    @property
    def everyone(self) -> list[PersonSummary]:
        """All people with faces, whatever the filter."""
        return self._all

    def set_mode(self, mode: PersonState | None) -> None:
        self.mode = mode
        self._apply()

    def _apply(self) -> None:
        rows = [p for p in self._all
                if (p.state != PersonState.HIDDEN if self.mode is None else p.state == self.mode)]
        rows.sort(key=lambda p: (p.name is not None, -p.faces if p.name is None else 0,
                                 (p.name or "").casefold(), p.id))
        self.beginResetModel()
        self._rows = rows
        self.endResetModel()

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def person(self, row: int) -> PersonSummary:
        return self._rows[row]

    def row_of(self, person_id: int) -> int | None:
        return next((i for i, p in enumerate(self._rows) if p.id == person_id), None)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        p = self._rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return p.name or "Unnamed"
        if role == SUBTITLE:
            return f"{p.faces} face" + ("" if p.faces == 1 else "s")
        if role == Qt.ItemDataRole.DecorationRole and p.cover is not None:
            return self.context.thumbnails.face(p.cover, self.size, self.ratio)
        if role == BADGE:
            return p.suggestions or None
        if role == ID:
            return p.id
        if role == DIMMED:
            return p.hidden
        if role == ROUND:
            return True
        if role == Qt.ItemDataRole.ToolTipRole:
            waiting = f", {p.suggestions} suggestions to review" if p.suggestions else ""
            return f"{p.name or 'Unnamed person'}: {p.faces} faces{waiting}"
        return None

    def flags(self, index: Index) -> Qt.ItemFlag:
        base = super().flags(index)
        if index.isValid():
            return base | Qt.ItemFlag.ItemIsDragEnabled | Qt.ItemFlag.ItemIsDropEnabled
        return base


class FacesModel(_ThumbnailModel):
    """A person's faces (suggestions first) or the unsorted ones."""

    def __init__(self, context: AppContext, size: int = 112, parent: QObject | None = None) -> None:
        super().__init__(context, size, parent)
        self._rows: list[FaceSummary] = []

    def set_faces(self, faces: Sequence[FaceSummary]) -> None:
        self.beginResetModel()
        self._rows = list(faces)
        self.endResetModel()

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def face(self, row: int) -> FaceSummary:
        return self._rows[row]

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        f = self._rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return _date(f) or os.path.basename(f.photo)
        if role == SUBTITLE:
            return "Suggested" if f.state == FaceState.SUGGESTED else ""
        if role == Qt.ItemDataRole.DecorationRole:
            return self.context.thumbnails.face(f, self.size, self.ratio)
        if role == STATE:
            return f.state.value
        if role == ID:
            return f.id
        if role == PHOTO_ID:
            return f.photo_id
        if role == ROUND:
            return True
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"{f.photo}\n{_date(f)}"
        return None


@dataclass(frozen=True)
class PhotoItem:
    photo: PhotoSummary
    distance: float | None = None
    face: int | None = None


class PhotosModel(_ThumbnailModel):
    """Photos of a folder, or search results with their distance."""

    def __init__(self, context: AppContext, size: int = 160, parent: QObject | None = None) -> None:
        super().__init__(context, size, parent)
        self._rows: list[PhotoItem] = []

    def set_items(self, items: Sequence[PhotoItem]) -> None:
        self.beginResetModel()
        self._rows = list(items)
        self.endResetModel()

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def item(self, row: int) -> PhotoItem:
        return self._rows[row]

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        item = self._rows[index.row()]
        photo = item.photo
        if role == Qt.ItemDataRole.DisplayRole:
            return os.path.basename(photo.path)
        if role == SUBTITLE:
            if item.distance is not None:
                return f"distance {item.distance:.2f}"
            if photo.status != "ok":
                return photo.status
            faces = f"{photo.faces} face" + ("" if photo.faces == 1 else "s") if photo.faces else ""
            return " \u00b7 ".join(x for x in (_date(photo), faces) if x)
        if role == Qt.ItemDataRole.DecorationRole and photo.status != PhotoStatus.FAILED:
            return self.context.thumbnails.photo(photo.path, self.size, self.ratio)
        if role == ID:
            return photo.id
        if role == DIMMED:
            return photo.status != "ok"
        if role == Qt.ItemDataRole.ToolTipRole:
            detail = f"\n{photo.error}" if photo.error else ""
            return f"{photo.path}\n{photo.status}{detail}"
        return None
