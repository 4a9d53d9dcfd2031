"""The window's background work: jobs wait their turn in a queue, the status bar says what
runs and how many wait, Cancel drops the waiting ones, and each job reports its result or
its error."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtWidgets import QMessageBox

from faceorganizer.store import read
from faceorganizer.store.read import people_and_faces
from tests.gui.conftest import scan

pytestmark = pytest.mark.gui


def weights_following_models(holder: list):
    """Fake "weights": the embedder follows what the library records, as the real one does."""
    from faceorganizer.models.base import Models
    from faceorganizer.reembed import recorded_weights
    from tests.fakes import FakeDetector, FakeEmbedder
    from tests.test_reembed import OtherEmbedder

    def models(progress):
        recorded = recorded_weights(holder[0].context.library)
        embedder = FakeEmbedder() if recorded is None or recorded.space.model_id == "fake-embedder" \
            else OtherEmbedder()
        if recorded is not None:
            embedder.space = recorded.space
        return Models(FakeDetector(), embedder)
    return models


def real_state_dict(path: Path) -> Path:
    """A weights file the app accepts (it reads what training wrote in it)."""
    import torch

    from faceorganizer.models.weights import load_state_dict, resolve

    torch.save({"state_dict": load_state_dict(resolve(None).path)}, path)
    return path


def test_new_weights_and_a_people_setting_in_one_dialog_regroup_after_the_re_embedding(
        qtbot, make_window, photo_folder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 9, item 8: the regrouping waited for nothing and met a "Busy" message box."""
    from faceorganizer.gui.settings_dialog import SettingsDialog
    from faceorganizer.models.weights import ResolvedWeights
    from faceorganizer.reembed import record, recorded_weights, stale_faces

    holder: list = []
    window = make_window(models=weights_following_models(holder))
    holder.append(window)
    library = window.context.library
    scan(qtbot, window, photo_folder)
    record(library, ResolvedWeights(Path("fake.pt"), "fake-embedder", builtin=False))
    weights = real_state_dict(tmp_path / "mine.pt")

    def choose(dialog: SettingsDialog) -> int:
        dialog._set_weights(str(weights))
        dialog.min_faces.setValue(3)  # Cat (2 faces) is no person any more
        return 1

    monkeypatch.setattr(SettingsDialog, "exec", choose)
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    ended: list[tuple[int, str | None, list[int]]] = []

    def job_ended() -> None:
        recorded = recorded_weights(library)
        with library.reader() as session:
            sizes = sorted((len(p.faces) for p in people_and_faces(session)), reverse=True)
        ended.append((stale_faces(library), recorded.path if recorded else None, sizes))

    window.job_finished.connect(job_ended)
    started: list[str] = []
    window.jobs.started.connect(started.append)
    with qtbot.waitSignal(window.jobs.idle, timeout=60_000):
        window.open_settings()
    assert started == ["Re-embedding the faces with the new weights...", "Grouping faces into people..."]
    # First the re-embedding (it regroups too, with the settings saved meanwhile), then the regrouping.
    assert ended == [(0, str(weights), [5, 3]), (0, str(weights), [5, 3])]
    assert window.context.people_settings().min_faces == 3


def gated_window(make_window, gated=lambda image: True):
    """A window whose fake detector holds photos until ``window.gate.release`` is set."""
    from faceorganizer.models.base import Models
    from tests.fakes import FakeEmbedder
    from tests.gui.conftest import GatedDetector

    detector = GatedDetector(gated)
    models = Models(detector, FakeEmbedder())
    window = make_window(models=lambda progress: models)
    window.gate = detector
    return window


def recorded(window) -> dict[str, list]:
    """What the job controller says, in order."""
    said: dict[str, list] = {"started": [], "finished": [], "idle": []}
    window.jobs.started.connect(said["started"].append)
    window.job_finished.connect(lambda: said["finished"].append(True))
    window.jobs.idle.connect(lambda: said["idle"].append(len(said["finished"])))
    return said


def test_a_job_submitted_while_another_runs_waits_its_turn(qtbot, make_window, photo_folder) -> None:
    window = gated_window(make_window)
    said = recorded(window)
    status = window.status
    window.start_scan([str(photo_folder)])
    assert window.gate.waiting.wait(30)
    window.regroup()
    window.rescan_all()
    assert said["started"] == [f"Scanning {photo_folder.name}..."]
    assert status.progress.isVisible() and status.cancel_button.isVisible()
    assert status.waiting.isVisible() and status.waiting.text() == "2 waiting"
    assert status.waiting.toolTip() == f"Then: Grouping faces into people...; Scanning {photo_folder.name}..."
    with qtbot.waitSignal(window.jobs.idle, timeout=60_000):
        window.gate.release.set()
    assert said == {"started": [f"Scanning {photo_folder.name}...", "Grouping faces into people...",
                                f"Scanning {photo_folder.name}..."],
                    "finished": [True] * 3, "idle": [3]}
    assert not status.progress.isVisible() and not status.waiting.isVisible()
    assert not status.cancel_button.isVisible()
    assert window.last_summary is not None and window.last_summary.unchanged == 10  # the second scan
    assert "Scan finished: 0 new" in status.currentMessage()


