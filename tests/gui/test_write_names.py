"""Names written into the photos' files from the window: File > Write Names to Files (the
dialog, its progress and its report), the setting that rewrites the sidecars after every
naming decision, and what a later scan finds in them."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from faceorganizer.people import operations as ops
from faceorganizer.store import read
from tests.gui.conftest import scan

pytestmark = pytest.mark.gui


def people(window) -> list:
    with window.context.library.reader() as session:
        return sorted(read.people(session), key=lambda p: -p.faces)


def sidecars(folder: Path) -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted(folder.rglob("*.xmp"))}


@pytest.fixture
def window(qtbot, make_window, photo_folder: Path):
    made = make_window()
    scan(qtbot, made, photo_folder)
    return made


def name_ann(window) -> int:
    """Ann's person named "Ann" (5 faces, in ann0-3.jpg and trip/ann-and-bob.jpg)."""
    ann = people(window)[0]
    assert ann.faces == 5
    assert window.context.decide("Name Ann", ops.rename, ann.id, "Ann")
    return ann.id


def write_all(qtbot, window, *, embed: bool = False):
    window.commands.write_names.trigger()
    dialog = window.write_dialog
    assert dialog is not None and dialog.isVisible()
    assert dialog.pages.currentIndex() == dialog.CONFIRM
    assert not dialog.embed.isChecked()  # into the photos only when asked
    if embed:
        dialog.embed.setChecked(True)
    with qtbot.waitSignal(window.job_finished, timeout=30_000):
        qtbot.mouseClick(dialog.write_button, Qt.MouseButton.LeftButton)
    assert dialog.pages.currentIndex() == dialog.DONE and dialog.finished_with is not None
    return dialog


def test_write_names_to_files_writes_sidecars_and_reports_the_counts(qtbot, window, photo_folder) -> None:
    name_ann(window)
    assert sidecars(photo_folder) == {}  # nothing is written behind the user's back (setting off)
    dialog = write_all(qtbot, window)
    written = sidecars(photo_folder)
    assert sorted(written) == ["ann-and-bob.jpg.xmp", "ann0.jpg.xmp", "ann1.jpg.xmp", "ann2.jpg.xmp",
                               "ann3.jpg.xmp"]
    assert all("Ann" in text for text in written.values())
    assert (photo_folder / "ann0.jpg.xmp").exists()
    assert dialog.outcome.text() == "Names written to 5 files, 0 unchanged, 0 failed."
    assert not dialog.details.isVisible()
    assert window.status.last_write is dialog.finished_with
    # again: nothing changes; one sidecar edited elsewhere since the scan is left alone, and said
    edited = photo_folder / "ann1.jpg.xmp"
    edited.write_text(edited.read_text() + "\n")
    dialog = write_all(qtbot, window)
    assert dialog.outcome.text() == "Names written to 0 files, 4 unchanged, 1 failed."
    assert dialog.details.isVisible()
    assert str(edited.with_suffix("")) in dialog.details.toPlainText()
    assert "changed since the last scan" in dialog.details.toPlainText()


def test_writing_into_the_photos_themselves(qtbot, window, photo_folder) -> None:
    name_ann(window)
    before = (photo_folder / "ann0.jpg").read_bytes()
    dialog = write_all(qtbot, window, embed=True)
    assert dialog.outcome.text() == "Names written to 5 files, 0 unchanged, 0 failed."
    assert sidecars(photo_folder) == {}
    after = (photo_folder / "ann0.jpg").read_bytes()
    assert after != before and b"Ann" in after


def test_cancel_before_it_starts_writes_nothing(qtbot, window, photo_folder) -> None:
    from faceorganizer.gui.jobs import Job

    name_ann(window)
    release = threading.Event()

    def hold(cancel: threading.Event):
        assert release.wait(30)
        yield "held"

    window.jobs.submit(Job("Holding the queue...", hold))  # runs first: the writing waits for it
    window.commands.write_names.trigger()
    dialog = window.write_dialog
    qtbot.mouseClick(dialog.write_button, Qt.MouseButton.LeftButton)
    assert dialog.pages.currentIndex() == dialog.WRITING
    assert dialog.progress_text.text() == "Waiting for this to end: Holding the queue..."
    qtbot.mouseClick(dialog.cancel_button, Qt.MouseButton.LeftButton)
    assert dialog.outcome.text() == "Cancelled: nothing was written."
    assert window.jobs.queue().waiting == ()  # withdrawn; the running job goes on
    with qtbot.waitSignal(window.jobs.idle, timeout=30_000):
        release.set()
    assert sidecars(photo_folder) == {}


