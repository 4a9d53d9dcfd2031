"""What every part of the window shares: the open library, settings, thumbnails, the
face models, undo, and one signal that the library changed. Passed explicitly to the
pages; there is no global app object."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from PySide6.QtCore import QObject, QSettings, Signal
from PySide6.QtGui import QAction, QKeySequence, QUndoCommand, QUndoStack

from faceorganizer.errors import FaceorganizerError
from faceorganizer.models.base import Models
from faceorganizer.people.settings import PeopleSettings, load_settings, save_settings
from faceorganizer.people.undo import Change, Decision, redo, undo
from faceorganizer.settings import DETECTORS, ScanSettings
from faceorganizer.space import EmbeddingSpace
from faceorganizer.store import Library
from faceorganizer.store.records import library_space

from .thumbs import ThumbnailService

T = TypeVar("T")
P = ParamSpec("P")
ModelsFactory = Callable[[Callable[[str], None]], Models]
WRITE_NAMES = "write_names_after_decisions"  # the app setting (QSettings key), off by default


def real_models(device: str, library: Library, detector: str | None = None) -> ModelsFactory:
    """The face detector and FaceNet with the weights the library records (see ``reembed``)."""
    def make(progress: Callable[[str], None]) -> Models:
        from faceorganizer.models.loader import load_models
        from faceorganizer.reembed import library_weights

        weights = library_weights(library, progress=progress)
        return load_models(device, weights, workers=ScanSettings().workers, progress=progress,
                           detector=detector)
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
    """A decision on the undo stack. The library is written before the stack moves
    (``AppContext.step``), so that a write that fails leaves the stack as it was; moving
    the stack only reloads the views."""

    def __init__(self, context: AppContext, text: str, change: Change) -> None:
        super().__init__(text)
        self.context, self.change = context, change

    def redo(self) -> None:  # also when pushed, after the decision itself was written
        self.context.changed.emit()

    def undo(self) -> None:
        self.context.changed.emit()


class AppContext(QObject):
    changed = Signal()  # the library's content changed: views reload
    message = Signal(str)  # a status-bar message
    failed = Signal(str)  # a write to the library failed (locked, disk full...): what to show
    decided = Signal(object)  # a decision was made, undone or redone: its Change

    def __init__(self, library: Library, settings: QSettings, models: ModelsFactory | None = None,
                 thumbnails: ThumbnailService | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.library = library
        self.settings = settings
        self.thumbnails = thumbnails or ThumbnailService()
        self.thumbnails.setParent(self)  # Qt objects must go before the application does
        self.models = ModelProvider(models or real_models(self.device, library,
                                                          self.scan_settings().detector), self)
        self.models.message.connect(self.message)
        self.undo = QUndoStack(self)

    # ---- settings ----------------------------------------------------------------------

    @property
    def device(self) -> str:
        return str(self.settings.value("device", "auto"))

    @property
    def write_names_after_decisions(self) -> bool:
        """Whether the sidecars of the photos a naming decision concerns are rewritten after it."""
        return bool(self.settings.value(WRITE_NAMES, False, type=bool))

    def scan_settings(self) -> ScanSettings:
        stored = self.settings.value("min_face_size")
        detector = str(self.settings.value("detector", "") or "")
        return ScanSettings().with_overrides(min_face_size=int(stored) if stored else None,
                                             detector=detector if detector in DETECTORS else None)

    def people_settings(self) -> PeopleSettings:
        """The library's people settings, in the built-in distances (see ``people.settings``)."""
        return load_settings(self.library)

    def library_space(self) -> EmbeddingSpace | None:
        with self.library.reader() as session:
            return library_space(session)

    def save_people_settings(self, settings: PeopleSettings) -> None:
        save_settings(self.library, settings)

    # ---- decisions ---------------------------------------------------------------------

    def decide(self, text: str, operation: Decision[P, T], *args: P.args, **kwargs: P.kwargs) -> bool:
        """Run a decision (``people.operations``) on the library so that it can be undone (what
        it changed comes from the decision itself); views reload afterwards. Whether it was
        made: one the library refused is reported (``failed``) and not put on the undo stack."""
        changes: list[Change] = []
        if self.attempt(lambda: changes.append(operation.undoable(self.library, *args, **kwargs)[1])):
            self.undo.push(_Decision(self, text, changes[0]))  # its first redo reloads the views
            self.decided.emit(changes[0])
        return bool(changes)

    def step(self, forward: bool) -> bool:
        """Undo the last decision, or redo the next one: the library first, then the stack, so
        that a write the library refuses (reported) leaves both as they were."""
        index = self.undo.index()
        position = index if forward else index - 1
        if not 0 <= position < self.undo.count():
            return False
        command = self.undo.command(position)
        assert isinstance(command, _Decision)
        if not self.attempt(redo if forward else undo, self.library, command.change):
            return False
        self.undo.setIndex(index + 1 if forward else index - 1)
        self.decided.emit(command.change)
        return True

    def attempt(self, write: Callable[P, object], *args: P.args, **kwargs: P.kwargs) -> bool:
        """Run ``write``, a write to the library on the GUI thread; whether it succeeded. A
        :class:`FaceorganizerError` (the library is locked, the disk is full...) is reported
        with ``failed``, not raised: nothing of it was written, and the window goes on."""
        try:
            write(*args, **kwargs)
        except FaceorganizerError as exc:
            self.failed.emit(str(exc))
            return False
        return True

    def close(self) -> None:
        self.thumbnails.close()
        self.library.close()


class _HistoryAction(QAction):
    """Undo or Redo: enabled and named as the stack says, stepping through ``AppContext.step``
    (QUndoStack's own actions would move the stack before knowing whether the library could
    be written)."""

    def __init__(self, context: AppContext, forward: bool, parent: QObject) -> None:
        self.verb = "Redo" if forward else "Undo"
        super().__init__(f"&{self.verb}", parent)
        stack = context.undo
        keys = QKeySequence.StandardKey
        self.setShortcut(QKeySequence(keys.Redo if forward else keys.Undo))
        self.setEnabled(stack.canRedo() if forward else stack.canUndo())
        self.triggered.connect(lambda: context.step(forward))
        # connected to this action's own methods: the connections go with it (the stack stays)
        (stack.canRedoChanged if forward else stack.canUndoChanged).connect(self.setEnabled)
        (stack.redoTextChanged if forward else stack.undoTextChanged).connect(self.name)

    def name(self, text: str) -> None:
        self.setText(f"&{self.verb} {text}".rstrip())


def history_actions(context: AppContext, parent: QObject) -> tuple[QAction, QAction]:
    """Undo and Redo, for menus and toolbars."""
    return _HistoryAction(context, False, parent), _HistoryAction(context, True, parent)


def describe(count: int, word: str) -> str:
    return f"{count} {word}" + ("" if count == 1 else "s")