def test_cancel_stops_the_running_job_and_drops_the_waiting_ones(qtbot, make_window, photo_folder) -> None:
    from PySide6.QtCore import Qt

    window = gated_window(make_window)
    said = recorded(window)
    status = window.status
    window.start_scan([str(photo_folder)])
    assert window.gate.waiting.wait(30)
    window.regroup()
    window.rescan_all()
    qtbot.mouseClick(status.cancel_button, Qt.MouseButton.LeftButton)
    assert status.progress_text.text() == "Cancelling: saving what is done... (2 waiting jobs dropped)"
    assert not status.waiting.isVisible() and not status.cancel_button.isEnabled()
    with qtbot.waitSignal(window.jobs.idle, timeout=60_000):
        window.gate.release.set()
    assert said["finished"] == [True] and said["idle"] == [1]
    assert window.last_summary is not None and window.last_summary.cancelled
    assert status.currentMessage().startswith("Scan cancelled:")
    assert status.currentMessage().endswith("; 2 waiting jobs dropped")
    scan(qtbot, window, photo_folder)  # the queue takes jobs again
    assert not window.last_summary.cancelled


def test_each_job_reports_its_error_and_the_next_one_runs(
        qtbot, make_window, photo_folder, expect_message) -> None:
    import threading

    from faceorganizer.models.weights import WeightsError

    opened = threading.Event()

    def broken(progress):
        assert opened.wait(30)
        raise WeightsError("The FaceNet weights could not be had. To fix it: ...")

    window = make_window(models=broken)
    said = recorded(window)
    window.start_scan([str(photo_folder)])
    window.regroup()
    assert window.status.waiting.text() == "1 waiting"
    with qtbot.waitSignal(window.jobs.idle, timeout=60_000):
        opened.set()
    assert expect_message.texts("warning") == ["The FaceNet weights could not be had. To fix it: ..."]
    assert said["finished"] == [True, True]
    assert window.status.currentMessage().startswith("Faces grouped: ")
    assert not window.status.progress.isVisible()


def test_closing_the_window_cancels_the_running_job_and_waits_for_it(
        qtbot, make_window, photo_folder) -> None:
    import time

    from tests.fakes import fake_models

    window = make_window(models=lambda progress: fake_models(delay=0.2))
    window.start_scan([str(photo_folder)])
    window.regroup()
    qtbot.waitUntil(lambda: window.status.progress.value() >= 1, timeout=30_000)
    began = time.monotonic()
    window.close()
    assert time.monotonic() - began < 20  # the thread ends at once, not when a wait times out
    assert window.jobs.queue().waiting == ()
    with window.context.library.reader() as session:
        assert len(read.photos(session)) < 10  # the scan stopped


def test_retry_failed_files_reads_a_failed_unchanged_file_again(
        qtbot, make_window, photo_folder, tmp_path: Path) -> None:
    import os

    from faceorganizer.store.states import PhotoStatus
    from tests.fakes import face_image

    good = face_image(tmp_path / "good.jpg", [(100, 100, 60)]).read_bytes()
    broken = photo_folder / "fixed-later.jpg"
    broken.write_bytes(b"XX" + good[2:])  # not a JPEG any more, the same size
    window = make_window()
    scan(qtbot, window, photo_folder)
    assert status_of(window, broken) == PhotoStatus.FAILED
    stat = broken.stat()
    broken.write_bytes(good)  # repaired: same size, and the modification time put back
    os.utime(broken, ns=(stat.st_atime_ns, stat.st_mtime_ns))

    scan(qtbot, window, photo_folder)  # unchanged since it failed: not read again
    assert status_of(window, broken) == PhotoStatus.FAILED
    assert window.last_summary is not None and window.last_summary.still_failed == 2
    with qtbot.waitSignal(window.job_finished, timeout=60_000):
        window.commands.retry_failed.trigger()
    assert status_of(window, broken) == PhotoStatus.OK
    assert window.last_summary.failed == 1 and window.last_summary.still_failed == 0  # broken.jpg

    # The Photos page's button does the same for its folder.
    window.sidebar.setCurrentRow(1)
    page = window.photos
    assert page.retry.isEnabled()  # broken.jpg is still there
    with qtbot.waitSignal(window.job_finished, timeout=60_000):
        page.retry.click()
    assert window.last_summary.roots == (str(photo_folder),)
    assert window.last_summary.failed == 1 and window.last_summary.still_failed == 0


def status_of(window, path: Path) -> str:
    with window.context.library.reader() as session:
        return next(p.status for p in read.photos(session) if p.path == str(path))


def test_a_waiting_job_groups_with_the_settings_of_when_it_runs(qtbot, make_window, photo_folder) -> None:
    """Jobs queue now, so one that waits must read the people settings when it runs, not when it
    was queued: a setting changed meanwhile (and its own regrouping) must not be undone."""
    from faceorganizer.people.settings import save_settings

    window = gated_window(make_window)
    window.start_scan([str(photo_folder)])
    assert window.gate.waiting.wait(30)
    window.regroup()  # queued behind the scan
    save_settings(window.context.library, window.context.people_settings().with_overrides(min_faces=3))
    with qtbot.waitSignal(window.jobs.idle, timeout=60_000):
        window.gate.release.set()
    with window.context.library.reader() as session:
        sizes = sorted(len(p.faces) for p in people_and_faces(session))
    assert sizes == [3, 5]  # Cat's 2 faces are no person with min_faces 3