def test_the_setting_writes_the_sidecars_a_naming_decision_concerns(qtbot, window, photo_folder,
                                                                   monkeypatch) -> None:
    from faceorganizer.gui.settings_dialog import SettingsDialog

    # off (the default): a decision writes nothing
    assert not window.context.write_names_after_decisions
    ann = name_ann(window)
    qtbot.wait(200)
    assert not window.jobs.busy() and sidecars(photo_folder) == {}
    # turned on in the Settings dialog
    def accept(dialog) -> int:
        assert not dialog.write_names.isChecked()
        dialog.write_names.setChecked(True)
        return 1

    monkeypatch.setattr(SettingsDialog, "exec", accept)
    window.open_settings()
    assert window.context.write_names_after_decisions
    # renaming Ann rewrites her photos' sidecars, and only those
    with qtbot.waitSignal(window.job_finished, timeout=30_000):
        assert window.context.decide("Name Ann", ops.rename, ann, "Ann Lee")
    written = sidecars(photo_folder)
    assert sorted(written) == ["ann-and-bob.jpg.xmp", "ann0.jpg.xmp", "ann1.jpg.xmp", "ann2.jpg.xmp",
                               "ann3.jpg.xmp"]
    assert all("Ann Lee" in text for text in written.values())
    last = window.status.last_write
    assert last is not None and last.automatic and last.report is not None
    assert (last.report.written, last.report.unchanged, last.report.failed) == (5, 0, [])
    # moving a face of Bob's into Ann: that one photo is written
    bob = people(window)[1]
    with window.context.library.reader() as session:
        bob_face = next(f for f in read.person_faces(session, bob.id) if f.photo.endswith("bob0.jpg"))
    with qtbot.waitSignal(window.job_finished, timeout=30_000):
        assert window.context.decide("Move", ops.move, [bob_face.id], ann)
    assert "Ann Lee" in sidecars(photo_folder)["bob0.jpg.xmp"]
    last = window.status.last_write
    assert last.report is not None and (last.report.written, last.report.unchanged) == (1, 0)
    # Undo is a decision too: the name leaves the sidecar again
    with qtbot.waitSignal(window.job_finished, timeout=30_000):
        assert window.context.step(forward=False)
    assert "Ann Lee" not in sidecars(photo_folder)["bob0.jpg.xmp"]


def test_a_failed_automatic_writing_is_said_in_the_status_bar_not_in_a_box(qtbot, window,
                                                                         photo_folder) -> None:
    ann = name_ann(window)
    window.context.settings.setValue("write_names_after_decisions", True)
    with qtbot.waitSignal(window.job_finished, timeout=30_000):
        assert window.context.decide("Name Ann", ops.rename, ann, "Ann Lee")
    edited = photo_folder / "ann2.jpg.xmp"
    edited.write_text(edited.read_text() + "\n")
    with qtbot.waitSignal(window.job_finished, timeout=30_000):
        assert window.context.decide("Name Ann", ops.rename, ann, "Annie")
    message = window.status.currentMessage()
    assert message.startswith("Names could not be written to 1 file: ")
    assert str(photo_folder / "ann2.jpg") in message  # (no message box: the fixture fails on one)


def test_a_scan_shows_the_names_in_files_the_library_decided_otherwise(qtbot, window, photo_folder) -> None:
    from faceorganizer.gui.dialogs import ScanNotesDialog

    name_ann(window)
    write_all(qtbot, window)
    assert not window.status.notes_button.isVisible()
    sidecar = photo_folder / "ann0.jpg.xmp"
    sidecar.write_text(sidecar.read_text().replace("Ann", "Zoe"))
    scan(qtbot, window, photo_folder)
    summary = window.last_summary
    assert summary is not None and [(c.file_name, c.library_name) for c in summary.tag_conflicts] == [
        ("Zoe", "Ann")]
    assert window.status.notes_button.isVisible() and window.status.notes_button.text() == "1 name conflict"
    dialog = ScanNotesDialog(list(summary.tag_conflicts), list(summary.warnings), window)
    row = [dialog.conflicts.item(0, c).text() for c in range(4)]
    assert row[0].endswith("ann0.jpg") and row[2:] == ["Zoe", "Ann"]
    dialog.deleteLater()


def test_the_dialog_shows_the_progress_and_cancel_stops_the_writing(qtbot, window, photo_folder,
                                                                    monkeypatch) -> None:
    import faceorganizer.tagwriter as tagwriter

    asked: list[threading.Event] = []

    def slow(library, paths=None, *, embed=False, photo_ids=None, progress=None, cancel=None):
        assert progress is not None and cancel is not None and paths is None and photo_ids is None
        asked.append(cancel)
        progress(1, 3)
        assert cancel.wait(30)  # until Cancel
        return tagwriter.WriteReport(written=1)

    monkeypatch.setattr(tagwriter, "write_tags", slow)
    window.commands.write_names.trigger()
    dialog = window.write_dialog
    qtbot.mouseClick(dialog.write_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.progress.maximum() == 3 and dialog.progress.value() == 1, timeout=30_000)
    assert dialog.progress_text.text() == "Writing names: 1 of 3 photos"
    with qtbot.waitSignal(window.job_finished, timeout=30_000):
        qtbot.mouseClick(dialog.cancel_button, Qt.MouseButton.LeftButton)
    assert asked and asked[0].is_set()
    assert dialog.outcome.text() == "Cancelled. Names written to 1 file, 0 unchanged, 0 failed."
