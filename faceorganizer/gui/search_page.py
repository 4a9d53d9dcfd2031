"""Search by face: photos ranked by similarity to a face of the library or of an outside
photo, each with its distance; a threshold slider filters them live."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QSortFilterProxyModel, Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QSlider, QVBoxLayout, QWidget

from faceorganizer.people.recognition import embed_face, faces_in, pick_face
from faceorganizer.people.search import FaceIndex
from faceorganizer.store import read

from .context import AppContext
from .models import PhotoItem, PhotosModel
from .tiles import grid_view
from .worker import JobRunner

TILE = 150
WIDEST = 1.6  # results are fetched up to this distance; the slider filters below it


@dataclass(frozen=True)
class Results:
    query: str
    items: list[PhotoItem]


class _Within(QSortFilterProxyModel):
    def __init__(self) -> None:
        super().__init__()
        self.threshold = 1.13

    def set_threshold(self, threshold: float) -> None:
        self.beginFilterChange()
        self.threshold = threshold
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def filterAcceptsRow(self, row: int, parent: QModelIndex | QPersistentModelIndex) -> bool:
        item = self.sourceModel().item(row)  # type: ignore[attr-defined]
        return item.distance is None or item.distance < self.threshold


class SearchPage(QWidget):
    photo_requested = Signal(int, int, list)  # photo id, face id, the result photo ids
    search_started = Signal()
    search_finished = Signal()

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.runner: JobRunner | None = None
        layout = QVBoxLayout(self)
        top = QHBoxLayout()
        self.title = QLabel("<h2>Search by face</h2>")
        top.addWidget(self.title)
        top.addStretch()
        self.pick = QPushButton("Search with a photo...")
        top.addWidget(self.pick)
        layout.addLayout(top)
        self.query = QLabel("Start from a face: right-click one in a person's page or in the photo "
                            "viewer, or choose or drop a photo here.")
        self.query.setWordWrap(True)
        layout.addWidget(self.query)
        row = QHBoxLayout()
        row.addWidget(QLabel("Similarity threshold:"))
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(40, int(WIDEST * 100))
        self.slider.valueChanged.connect(self._threshold)
        row.addWidget(self.slider, 1)
        self.value = QLabel()
        row.addWidget(self.value)
        layout.addLayout(row)
        self.model = PhotosModel(context, TILE, self)
        self.proxy = _Within()
        self.proxy.setSourceModel(self.model)
        self.grid = grid_view(TILE)
        self.grid.setModel(self.proxy)
        self.grid.activated.connect(self._open)
        self.grid.doubleClicked.connect(self._open)
        layout.addWidget(self.grid, 1)
        shown = context.people_settings().in_space(context.library_space())
        self.slider.setValue(int(round(shown.verify_threshold * 100)))

    def _threshold(self, value: int) -> None:
        self.proxy.set_threshold(value / 100)
        self.value.setText(f"{value / 100:.2f}")
        self._count()

    def _count(self) -> None:
        if self.model.rowCount():
            self.title.setText(f"<h2>Search by face <small>({self.proxy.rowCount()} photos)</small></h2>")
        else:
            self.title.setText("<h2>Search by face</h2>")

    def search_face(self, face_id: int) -> None:
        library = self.context.library

        def job(cancel: threading.Event) -> Iterator[Results]:
            index = FaceIndex.load(library)
            yield _results(library, f"face #{face_id}", index, index.embedding_of(face_id))

        self._run(job, f"Photos like face #{face_id}...")

    def search_image(self, path: Path) -> None:
        library, models = self.context.library, self.context.models

        def job(cancel: threading.Event) -> Iterator[Results]:
            loaded = models.get()
            query = embed_face(loaded, pick_face(faces_in(path, loaded), path))
            yield _results(library, f"the largest face in {path.name}", FaceIndex.load(library), query)

        self._run(job, f"Looking for the faces of {path.name}...")

    def _run(self, job, text: str) -> None:
        """Start a search; the one before it, if still running, is abandoned: nothing more of
        it arrives (its results would replace these)."""
        for old in self.findChildren(JobRunner):
            if old is self.runner:
                old.abandon()
            elif not old.is_running():  # abandoned before and over by now
                old.deleteLater()
        self.query.setText(text)
        self.model.set_items([])
        runner = JobRunner(job, self)
        runner.occurred.connect(self._show)
        runner.failed.connect(self._failed)
        runner.finished.connect(self.search_finished)
        self.runner = runner
        self.search_started.emit()
        runner.start()

    def shutdown(self) -> None:
        """Stop every search and wait for them (the window is closing)."""
        for runner in self.findChildren(JobRunner):
            runner.abandon()
            runner.wait(60_000)

    def _show(self, results: Results) -> None:
        self.model.ratio = self.devicePixelRatioF()
        self.model.set_items(results.items)
        self.query.setText(f"Photos with a face like {results.query}, most alike first. Move the "
                           "slider to see fewer or more.")
        self._count()

    def _failed(self, message: str) -> None:
        self.query.setText(f"The search could not run: {message}")

    def _open(self, index: QModelIndex) -> None:
        item = self.model.item(self.proxy.mapToSource(index).row())
        shown = [self.model.item(self.proxy.mapToSource(self.proxy.index(r, 0)).row()).photo.id
                 for r in range(self.proxy.rowCount())]
        self.photo_requested.emit(item.photo.id, item.face or 0, shown)


def _results(library, query: str, index: FaceIndex, vector) -> Results:
    hits = index.search(vector, top=1000, threshold=WIDEST)
    with library.reader() as session:
        photos = read.photos_by_id(session, [hit.photo_id for hit in hits])
    return Results(query, [PhotoItem(photos[hit.photo_id], hit.distance, hit.face)
                           for hit in hits if hit.photo_id in photos])
