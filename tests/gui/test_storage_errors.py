"""The window on a full disk: the message of the command line comes up, the window stays
usable, and the scan goes on once there is room again."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox
from sqlalchemy import event

from faceorganizer.store import read
from tests.gui.conftest import locked, scan

pytestmark = pytest.mark.gui


def test_a_full_disk_during_a_scan_is_reported_and_the_window_stays_usable(
        qtbot, make_window, photo_folder, monkeypatch: pytest.MonkeyPatch) -> None:
    messages: list[str] = []
    monkeypatch.setattr(QMessageBox, "warning", lambda parent, title, text, *a: messages.append(text))
    window = make_window()
    library = window.context.library

    def small(dbapi_connection, _record) -> None:
        pages = dbapi_connection.execute("PRAGMA page_count").fetchone()[0]
        dbapi_connection.execute(f"PRAGMA max_page_count = {pages + 2}")

    library.engine.dispose()
    event.listen(library.engine, "connect", small)
    scan(qtbot, window, photo_folder)
    assert len(messages) == 1
    assert messages[0].startswith(f"The library {library.path} could not be written: the disk is full "
                                  "(database or disk is full). ")
    assert "Free some space on the disk" in messages[0]
    assert not window.status.progress.isVisible() and not window.jobs.busy()

    event.remove(library.engine, "connect", small)
    library.engine.dispose()
    scan(qtbot, window, photo_folder)
    assert len(messages) == 1
    summary = window.last_summary
    assert summary is not None and not summary.cancelled
    assert (summary.new, summary.failed) == (10, 1)  # nothing of the failed scan was kept


# ---- writes on the GUI thread: decisions, undo and redo, folder removal, settings ---------

def ann_page(qtbot, window, photo_folder):
    """The window after a scan, on the page of the person with the most faces."""
    scan(qtbot, window, photo_folder)
    with window.context.library.reader() as session:
        ann = max(read.people(session), key=lambda p: p.faces)
    window.open_person(ann.id)
    return ann.id


def name_of(window, person_id: int) -> str | None:
    with window.context.library.reader() as session:
        found = read.person(session, person_id)
    return found.name if found else None


def type_name(qtbot, window, name: str) -> None:
    page = window.person
    page.name.setFocus()
    page.name.selectAll()
    qtbot.keyClicks(page.name, name)
    qtbot.keyClick(page.name, Qt.Key.Key_Return)


def test_a_decision_on_a_locked_library_is_reported_and_not_pushed_on_the_undo_stack(
        qtbot, make_window, photo_folder, expect_message) -> None:
    window = make_window(lock_timeout=0.2)
    ann = ann_page(qtbot, window, photo_folder)
    stack = window.context.undo
    with locked(window.context.library.path):
        type_name(qtbot, window, "Ann")
    assert len(expect_message.shown) == 1
    assert expect_message.shown[0].kind == "warning"
    assert "is locked by another program: waited 0.2 s for it" in expect_message.texts()[0]
    assert name_of(window, ann) is None
    assert stack.count() == 0 and not window.commands.undo.isEnabled()
    type_name(qtbot, window, "Ann")  # the window is still usable
    assert name_of(window, ann) == "Ann" and stack.count() == 1
    assert len(expect_message.shown) == 1


def test_undo_and_redo_on_a_locked_library_leave_the_command_where_it_was(
        qtbot, make_window, photo_folder, expect_message) -> None:
    window = make_window(lock_timeout=0.2)
    ann = ann_page(qtbot, window, photo_folder)
    stack = window.context.undo
    type_name(qtbot, window, "Ann")
    assert stack.index() == 1
    with locked(window.context.library.path):
        window.commands.undo.trigger()
    assert len(expect_message.shown) == 1 and "is locked" in expect_message.texts()[0]
    assert stack.index() == 1 and window.commands.undo.isEnabled() and not window.commands.redo.isEnabled()
    assert name_of(window, ann) == "Ann"
    window.commands.undo.trigger()
    assert stack.index() == 0 and name_of(window, ann) is None
    with locked(window.context.library.path):
        window.commands.redo.trigger()
    assert len(expect_message.shown) == 2
    assert stack.index() == 0 and window.commands.redo.isEnabled() and name_of(window, ann) is None
    window.commands.redo.trigger()
    assert stack.index() == 1 and name_of(window, ann) == "Ann"
    window.commands.undo.trigger()  # the command itself still works both ways
    assert stack.index() == 0 and name_of(window, ann) is None


def test_removing_a_folder_of_a_locked_library_is_reported_and_keeps_it(
        qtbot, make_window, photo_folder, expect_message) -> None:
    window = make_window(lock_timeout=0.2)
    scan(qtbot, window, photo_folder)
    window.sidebar.setCurrentRow(1)
    with locked(window.context.library.path):
        qtbot.mouseClick(window.photos.remove, Qt.MouseButton.LeftButton)  # asks (answered Yes), fails
    assert [box.title for box in expect_message.shown] == ["Remove folder", "faceorganizer"]
    assert "is locked" in expect_message.texts()[1]
    assert window.photos.tree.topLevelItemCount() == 1
    qtbot.mouseClick(window.photos.remove, Qt.MouseButton.LeftButton)
    assert window.photos.tree.topLevelItemCount() == 0


def test_saving_settings_in_a_locked_library_is_reported_and_regroups_nothing(
        qtbot, make_window, photo_folder, expect_message, monkeypatch: pytest.MonkeyPatch) -> None:
    from faceorganizer.gui.settings_dialog import SettingsDialog

    window = make_window(lock_timeout=0.2)
    scan(qtbot, window, photo_folder)

    def choose(dialog: SettingsDialog) -> int:
        dialog.min_faces.setValue(3)
        return 1

    monkeypatch.setattr(SettingsDialog, "exec", choose)
    with locked(window.context.library.path):
        window.open_settings()
    assert len(expect_message.shown) == 1 and "is locked" in expect_message.texts()[0]
    assert window.context.people_settings().min_faces != 3
    assert not window.jobs.busy()  # no regrouping was started nor queued
