"""The window on a library kept by a PostgreSQL server (issue 13): it scans, groups, names and
undoes there as on a file, and Settings takes a server's address."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from faceorganizer.people import operations
from faceorganizer.store.read import people_and_faces as list_people
from faceorganizer.store.states import PhotoStatus
from tests.fakes import fake_models
from tests.gui.conftest import scan
from tests.postgres import Server

pytestmark = pytest.mark.gui


@pytest.fixture
def server_window(qtbot, tmp_path: Path, postgres_server: Server):
    from PySide6.QtCore import QSettings

    from faceorganizer.gui.context import AppContext
    from faceorganizer.gui.main_window import MainWindow
    from faceorganizer.gui.thumbs import ThumbnailService
    from faceorganizer.store import Library
    from faceorganizer.thumbnails import ThumbnailCache

    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    address = postgres_server.new_database(vector=False)
    context = AppContext(Library(address), settings, models=lambda progress: fake_models(),
                         thumbnails=ThumbnailService(ThumbnailCache(tmp_path / "thumbs")))
    window = MainWindow(context, warm_up=False)
    qtbot.addWidget(window)
    window.show()
    yield window
    window.close()
    context.close()


def test_the_window_works_on_a_server_library(qtbot, server_window, photo_folder: Path) -> None:
    from faceorganizer.gui.settings_dialog import SettingsDialog

    window = server_window
    library = window.context.library
    assert library.name in window.windowTitle()
    scan(qtbot, window, photo_folder)
    with library.reader() as session:
        people = list_people(session)
    biggest = max(people, key=lambda p: len(p.faces))
    assert len(biggest.faces) == 5  # Ann: four photos and one with Bob
    assert window.context.decide("Name", operations.rename, biggest.id, "Ann")
    with library.reader() as session:
        assert "Ann" in {p.name for p in list_people(session)}
    assert window.context.step(forward=False)
    with library.reader() as session:
        assert "Ann" not in {p.name for p in list_people(session)}

    dialog = SettingsDialog(window.context, window)
    assert dialog.library.text() == library.name  # the address, which holds no password
    chosen = dialog.chosen()
    dialog.close()
    other = "postgresql://anna@nas.local/family"
    with qtbot.waitSignal(window.library_switch_requested, timeout=5000) as switched:
        window.apply_settings(replace(chosen, library=other))
    assert switched.args == [other]
    with qtbot.assertNotEmitted(window.library_switch_requested):
        window.apply_settings(replace(chosen, library=library.name))  # the same library: no switch


def test_the_window_asks_where_folders_from_another_computer_are(
        qtbot, tmp_path: Path, postgres_server: Server, photo_folder: Path, expect_message,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Laptop A scanned the share; the window on laptop B, where it is mounted elsewhere, says
    so and asks where it is; once located, its photos are at B's path and a rescan finds every
    one of them unchanged."""
    import shutil

    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QFileDialog

    from faceorganizer.gui.context import AppContext
    from faceorganizer.gui.main_window import MainWindow
    from faceorganizer.gui.thumbs import ThumbnailService
    from faceorganizer.scan.scanner import Scanner
    from faceorganizer.settings import ScanSettings
    from faceorganizer.store import Library, read
    from faceorganizer.thumbnails import ThumbnailCache

    address = postgres_server.new_database(vector=False)
    monkeypatch.setenv("FACEORGANIZER_MACHINE", "laptop-a")
    with Library(address) as library:
        list(Scanner(library, lambda: fake_models(), ScanSettings()).scan([photo_folder]))
    here = tmp_path / "mounted-elsewhere"
    shutil.copytree(photo_folder, here, copy_function=shutil.copy2)
    monkeypatch.setenv("FACEORGANIZER_MACHINE", "laptop-b")
    asked: list[str] = []

    def choose(parent, title, start):
        asked.append(title)
        return str(here)
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(choose))
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    context = AppContext(Library(address), settings,
                         models=lambda progress: fake_models(),
                         thumbnails=ThumbnailService(ThumbnailCache(tmp_path / "thumbs")))
    window = MainWindow(context, warm_up=False)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: bool(asked), timeout=5000)
    (box,) = expect_message.shown
    assert box.kind == "question" and str(photo_folder) in box.text and "offline" in box.text
    assert asked == [f"Where is {photo_folder} on this computer?"]
    assert window.unmapped_folders() == []
    with context.library.reader() as session:
        (folder,) = read.folders(session, shared=True)
        assert (folder.path, folder.online, folder.mapped) == (str(here), True, True)
    with qtbot.waitSignal(window.job_finished, timeout=60_000):
        window.rescan_all()
    with context.library.reader() as session:
        assert all(p.path.startswith(str(here)) for p in read.photos(session))
        assert read.status_counts(session).get(PhotoStatus.MISSING, 0) == 0
    window.close()
    context.close()


def test_a_folder_beside_unlocated_ones_is_added_only_when_the_user_says_it_is_new(
        qtbot, tmp_path: Path, postgres_server: Server, photo_folder: Path, expect_message,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QFileDialog, QMessageBox

    from faceorganizer.gui.context import AppContext
    from faceorganizer.gui.main_window import MainWindow
    from faceorganizer.gui.thumbs import ThumbnailService
    from faceorganizer.scan.scanner import Scanner
    from faceorganizer.settings import ScanSettings
    from faceorganizer.store import Library, read
    from faceorganizer.thumbnails import ThumbnailCache
    from tests.fakes import face_image

    address = postgres_server.new_database(vector=False)
    monkeypatch.setenv("FACEORGANIZER_MACHINE", "laptop-a")
    with Library(address) as library:
        list(Scanner(library, lambda: fake_models(), ScanSettings()).scan([photo_folder]))
    own = tmp_path / "b-pictures"
    face_image(own / "cat.jpg", [(40, 40, 50)])
    monkeypatch.setenv("FACEORGANIZER_MACHINE", "laptop-b")
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(lambda *args: str(own)))
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    context = AppContext(Library(address), settings, models=lambda progress: fake_models(),
                         thumbnails=ThumbnailService(ThumbnailCache(tmp_path / "thumbs")))
    monkeypatch.setattr(MainWindow, "ask_for_unmapped_folders", lambda self: None)  # not on opening here
    window = MainWindow(context, warm_up=False)
    qtbot.addWidget(window)
    expect_message.answer = QMessageBox.StandardButton.No
    window.open_folder()  # "No": it may be the other computer's folder
    assert [b.title for b in expect_message.shown] == ["A new folder?"]
    assert window.jobs.running() is None
    expect_message.answer = QMessageBox.StandardButton.Yes
    with qtbot.waitSignal(window.job_finished, timeout=60_000):
        window.open_folder()
    with context.library.reader() as session:
        files = sum(1 for path in photo_folder.rglob("*") if path.is_file())
        folders = [(f.mapped, f.photos) for f in read.folders(session, shared=True)]
    assert folders == [(True, 1), (False, files)]
    window.close()
    context.close()
