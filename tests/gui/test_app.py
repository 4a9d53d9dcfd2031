"""The desktop app driven as a user would: scan, review, name, merge, reject, hide, search,
undo, restart. Offscreen, with fake models (the real ones in one test)."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from faceorganizer.people import operations as ops
from faceorganizer.store.read import people_and_faces as list_people
from faceorganizer.store.states import PersonState
from tests.fakes import fake_models
from tests.gui.conftest import scan

pytestmark = pytest.mark.gui


def people_by_size(window) -> list:
    window.people.reload()  # hidden pages reload when shown; read the library now
    model = window.people.model
    return sorted((model.person(r) for r in range(model.rowCount())), key=lambda p: -p.faces)


def test_opening_a_folder_scans_it_and_shows_its_people(qtbot, make_window, photo_folder) -> None:
    window = make_window()
    assert window.people.empty.isVisible()
    scan(qtbot, window, photo_folder)
    people = people_by_size(window)
    assert [p.faces for p in people] == [5, 3, 2]
    assert all(p.name is None for p in people)
    assert window.people.model.unsorted == 1  # the stranger
    assert window.people.unsorted.text() == "Unsorted faces (1)"
    assert window.status.failures_button.isVisible() and "1 files" in window.status.failures_button.text()
    assert not window.status.progress.isVisible()
    assert window.last_summary is not None and window.last_summary.new == 10


def test_rename_confirm_reject_move_hide_and_merge(qtbot, make_window, photo_folder,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    window = make_window()
    scan(qtbot, window, photo_folder)
    ann, bob, cat = people_by_size(window)
    window.open_person(ann.id)
    page = window.person
    assert page.model.rowCount() == 5
    # Rename in place.
    page.name.setFocus()
    page.name.selectAll()
    qtbot.keyClicks(page.name, "Ann")
    qtbot.keyClick(page.name, Qt.Key.Key_Return)
    assert {p.id: p.name for p in people_by_size(window)}[ann.id] == "Ann"
    assert {page.model.face(r).state for r in range(page.model.rowCount())} == {"confirmed"}
    # "Not this person" on one face, by the Delete key.
    page.grid.setFocus()
    page.grid.setCurrentIndex(page.model.index(0))
    rejected = page.model.face(0).id
    qtbot.keyClick(page.grid, Qt.Key.Key_Delete)
    assert page.model.rowCount() == 4
    assert rejected not in {page.model.face(r).id for r in range(page.model.rowCount())}
    # Hide Bob, find him under "Hidden".
    window.open_person(bob.id)
    qtbot.mouseClick(page.hide_button, Qt.MouseButton.LeftButton)
    assert page.summary.text().endswith("(hidden)")
    assert bob.id not in {p.id for p in people_by_size(window)}
    window.people.filter.setCurrentIndex(window.people.filter.findData(PersonState.HIDDEN))
    assert [p.id for p in people_by_size(window)] == [bob.id]
    window.people.filter.setCurrentIndex(0)
    # Merge Cat into Ann, as a drop of one tile onto another would.
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    window.people.merge(cat.id, ann.id)
    remaining = {p.id: p for p in people_by_size(window)}
    assert cat.id not in remaining and remaining[ann.id].faces == 6
    # Undo the merge, then redo it.
    window.commands.undo.trigger()
    assert {p.id for p in people_by_size(window)} >= {ann.id, cat.id}
    window.commands.redo.trigger()
    assert cat.id not in {p.id for p in people_by_size(window)}


def test_undo_brings_a_rejected_face_back(qtbot, make_window, photo_folder) -> None:
    window = make_window()
    scan(qtbot, window, photo_folder)
    ann = people_by_size(window)[0]
    window.open_person(ann.id)
    page = window.person
    page.grid.setCurrentIndex(page.model.index(2))
    qtbot.mouseClick(page.reject, Qt.MouseButton.LeftButton)
    assert page.model.rowCount() == 4
    assert window.commands.undo.isEnabled() and "Not this person" in window.commands.undo.text()
    window.commands.undo.trigger()
    assert page.model.rowCount() == 5


def test_search_by_a_face_ranks_that_persons_photos_first(qtbot, make_window, photo_folder) -> None:
    window = make_window()
    scan(qtbot, window, photo_folder)
    bob = people_by_size(window)[1]
    window.open_person(bob.id)
    face = window.person.model.face(0).id
    with qtbot.waitSignal(window.search.search_finished, timeout=30_000):
        window.person.search_requested.emit(face)
    assert window.stack.currentWidget() is window.search
    proxy = window.search.proxy
    first = [proxy.data(proxy.index(r, 0)) for r in range(3)]
    assert sorted(first) == ["ann-and-bob.jpg", "bob0.jpg", "bob1.jpg"]
    # The threshold slider filters live.
    window.search.slider.setValue(window.search.slider.minimum())
    assert proxy.rowCount() <= 3


def test_the_viewer_draws_the_faces_of_a_photo(qtbot, make_window, photo_folder) -> None:
    from faceorganizer.gui.viewer import _FaceBox

    window = make_window()
    scan(qtbot, window, photo_folder)
    window.sidebar.setCurrentRow(1)
    photos = window.photos
    row = next(r for r in range(photos.model.rowCount())
               if photos.model.item(r).photo.path.endswith("ann-and-bob.jpg"))
    photos.grid.activated.emit(photos.model.index(row))
    assert window.stack.currentWidget() is window.viewer
    qtbot.waitUntil(lambda: any(isinstance(i, _FaceBox) for i in window.viewer.scene.items()),
                    timeout=10_000)
    boxes = [i for i in window.viewer.scene.items() if isinstance(i, _FaceBox)]
    assert len(boxes) == 2
    assert sorted(round(b.rect().x()) for b in boxes) == [20, 200]


def test_everything_survives_a_restart(qtbot, make_window, photo_folder) -> None:
    window = make_window()
    scan(qtbot, window, photo_folder)
    ann, bob, _ = people_by_size(window)
    window.context.decide("name", ops.rename, ann.id, "Ann")
    window.person.show_person(bob.id)
    window.person.toggle_hidden()
    with window.context.library.reader() as session:
        before = {p.id: (p.name, p.hidden, sorted(f.id for f in p.faces)) for p in list_people(session)}
    window.close()
    window.context.close()

    again = make_window()
    with again.context.library.reader() as session:
        after = {p.id: (p.name, p.hidden, sorted(f.id for f in p.faces)) for p in list_people(session)}
    assert after == before
    assert "Ann" in [p.name for p in people_by_size(again)]
    # A rescan of the unchanged folder changes nothing.
    scan(qtbot, again, photo_folder)
    assert again.last_summary is not None and again.last_summary.unchanged == 10
    with again.context.library.reader() as session:
        assert {p.id: (p.name, p.hidden, sorted(f.id for f in p.faces))
                for p in list_people(session)} == before


def test_a_failing_job_is_reported_and_the_app_stays_usable(qtbot, make_window, photo_folder,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from faceorganizer.models.weights import WeightsError

    messages: list[str] = []
    monkeypatch.setattr(QMessageBox, "warning", lambda parent, title, text, *a: messages.append(text))

    def broken(progress):
        raise WeightsError("The FaceNet weights could not be had. To fix it: ...")

    window = make_window(models=broken)
    scan(qtbot, window, photo_folder)
    assert messages and "weights could not be had" in messages[0]
    assert not window.status.progress.isVisible()
    window.context.models.reset(lambda progress: fake_models())
    scan(qtbot, window, photo_folder)
    assert len(people_by_size(window)) == 3


def test_cancelling_a_scan_keeps_what_was_done(qtbot, make_window, photo_folder) -> None:
    from tests.fakes import fake_models

    window = make_window(models=lambda progress: fake_models(delay=0.3))
    with qtbot.waitSignal(window.job_finished, timeout=60_000):
        window.start_scan([str(photo_folder)])
        qtbot.waitUntil(lambda: window.status.progress.maximum() > 0 and window.status.progress.value() >= 2,
                        timeout=30_000)
        qtbot.mouseClick(window.status.cancel_button, Qt.MouseButton.LeftButton)
    summary = window.last_summary
    assert summary is not None and summary.cancelled
    assert 2 <= summary.new < 10


def test_removing_a_folder_forgets_its_photos(qtbot, make_window, photo_folder,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    window = make_window()
    scan(qtbot, window, photo_folder)
    window.sidebar.setCurrentRow(1)
    assert window.photos.tree.topLevelItemCount() == 1
    monkeypatch.setattr(QMessageBox, "warning", lambda *a, **k: QMessageBox.StandardButton.Yes)
    qtbot.mouseClick(window.photos.remove, Qt.MouseButton.LeftButton)
    assert window.photos.tree.topLevelItemCount() == 0
    assert people_by_size(window) == []
    assert Path(photo_folder / "ann0.jpg").exists()  # the files stay


@pytest.mark.slow
def test_real_models_end_to_end(qtbot, make_window, tmp_path: Path, data_dir: Path, real_models) -> None:
    import shutil

    folder = tmp_path / "album"
    folder.mkdir()
    for name in ["img1.jpg", "img2.jpg", "img4.jpg", "img18.jpg", "img19.jpg", "couple.jpg"]:
        shutil.copy(data_dir / "album" / name, folder / name)
    window = make_window(models=lambda progress: real_models)
    scan(qtbot, window, folder)
    sizes = sorted(p.faces for p in people_by_size(window))
    assert sizes == [2, 4]  # Angelina (3 portraits and the couple), Elon (2)
    assert window.people.model.unsorted == 1  # Brad Pitt, once


def test_switching_weights_re_embeds_in_the_background_and_keeps_names(
        qtbot, make_window, photo_folder, tmp_path: Path, monkeypatch) -> None:
    from faceorganizer.gui.settings_dialog import SettingsDialog
    from faceorganizer.models.weights import ResolvedWeights
    from faceorganizer.reembed import record, recorded_weights, stale_faces
    from tests.gui.test_jobs import weights_following_models

    holder: list = []
    window = make_window(models=weights_following_models(holder))
    holder.append(window)
    library = window.context.library
    scan(qtbot, window, photo_folder)
    record(library, ResolvedWeights(Path("fake.pt"), "fake-embedder", builtin=False))
    with library.reader() as session:
        biggest = max(list_people(session), key=lambda p: len(p.faces))
    ops.rename(library, biggest.id, "Ann")

    import torch

    from faceorganizer.models.weights import load_state_dict, resolve

    weights = tmp_path / "mine.pt"  # a real state dict: the app reads what training wrote in it
    torch.save({"state_dict": load_state_dict(resolve(None).path)}, weights)
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    with qtbot.waitSignal(window.job_finished, timeout=60_000):
        assert window.switch_weights(str(weights))
    assert recorded_weights(library).path == str(weights)
    assert stale_faces(library) == 0
    assert "re-embedded" in window.statusBar().currentMessage()
    with library.reader() as session:
        assert {p.name for p in list_people(session) if p.id == biggest.id} == {"Ann"}
    dialog = SettingsDialog(window.context, window)
    assert dialog.weights_label.text() == str(weights) and dialog.chosen().weights == str(weights)
    dialog.close()
