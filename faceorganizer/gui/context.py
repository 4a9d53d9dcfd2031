"""What every part of the window shares: the open library, settings, thumbnails, the
face models, undo, and one signal that the library changed. Passed explicitly to the
pages; there is no global app object."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from PySide6.QtCore import QObject, QSettings, Signal
from PySide6.QtGui import QUndoCommand, QUndoStack

from faceorganizer.models.base import Models
from faceorganizer.people.settings import PeopleSettings, load_settings, save_settings
from faceorganizer.people.undo import Change, Decision, redo, undo
from faceorganizer.settings import ScanSettings
from faceorganizer.space import EmbeddingSpace
from faceorganizer.store import Library
from faceorganizer.store.records import library_space

from .thumbs import ThumbnailService

T = TypeVar("T")
P = ParamSpec("P")
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
    """A decision on the undo stack: undo and redo write back what the decision changed."""

    def __init__(self, context: AppContext, text: str, change: Change) -> None:
        super().__init__(text)
        self.context, self.change = context, change
        self._done = True  # the operation itself was the first redo

    def redo(self) -> None:
        if self._done:
            self._done = False
            return
        redo(self.context.library, self.change)
        self.context.changed.emit()

    def undo(self) -> None:
        undo(self.context.library, self.change)
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
        """The library's people settings, in the built-in distances (see ``people.settings``)."""
        return load_settings(self.library)

    def library_space(self) -> EmbeddingSpace | None:
        with self.library.reader() as session:
            return library_space(session)

    def save_people_settings(self, settings: PeopleSettings) -> None:
        save_settings(self.library, settings)

    # ---- decisions ---------------------------------------------------------------------

    def decide(self, text: str, operation: Decision[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run a decision (``people.operations``) on the library so that it can be undone (what
        it changed comes from the decision itself); views reload afterwards."""
        result, change = operation.undoable(self.library, *args, **kwargs)
        self.undo.push(_Decision(self, text, change))
        self.changed.emit()
        return result

    def close(self) -> None:
        self.thumbnails.close()
        self.library.close()


def describe(count: int, word: str) -> str:
    return f"{count} {word}" + ("" if count == 1 else "s")

