"""Fixtures for the desktop app's tests: a folder of photos, a window on a fresh library, and
message boxes that fail the test unless it expects them (offscreen, a modal box would hang)."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image

from faceorganizer.models.base import Detection
from tests.fakes import FakeDetector, face_image, fake_models

SHADES = {"ann": 0, "bob": 120, "cat": 240}
BOXES = ("warning", "critical", "information", "question")


@pytest.fixture
def photo_folder(tmp_path: Path) -> Path:
    """Ann in 4 photos, Bob in 3 (one with Ann), Cat in 2, a stranger once, a broken file."""
    root = tmp_path / "photos"
    for i in range(4):
        face_image(root / f"ann{i}.jpg", [(40, 40, SHADES["ann"])])
    for i in range(2):
        face_image(root / "trip" / f"bob{i}.jpg", [(40, 40, SHADES["bob"])])
    face_image(root / "trip" / "ann-and-bob.jpg", [(20, 40, SHADES["ann"]), (200, 60, SHADES["bob"])])
    for i in range(2):
        face_image(root / f"cat{i}.png", [(100, 100, SHADES["cat"])], fmt="PNG")
    face_image(root / "stranger.jpg", [(60, 60, 60)])
    (root / "broken.jpg").write_bytes(b"not really a photo")
    return root


class GatedDetector(FakeDetector):
    """A fake detector that holds the photos ``gated`` picks (all by default) until ``release``
    is set; ``waiting`` is set when one is held."""

    def __init__(self, gated: Callable[[Image.Image], bool] = lambda image: True) -> None:
        super().__init__()
        self.gated = gated
        self.waiting = threading.Event()
        self.release = threading.Event()

    def detect(self, image: Image.Image, *, min_face_size: float) -> list[Detection]:
        if self.gated(image):
            self.waiting.set()
            assert self.release.wait(30)
        return super().detect(image, min_face_size=min_face_size)


@dataclass(frozen=True)
class Shown:
    """One message box: which static function showed it, its title and its text."""

    kind: str
    title: str
    text: str


class MessageBoxes:
    """Every QMessageBox a test showed. Unless the test asked for ``expect_message``, one is an
    error: it is raised where the box would have been shown, and the test fails at its end."""

    def __init__(self) -> None:
        self.shown: list[Shown] = []
        self.expected = False
        self.answer: object = None  # what a box returns when expected (None: Yes)

    def texts(self, kind: str | None = None) -> list[str]:
        return [box.text for box in self.shown if kind is None or box.kind == kind]

    def show(self, kind: str, title: str, text: str) -> object:
        from PySide6.QtWidgets import QMessageBox

        self.shown.append(Shown(kind, str(title), str(text)))
        if not self.expected:
            raise AssertionError(f"unexpected message box ({kind}) {title!r}: {text}")
        return QMessageBox.StandardButton.Yes if self.answer is None else self.answer


@pytest.fixture(autouse=True)
def message_boxes(monkeypatch: pytest.MonkeyPatch) -> Iterator[MessageBoxes]:
    """QMessageBox's static warning, critical, information and question, recorded. A test that
    monkeypatches one of them itself (``question`` answered Yes, say) keeps doing so."""
    from PySide6.QtWidgets import QMessageBox

    boxes = MessageBoxes()
    for kind in BOXES:
        monkeypatch.setattr(QMessageBox, kind, staticmethod(
            lambda parent, title, text, *args, _kind=kind, **kwargs: boxes.show(_kind, title, text)))
    yield boxes
    if not boxes.expected and boxes.shown:
        pytest.fail("unexpected message boxes: " + "; ".join(f"{b.title}: {b.text}" for b in boxes.shown),
                    pytrace=False)


@pytest.fixture
def expect_message(message_boxes: MessageBoxes) -> MessageBoxes:
    """For a test that expects message boxes: they are recorded (``.shown``, ``.texts()``) and
    answered with ``.answer`` (Yes unless set)."""
    message_boxes.expected = True
    return message_boxes


@pytest.fixture
def make_window(qtbot, tmp_path: Path):
    """Opens a main window on the library at ``tmp_path/library.sqlite`` (fake models);
    ``lock_timeout`` is how long a write waits for a lock another program holds."""
    from PySide6.QtCore import QSettings

    from faceorganizer.gui.context import AppContext
    from faceorganizer.gui.main_window import MainWindow
    from faceorganizer.gui.thumbs import ThumbnailService
    from faceorganizer.store import Library
    from faceorganizer.thumbnails import ThumbnailCache

    opened = []

    def make(models=None, *, lock_timeout: float | None = None):
        settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
        context = AppContext(Library(tmp_path / "library.sqlite", lock_timeout=lock_timeout), settings,
                             models=models or (lambda progress: fake_models()),
                             thumbnails=ThumbnailService(ThumbnailCache(tmp_path / "thumbs")))
        window = MainWindow(context, warm_up=False)
        qtbot.addWidget(window)
        window.show()
        opened.append(window)
        return window

    yield make
    for window in opened:
        window.close()
        window.context.close()


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """The library at ``path`` locked by another program (a write transaction held open)."""
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        yield
    finally:
        other.rollback()
        other.close()


def scan(qtbot, window, folder: Path) -> None:
    with qtbot.waitSignal(window.job_finished, timeout=120_000):
        window.start_scan([str(folder)])
