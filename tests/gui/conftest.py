"""Fixtures for the desktop app's tests: a folder of photos, a window on a fresh library."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fakes import face_image, fake_models

SHADES = {"ann": 0, "bob": 120, "cat": 240}


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


@pytest.fixture
def make_window(qtbot, tmp_path: Path):
    """Opens a main window on the library at ``tmp_path/library.sqlite`` (fake models)."""
    from PySide6.QtCore import QSettings

    from faceorganizer.gui.context import AppContext
    from faceorganizer.gui.main_window import MainWindow
    from faceorganizer.gui.thumbs import ThumbnailService
    from faceorganizer.store import Library
    from faceorganizer.thumbnails import ThumbnailCache

    opened = []

    def make(models=None):
        settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
        context = AppContext(Library(tmp_path / "library.sqlite"), settings,
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


def scan(qtbot, window, folder: Path) -> None:
    with qtbot.waitSignal(window.job_finished, timeout=120_000):
        assert window.start_scan([str(folder)])
