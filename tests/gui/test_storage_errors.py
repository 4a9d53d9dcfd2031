"""The window on a full disk: the message of the command line comes up, the window stays
usable, and the scan goes on once there is room again."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QMessageBox
from sqlalchemy import event

from tests.gui.conftest import scan

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
                                  "(database or disk is full). Nothing of the step that failed was "
                                  "written;")
    assert not window.progress.isVisible() and not window.runner.is_running()

    event.remove(library.engine, "connect", small)
    library.engine.dispose()
    scan(qtbot, window, photo_folder)
    assert len(messages) == 1
    summary = window.last_summary
    assert summary is not None and not summary.cancelled
    assert (summary.new, summary.failed) == (10, 1)  # nothing of the failed scan was kept
