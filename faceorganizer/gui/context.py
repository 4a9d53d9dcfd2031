"""What every part of the window shares: the open library, settings, thumbnails, the
face models, undo, and one signal that the library changed. Passed explicitly to the
pages; there is no global app object."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import TypeVar

from PySide6.QtCore import QObject, QSettings, Signal
from PySide6.QtGui import QUndoCommand, QUndoStack

from faceorganizer.models.base import Models
from faceorganizer.people.settings import PeopleSettings, load_settings, save_settings
from faceorganizer.people.undo import Snapshot, capture, restore
from faceorganizer.settings import ScanSettings
from faceorganizer.store import Library

from .thumbs import ThumbnailService

T = TypeVar("T")
ModelsFactory = Callable[[Callable[[str], None]], Models]


def real_models(device: str, library: Library) -> ModelsFactory:
    """MTCNN and FaceNet with the weights the library records (see ``reembed``)."""
    def make(progress: Callable[[str], None]) -> Models:
        from faceorganizer.models.loader import load_models
        from faceorganizer.reembed import library_weights

        weights = library_weights(library, progress=progress)
        return load_models(device, weights, workers=ScanSettings().workers, progress=progress)
    return make


class ModelProvider(QObject):
    """The detector and embedder, loaded once on whichever worker thread needs them first."""

    message = Signal(str)

    def __init__(self, factory: ModelsFactory, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._factory = factory
        self._models: Models | None = None
        self._lock = threading.Lock()

    def get(self) -> Models:
        with self._lock:
            if self._models is None:
                self.message.emit("Loading the face models...")
                self._models = self._factory(self.message.emit)
                self.message.emit("Face models ready")
            return self._models

    def reset(self, factory: ModelsFactory | None = None) -> None:
        with self._lock:
            self._models = None
            if factory is not None:
                self._factory = factory


class _Decision(QUndoCommand):
    def __init__(self, context: AppContext, text: str, before: Snapshot, after: Snapshot) -> None:
        super().__init__(text)
        self.context, self.before, self.after = context, before, after
        self._done = True  # the operation itself was the first redo

    def redo(self) -> None:
        if self._done:
            self._done = False
            return
        restore(self.context.library, self.after)
        self.context.changed.emit()

    def undo(self) -> None:
        restore(self.context.library, self.before)
        self.context.changed.emit()


class AppContext(QObject):
    changed = Signal()  # the library's content changed: views reload
    message = Signal(str)  # a status-bar message

    def __init__(self, library: Library, settings: QSettings, models: ModelsFactory | None = None,
                 thumbnails: ThumbnailService | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.library = library
        self.settings = settings
        self.thumbnails = thumbnails or ThumbnailService()
        self.thumbnails.setParent(self)  # Qt objects must go before the application does
        self.models = ModelProvider(models or real_models(self.device, library), self)
        self.models.message.connect(self.message)
        self.undo = QUndoStack(self)

    # ---- settings ----------------------------------------------------------------------

    @property
    def device(self) -> str:
        return str(self.settings.value("device", "auto"))

    def scan_settings(self) -> ScanSettings:
        stored = self.settings.value("min_face_size")
        return ScanSettings().with_overrides(min_face_size=int(stored) if stored else None)

    def people_settings(self) -> PeopleSettings:
        return load_settings(self.library)

    def save_people_settings(self, settings: PeopleSettings) -> None:
        save_settings(self.library, settings)

    # ---- decisions ---------------------------------------------------------------------

    def decide(self, text: str, operation: Callable[[], T], *, faces: Iterable[int] = (),
               people: Iterable[int] = ()) -> T:
        """Run a people operation so that it can be undone; views reload afterwards."""
        faces, people = list(faces), list(people)
        before = capture(self.library, faces=faces, people=people)
        result = operation()
        after = capture(self.library, faces=faces, people=[p for p in people if p is not None])
        self.undo.push(_Decision(self, text, before, after))
        self.changed.emit()
        return result

    def close(self) -> None:
        self.thumbnails.close()
        self.library.close()


def describe(count: int, word: str) -> str:
    return f"{count} {word}" + ("" if count == 1 else "s")

